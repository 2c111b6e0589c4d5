"""django-robots (jazzband/django-robots, a reusable Django app with models, admin and a
view) in the gateway's Django runtime, its test suite ported.

The app comes from PyPI and is added through ``config.yaml`` ``django: settings:
INSTALLED_APPS`` (with ``django.contrib.sites`` and ``sitemaps``, which it needs); the plugin
``seo`` is a thin Django app that mounts its URLs and a sitemap, and whose data migration
creates the admin's superuser from ``DJANGO_SUPERUSER_*``. Upstream's ``robots/tests.py``
builds the rules with the ORM and renders the view through ``RequestFactory``; here the
rules are made through the Django admin under ``/seo/admin/`` as a user would, and
``robots.txt`` is fetched over HTTP, one site per ``Host`` (``ROBOTS_SITE_BY_REQUEST``).
Upstream's setting toggles (``ROBOTS_USE_SCHEME_IN_HOST``, ``ROBOTS_SITEMAP_VIEW_NAME``)
need a settings change inside one test and are not ported: the gateway's settings are fixed
for the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, admin_login, assert_serving, csrf_token, launch_gateway

PLUGIN = Path(__file__).parent / "plugins" / "seo"
USER, PASSWORD = "root", "pw-robots-1234"

CONFIG = """\
django:
  settings:
    INSTALLED_APPS:
      - django.contrib.admin
      - django.contrib.auth
      - django.contrib.contenttypes
      - django.contrib.sessions
      - django.contrib.messages
      - django.contrib.staticfiles
      - django.contrib.sites
      - django.contrib.sitemaps
      - robots
    SITE_ID: 1
    ROBOTS_SITE_BY_REQUEST: true
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("django-robots")
    (workdir / "config.yaml").write_text(CONFIG)
    env = {"DJANGO_SUPERUSER_USERNAME": USER, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    gateway = launch_gateway(workdir, PLUGIN, env=env, args=["--no-access-log"])
    assert_serving(gateway, PLUGIN.name)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def login(browser: httpx.Client) -> httpx.Response:
    return admin_login(browser, "/seo", USER, PASSWORD)


@pytest.fixture(scope="module")
def browser(gw: GatewayProcess) -> Iterator[httpx.Client]:
    """A logged-in admin session."""
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        assert login(client).status_code == 302
        yield client


def add(browser: httpx.Client, model: str, fields: dict[str, object]) -> int:
    """Create an object through the admin's add form; return its primary key."""
    url = f"/seo/admin/{model}/add/"
    form: dict[str, object] = {
        **fields,
        "csrfmiddlewaretoken": csrf_token(browser.get(url)),
        "_continue": "1",
    }
    response = browser.post(url, data=form)
    assert response.status_code == 302, response.text[:2000]
    found = re.fullmatch(rf"/seo/admin/{model}/(\d+)/change/", response.headers["location"])
    assert found is not None, response.headers["location"]
    return int(found.group(1))


@pytest.fixture(scope="module")
def rules(browser: httpx.Client) -> dict[str, int]:
    """Upstream's ``setUp``: three URLs, two more sites, three rules, made in the admin."""
    ids = {
        "sub": add(browser, "sites/site", {"domain": "sub.example.com", "name": "sub"}),
        "empty": add(browser, "sites/site", {"domain": "empty.example.com", "name": "empty"}),
    }
    for name, pattern in (("admin", "/admin"), ("root", "/"), ("media", "media")):
        ids[name] = add(browser, "robots/url", {"pattern": pattern})
    ids["all"] = add(
        browser,
        "robots/rule",
        {
            "robot": "*",
            "crawl_delay": "10",
            "allowed": [ids["root"]],
            "disallowed": [ids["admin"], ids["media"]],
            "sites": [1, ids["sub"]],
        },
    )
    ids["bing"] = add(
        browser,
        "robots/rule",
        {
            "robot": "Bing",
            "crawl_delay": "20",
            "allowed": [ids["root"]],
            "disallowed": [ids["admin"]],
            "sites": [1],
        },
    )
    ids["google"] = add(
        browser,
        "robots/rule",
        {"robot": "Googlebot", "disallowed": [ids["media"]], "sites": [ids["sub"]]},
    )
    return ids


def robots_txt(gw: GatewayProcess, host: str) -> str:
    response = gw.client.get("/seo/robots.txt", headers={"Host": host})
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def check_stanzas(content: str) -> None:
    """Upstream's ``_test_stanzas``."""
    for stanza in content.split("\n\n"):
        if stanza.startswith("User-agent: *"):
            assert "Allow: /" in stanza and "Disallow: /admin" in stanza
            assert "Disallow: /media" in stanza and "Crawl-delay: 10" in stanza
        elif stanza.startswith("User-agent: Bing"):
            assert "Allow: /" in stanza and "Disallow: /admin" in stanza
            assert "Disallow: /media" not in stanza
            assert "Crawl-delay: 20" in stanza and "Crawl-delay: 10" not in stanza
        elif stanza.startswith("User-agent: Googlebot"):
            assert "Allow: /" not in stanza and "Disallow: /admin" not in stanza
            assert "Disallow: /media" in stanza and "Crawl-delay" not in stanza


def test_admin_login_with_the_superuser_the_plugin_migration_made(gw: GatewayProcess) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        assert client.get("/seo/admin/").headers["location"] == "/seo/admin/login/?next=/seo/admin/"
        response = login(client)
        assert response.status_code == 302 and response.headers["location"] == "/seo/admin/"
        index = client.get("/seo/admin/")
        assert index.status_code == 200 and "Site administration" in index.text
        assert 'href="/seo/admin/robots/rule/"' in index.text
        assert 'href="/seo/admin/robots/url/"' in index.text
        assert 'href="/seo/admin/sites/site/"' in index.text
        logout = client.post(
            "/seo/admin/logout/", data={"csrfmiddlewaretoken": client.cookies["csrftoken"]}
        )
        assert logout.status_code == 200 and "Logged out" in logout.text
        assert client.get("/seo/admin/").status_code == 302


def test_wrong_password_is_refused(gw: GatewayProcess) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        page = client.get("/seo/admin/login/")
        form = {"username": USER, "password": "wrong", "csrfmiddlewaretoken": csrf_token(page)}
        response = client.post("/seo/admin/login/", data=form)
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.text


def test_view_site_1(gw: GatewayProcess, rules: dict[str, int]) -> None:
    content = robots_txt(gw, "example.com")
    assert "User-agent: *" in content and "User-agent: Bing" in content
    assert "User-agent: Googlebot" not in content
    assert "Host: example.com" in content
    # django-robots reverses the sitemap view: the URL must carry the plugin's prefix
    assert "Sitemap: http://example.com/seo/sitemap.xml" in content
    check_stanzas(content)


def test_view_site_2(gw: GatewayProcess, rules: dict[str, int]) -> None:
    content = robots_txt(gw, "sub.example.com")
    assert "User-agent: *" in content and "User-agent: Googlebot" in content
    assert "User-agent: Bing" not in content
    assert "Host: sub.example.com" in content
    assert "Sitemap: http://sub.example.com/seo/sitemap.xml" in content
    check_stanzas(content)


def test_site_without_rules_disallows_nothing(gw: GatewayProcess, rules: dict[str, int]) -> None:
    content = robots_txt(gw, "empty.example.com")
    assert content.startswith("User-agent: *\nDisallow:\n")


def test_sitemap_it_points_to(gw: GatewayProcess) -> None:
    response = gw.client.get("/seo/sitemap.xml")
    assert response.status_code == 200
    assert "<loc>http://example.com/seo/robots.txt</loc>" in response.text


def test_url_pattern_gets_its_leading_slash(browser: httpx.Client, rules: dict[str, int]) -> None:
    page = browser.get(f"/seo/admin/robots/url/{rules['media']}/change/")
    assert page.status_code == 200
    assert 'name="pattern" value="/media"' in page.text


def test_rule_needs_an_url(browser: httpx.Client) -> None:
    url = "/seo/admin/robots/rule/add/"
    form = {"robot": "Nobody", "sites": [1], "csrfmiddlewaretoken": csrf_token(browser.get(url))}
    response = browser.post(url, data=form)
    assert response.status_code == 200
    assert "Please specify at least one allowed or disallowed URL." in response.text


def test_admin_changelist_search_and_filter(browser: httpx.Client, rules: dict[str, int]) -> None:
    listing = browser.get("/seo/admin/robots/rule/")
    assert listing.status_code == 200 and "Select rule to change" in listing.text
    assert f'href="/seo/admin/robots/rule/{rules["bing"]}/change/"' in listing.text
    found = browser.get("/seo/admin/robots/rule/", params={"q": "Bing"})
    assert "1 result" in found.text
    by_url = browser.get("/seo/admin/robots/rule/", params={"q": "/media"})
    assert "2 results" in by_url.text
    by_site = browser.get("/seo/admin/robots/rule/", params={"sites__id__exact": rules["sub"]})
    assert "Googlebot" in by_site.text and "Bing" not in by_site.text


def test_admin_form_assets_under_the_prefix(gw: GatewayProcess, browser: httpx.Client) -> None:
    page = browser.get("/seo/admin/robots/rule/add/")
    assert 'src="/seo/static/admin/js/SelectFilter2.js"' in page.text  # filter_horizontal
    script = gw.client.get("/seo/static/admin/js/SelectFilter2.js")
    assert script.status_code == 200 and "SelectFilter" in script.text


def test_edit_and_delete_a_rule(
    gw: GatewayProcess, browser: httpx.Client, rules: dict[str, int]
) -> None:
    rule = add(
        browser, "robots/rule", {"robot": "Slurp", "disallowed": [rules["admin"]], "sites": [1]}
    )
    assert "User-agent: Slurp" in robots_txt(gw, "example.com")
    change = f"/seo/admin/robots/rule/{rule}/change/"
    form = {
        "robot": "Slurp",
        "disallowed": [rules["media"]],
        "sites": [1],
        "crawl_delay": "5",
        "csrfmiddlewaretoken": csrf_token(browser.get(change)),
    }
    saved = browser.post(change, data=form)
    assert saved.status_code == 302 and saved.headers["location"] == "/seo/admin/robots/rule/"
    slurp = robots_txt(gw, "example.com").split("User-agent: Slurp")[1]
    assert "Disallow: /media" in slurp and "Crawl-delay: 5" in slurp and "/admin" not in slurp
    delete = f"/seo/admin/robots/rule/{rule}/delete/"
    token = csrf_token(browser.get(delete))
    deleted = browser.post(delete, data={"post": "yes", "csrfmiddlewaretoken": token})
    assert deleted.status_code == 302 and deleted.headers["location"] == "/seo/admin/robots/rule/"
    assert "Slurp" not in robots_txt(gw, "example.com")
