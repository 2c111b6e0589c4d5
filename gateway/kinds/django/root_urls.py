"""``ROOT_URLCONF`` of the gateway's Django runtime: empty on purpose.

Every Django plugin has its own URLconf, chosen per request by
:class:`gateway.kinds.django.middleware.PluginURLConfMiddleware`; a request that reaches
Django without one (none should) matches nothing.
"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
