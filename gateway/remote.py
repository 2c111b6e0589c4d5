"""``gateway plugins list|show NAME|reload NAME``: a running gateway's admin API from the
terminal (CONTRACT section 16).

The gateway's URL is ``--url`` or the configuration's host, port and admin prefix; the token
is ``--token``, else ``admin.token`` / ``GATEWAY_ADMIN_TOKEN``, else the token file a gateway
without a terminal wrote in the data folder. Failures are one line and exit 1: the gateway
cannot be reached, it refused the token, no such plugin.

Three requests do not justify a runtime dependency: ``urllib.request`` from the standard
library talks to the admin API (``httpx`` is only in the ``dev`` extra).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .admin.token import TOKEN_FILE
from .config import Config
from .errors import GatewayError

__all__ = ["AdminAPIError", "AdminClient", "render_plugin", "render_table"]

TIMEOUT_S = 30.0  # a reload waits for the plugin's load


class AdminAPIError(GatewayError):
    """The admin API could not be reached or refused the request."""

    kind = "AdminAPIError"


@dataclass(frozen=True)
class AdminClient:
    """The admin API at ``url`` (the admin prefix included), with ``token``."""

    url: str
    token: str | None

    @classmethod
    def from_config(
        cls, config: Config, *, url: str | None, token: str | None, data_dir: Path
    ) -> AdminClient:
        prefix = config.admin.prefix
        if url is None:
            host = config.server.host
            if host in ("0.0.0.0", "::", ""):  # listening everywhere: ask it locally
                host = "127.0.0.1"
            elif ":" in host:
                host = f"[{host}]"
            url = f"http://{host}:{config.server.port}"
        url = url.rstrip("/")
        if not urllib.parse.urlsplit(url).path.endswith(prefix):
            url += prefix
        token = token or config.admin.token or _token_file(data_dir)
        return cls(url, token)

    def request(self, method: str, path: str) -> Any:
        """The JSON answer to ``method path``; :class:`AdminAPIError` for any failure."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.url}{path}", method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AdminAPIError(self._refusal(exc)) from None
        except OSError as exc:  # URLError, refused, timed out
            reason = getattr(exc, "reason", exc)
            raise AdminAPIError(
                f"cannot reach the gateway at {self.url}: {reason} "
                "(is it running? give its address with --url)"
            ) from None
        except ValueError:
            raise AdminAPIError(f"{self.url}{path} did not answer JSON: is it a gateway?") from None

    def _refusal(self, exc: urllib.error.HTTPError) -> str:
        if exc.code == 401:
            how = "wrong" if self.token else "missing"
            return (
                f"the gateway at {self.url} refused the admin token ({how}): give it with "
                "--token or GATEWAY_ADMIN_TOKEN"
            )
        try:
            detail = json.loads(exc.read()).get("detail")
        except (ValueError, AttributeError):
            detail = None
        return f"{exc.code} from {exc.url}: {detail or exc.reason}"


def _token_file(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


COLUMNS = ("name", "status", "framework", "generation", "prefix", "loaded_at", "error")


def _cell(plugin: dict[str, Any], column: str) -> str:
    value = plugin.get(column)
    if column == "error":
        return f"{value['type']}: {value['message']}" if value else ""
    return "" if value is None else str(value)


def render_table(plugins: list[dict[str, Any]], *, width: int = 60) -> str:
    """The plugins as an aligned table (errors cut to ``width`` characters)."""
    rows = [[c.upper().replace("_", " ") for c in COLUMNS]]
    for plugin in plugins:
        row = [_cell(plugin, c) for c in COLUMNS]
        if len(row[-1]) > width:
            row[-1] = row[-1][: width - 1] + "…"
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_plugin(plugin: dict[str, Any]) -> str:
    """One plugin, a field per line."""
    keys = [*COLUMNS, *(k for k in plugin if k not in COLUMNS)]
    width = max(len(k) for k in keys) + 1
    return "\n".join(f"{(k + ':').ljust(width)} {_cell(plugin, k)}".rstrip() for k in keys)
