"""Request ids end to end (CONTRACT section 15): a valid incoming ``X-Request-ID`` is kept, a
missing, empty or invalid one is replaced by a generated one of the same pattern; an ASGI
plugin sees it in its headers, a WSGI plugin as ``HTTP_X_REQUEST_ID``, and the response
carries it, for requests no plugin matches too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import GatewayProcess, launch_gateway

PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("request-ids"), "obs-asgi", "obs-wsgi")
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def asgi_id(gw: GatewayProcess, headers: dict[str, str | bytes] | None = None) -> tuple[str, str]:
    """(the id the ASGI plugin received, the id the response carries)."""
    response = gw.client.get("/obs-asgi/echo", headers=headers)
    assert response.status_code == 200
    received = response.json()["request_ids"]
    assert len(received) == 1, received  # exactly one header reaches the plugin
    return received[0], response.headers["x-request-id"]


def wsgi_id(gw: GatewayProcess, headers: dict[str, str | bytes] | None = None) -> tuple[str, str]:
    response = gw.client.get("/obs-wsgi/", headers=headers)
    assert response.status_code == 200
    return response.json()["request_id"], response.headers["x-request-id"]


@pytest.mark.parametrize("plugin", [asgi_id, wsgi_id], ids=["asgi", "wsgi"])
@pytest.mark.parametrize(
    "incoming",
    ["abc", "A.b_c-9", "x" * 128, "0123456789abcdef0123456789abcdef"],
)
def test_a_valid_id_is_kept(gw: GatewayProcess, plugin, incoming: str) -> None:  # type: ignore[no-untyped-def]
    assert plugin(gw, {"X-Request-ID": incoming}) == (incoming, incoming)


@pytest.mark.parametrize("plugin", [asgi_id, wsgi_id], ids=["asgi", "wsgi"])
@pytest.mark.parametrize(
    "incoming",
    [None, "", "x" * 129, "has space", "semi;colon", "slash/no", "ünï".encode()],
)
def test_a_missing_or_invalid_id_is_replaced(
    gw: GatewayProcess, plugin, incoming: str | bytes | None
) -> None:  # type: ignore[no-untyped-def]
    headers = None if incoming is None else {"X-Request-ID": incoming}
    received, answered = plugin(gw, headers)
    assert received == answered
    assert PATTERN.fullmatch(received), received
    assert received != incoming


def test_generated_ids_differ(gw: GatewayProcess) -> None:
    ids = {asgi_id(gw)[0] for _ in range(20)} | {wsgi_id(gw)[0] for _ in range(20)}
    assert len(ids) == 40


def test_requests_no_plugin_matches_carry_one_too(gw: GatewayProcess) -> None:
    kept = gw.client.get("/no-such-plugin", headers={"X-Request-ID": "lost-1"})
    assert kept.status_code == 404
    assert kept.headers["x-request-id"] == "lost-1"
    generated = gw.client.get("/no-such-plugin")
    assert PATTERN.fullmatch(generated.headers["x-request-id"])


def test_a_failing_request_carries_its_id(gw: GatewayProcess) -> None:
    for path in ("/obs-asgi/boom", "/obs-asgi/raw-boom"):
        response = gw.client.get(path, headers={"X-Request-ID": "failing-1"})
        assert response.status_code == 500
        assert response.headers["x-request-id"] == "failing-1"
