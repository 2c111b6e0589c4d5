"""django-robots (https://github.com/jazzband/django-robots) under this plugin's prefix.

django-robots is a reusable Django app installed from PyPI: its models (``Rule``, ``Url``),
admin and migrations come in through ``config.yaml`` (``django: settings: INSTALLED_APPS``);
this plugin only mounts its URLs, as a project's ``urls.py`` would, next to the sitemap that
``robots.txt`` points to.
"""

from __future__ import annotations

from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from .sitemaps import SITEMAPS

urlpatterns = [
    path("robots.txt", include("robots.urls")),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}),
]
