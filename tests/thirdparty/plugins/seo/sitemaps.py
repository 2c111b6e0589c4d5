"""The sitemap django-robots advertises: ``robots.txt`` finds it by reversing Django's
``sitemap`` view, so its ``Sitemap:`` line shows whether ``reverse`` carries the prefix."""

from __future__ import annotations

from django.contrib.sitemaps import Sitemap
from django.urls import reverse


class Pages(Sitemap):
    def items(self) -> list[str]:
        return ["robots_rule_list"]

    def location(self, item: str) -> str:
        return reverse(item)


SITEMAPS = {"pages": Pages}
