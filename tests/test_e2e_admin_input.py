"""The admin API takes what clients send as RFC 9110 and contract 10 say: the ``Bearer`` scheme
in any case, and a plugin name that cannot exist answered 404, never 500."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from conftest import TOKEN, GatewayProcess


def test_the_bearer_scheme_is_matched_in_any_case(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi")
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        response = httpx.get(
            f"{gw.base_url}/_gateway/plugins", headers={"Authorization": f"{scheme} {TOKEN}"}
        )
        assert response.status_code == 200, (scheme, response.text)
    wrong = httpx.get(f"{gw.base_url}/_gateway/plugins", headers={"Authorization": "bearer x"})
    assert wrong.status_code == 401


def test_a_plugin_name_that_cannot_exist_is_404_not_500(
    start_gateway: Callable[..., GatewayProcess],
) -> None:
    gw = start_gateway("held-asgi")
    for name in ("a" * 300, "x" * 5000, "Not_A_Name", "a.b"):
        shown = gw.admin.get(f"/_gateway/plugins/{name}")
        assert shown.status_code == 404, (name[:20], shown.text)
        reloaded = gw.admin.post(f"/_gateway/plugins/{name}/reload")
        assert reloaded.status_code == 404, (name[:20], reloaded.text)
    assert gw.admin.get("/_gateway/plugins/held-asgi").status_code == 200
