"""``--workers N``: every worker process serves, watches and reloads on its own."""

from __future__ import annotations

from pathlib import Path

import httpx
from conftest import GatewayProcess, wait_for

APP = 'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"{}"]\n'


def all_answer(gw: GatewayProcess, path: str, text: str, times: int = 30) -> bool:
    """True once ``times`` requests in a row all answer ``text``: each on a new connection,
    which the kernel hands to either worker (one keep-alive connection stays on one)."""
    return all(
        httpx.get(gw.base_url + path, headers={"Connection": "close"}).text == text
        for _ in range(times)
    )


def workers_ready(gw: GatewayProcess) -> int:
    return gw.log().count("gateway.app: ready:")


def test_two_workers_converge_on_each_change(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    gw = GatewayProcess(tmp_path, plugins, ["--workers", "2"], {"GATEWAY_PLUGINS_SETTLE_MS": "100"})
    try:
        gw.wait_ready()
        wait_for(lambda: workers_ready(gw) == 2, timeout=60)
        staging = plugins / ".multi.tmp"
        staging.mkdir()
        (staging / "app.py").write_text(APP.format("v1"))
        staging.rename(plugins / "multi")
        wait_for(lambda: all_answer(gw, "/multi/", "v1"))
        (plugins / "multi" / "app.py").write_text(APP.format("v2"))
        wait_for(lambda: all_answer(gw, "/multi/", "v2"))
        # each worker loaded each version itself
        assert gw.log().count("plugin multi: loaded generation 2") == 2, gw.log()
    finally:
        assert gw.stop() == 0, gw.log()


def test_wsgi_multiprocess_is_true_only_with_several_workers(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    staging = plugins / "env"
    staging.mkdir()
    (staging / "app.py").write_text(
        "import json\n\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'application/json')])\n"
        "    keys = ('wsgi.multiprocess', 'wsgi.multithread', 'SERVER_SOFTWARE')\n"
        "    return [json.dumps({k: environ[k] for k in keys}).encode()]\n"
    )
    for workers, multiprocess in ((1, False), (2, True)):
        gw = GatewayProcess(tmp_path, plugins, ["--workers", str(workers)], {})
        try:
            gw.wait_ready()
            facts = gw.client.get("/env/").json()
            assert facts["wsgi.multiprocess"] is multiprocess
            assert facts["wsgi.multithread"] is True
            assert facts["SERVER_SOFTWARE"].startswith("plugin-gateway/")
        finally:
            assert gw.stop() == 0, gw.log()
