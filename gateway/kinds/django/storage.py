"""Static file URLs under the prefix of the plugin serving the request."""

from __future__ import annotations

from urllib.parse import urljoin

from django.contrib.staticfiles.storage import StaticFilesStorage
from django.urls import get_script_prefix
from django.utils.encoding import filepath_to_uri


class PluginStaticFilesStorage(StaticFilesStorage):  # type: ignore[misc]
    """``{% static %}`` URLs built from the request's script prefix.

    Django prefixes a relative ``STATIC_URL`` with ``SCRIPT_NAME`` once and caches the
    result, assuming one prefix per process; here each Django plugin has its own, so the
    URL is built per call from the (thread-local) script prefix of the current request.
    """

    def url(self, name: str | None) -> str:
        prefix: str = get_script_prefix()
        return str(urljoin(prefix + "static/", filepath_to_uri(name or "")))
