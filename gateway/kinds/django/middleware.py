"""Django middleware that routes each request to its plugin's URLconf."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .runtime import URLCONF_KEY


class PluginURLConfMiddleware:
    """Sets ``request.urlconf`` to the URLconf of the plugin version serving the request.

    Django resolves, reverses and checks ``APPEND_SLASH`` against ``request.urlconf`` (a
    thread-local for the request), so several Django plugins serve side by side without
    seeing each other's URLs. It must come before ``CommonMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        urlconf = request.META.get(URLCONF_KEY)
        if urlconf is not None:
            request.urlconf = urlconf
        return self.get_response(request)
