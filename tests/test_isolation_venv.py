"""``venv: true``: a virtualenv per plugin from its requirements.txt, built with uv, cached
by the file's hash; two plugins import different versions of one package; a failed build
fails the start with uv's own reason."""

from __future__ import annotations

from pathlib import Path

from isolation_support import start_host


def test_two_plugins_use_their_own_version_of_one_package(tmp_path: Path) -> None:
    plugins = {
        "iso-six-a": {"venv": True},
        "iso-six-b": {"venv": True},
        "iso-venv-bad": {"venv": True},
    }
    host = start_host(tmp_path / "one", plugins)
    try:
        a = host.client.get("/iso-six-a/version").json()
        b = host.client.get("/iso-six-b/version").json()
        assert a["six"] == "1.16.0" and b["six"] == "1.17.0"
        assert "/venvs/iso-six-a-" in a["file"] and "/venvs/iso-six-b-" in b["file"]
        error = host.status("iso-venv-bad")["error"]
        assert error.startswith("VenvError")
        assert "six==0.0.999" in error  # uv's own reason names the requirement
        assert host.status("iso-venv-bad")["pids"] == []
    finally:
        host.stop()
    venvs = sorted(p.name for p in (tmp_path / "one" / "data" / "venvs").iterdir())
    assert len(venvs) == 2 and all(len(v.rsplit("-", 1)[1]) == 16 for v in venvs)
    # A second start reuses the venvs (keyed by the requirements' hash): nothing is rebuilt.
    marker = tmp_path / "one" / "data" / "venvs" / venvs[0] / ".gateway-venv-complete"
    built = marker.stat().st_mtime_ns
    again = start_host(tmp_path / "one", {"iso-six-a": {"venv": True}})
    try:
        assert again.client.get("/iso-six-a/version").json()["six"] == "1.16.0"
    finally:
        again.stop()
    assert marker.stat().st_mtime_ns == built
