"""SQLAdmin (aminalaee/sqladmin) on a plain Starlette app, served as the plugin ``catalog``,
its test suite ported.

SQLAdmin is a Starlette application: it mounts itself at ``/admin``, serves its assets with
``StaticFiles`` at ``/admin/statics`` and builds every link, form action, redirect and the
``delete`` endpoint's answer with ``request.url_for``. Upstream drives it through Starlette's
``TestClient`` at the root (``tests/test_authentication.py``, ``tests/test_views/
test_view_sync.py``, ``tests/test_root_path.py``); here it runs under ``/catalog`` over HTTP,
so every URL it builds must start with ``<gateway>/catalog/`` -- the app's ``url_for`` and
``base_url`` under the gateway's prefix (contract section 8, "Real apps run unchanged").
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, assert_serving, launch_gateway

PLUGIN = Path(__file__).parent / "plugins" / "catalog"
LOGIN = {"username": "admin", "password": "s3cret"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("sqladmin"), PLUGIN, args=["--no-access-log"])
    assert_serving(gateway, PLUGIN.name)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture(scope="module")
def admin_url(gw: GatewayProcess) -> str:
    """Where SQLAdmin lives, as the browser must see it in every link."""
    return f"{gw.base_url}/catalog/admin"


@pytest.fixture(scope="module")
def browser(gw: GatewayProcess) -> Iterator[httpx.Client]:
    """A logged-in session."""
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        assert client.post("/catalog/admin/login", data=LOGIN).status_code == 302
        yield client


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def create(browser: httpx.Client, identity: str, form: dict[str, str]) -> httpx.Response:
    return browser.post(f"/catalog/admin/{identity}/create", data={**form, "save": "Save"})


def pk_of(browser: httpx.Client, identity: str, name: str, admin_url: str) -> str:
    listing = browser.get(f"/catalog/admin/{identity}/list", params={"search": name})
    found = re.search(rf'href="{re.escape(admin_url)}/{identity}/details/(\d+)"', listing.text)
    assert found is not None, listing.text[:3000]
    return found.group(1)


# -- the host app's own url_for / base_url ------------------------------------------------


def test_url_for_and_base_url_carry_the_prefix(gw: GatewayProcess, admin_url: str) -> None:
    assert gw.client.get("/catalog/").json() == {
        "admin": f"{admin_url}/",
        "css": f"{admin_url}/statics/css/main.css",
        "base_url": f"{gw.base_url}/catalog/",
    }


# -- tests/test_authentication.py ----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/catalog/admin/", "/catalog/admin/author/list", "/catalog/admin/book/create"]
)
def test_login_required_redirects_to_the_prefixed_login(
    gw: GatewayProcess, admin_url: str, path: str
) -> None:
    response = gw.client.get(path)
    assert response.status_code == 302
    assert response.headers["location"] == f"{admin_url}/login"


def test_login_failure(gw: GatewayProcess, admin_url: str) -> None:
    response = gw.client.post("/catalog/admin/login", data={"username": "x", "password": "b"})
    assert response.status_code == 400
    assert f'action="{admin_url}/login"' in response.text


def test_login_session_and_logout(gw: GatewayProcess, admin_url: str) -> None:
    with httpx.Client(base_url=gw.base_url, timeout=30) as client:
        login = client.post("/catalog/admin/login", data=LOGIN)
        assert login.status_code == 302 and login.headers["location"] == f"{admin_url}/"
        assert list(client.cookies) == ["session"]
        index = client.get("/catalog/admin/")
        assert index.status_code == 200
        logout = client.get("/catalog/admin/logout")
        assert logout.status_code == 302 and logout.headers["location"] == f"{admin_url}/"
        assert len(client.cookies) == 0
        again = client.get("/catalog/admin/")
        assert again.status_code == 302 and again.headers["location"] == f"{admin_url}/login"


def test_follow_the_login_flow_like_a_browser(gw: GatewayProcess, admin_url: str) -> None:
    """Every hop the browser takes stays under the prefix and ends on the admin's index."""
    with httpx.Client(base_url=gw.base_url, timeout=30, follow_redirects=True) as client:
        page = client.get("/catalog/admin/")
        assert str(page.url) == f"{admin_url}/login" and page.status_code == 200
        form = re.search(r'<form[^>]* action="([^"]+)"', page.text)
        assert form is not None
        done = client.post(form.group(1), data=LOGIN)
        assert str(done.url) == f"{admin_url}/" and done.status_code == 200


# -- StaticFiles under the prefix -----------------------------------------------------------


def test_statics_linked_under_the_prefix_and_served(gw: GatewayProcess, admin_url: str) -> None:
    page = gw.client.get("/catalog/admin/login").text
    linked = re.findall(r'(?:href|src)="([^"]*/statics/[^"]+)"', page)
    assert f"{admin_url}/statics/css/main.css" in linked
    assert f"{admin_url}/statics/js/main.js" in linked
    for url in linked:
        response = gw.client.get(url)
        assert response.status_code == 200, url
    css = gw.client.get("/catalog/admin/statics/css/main.css")
    assert css.headers["content-type"].startswith("text/css")
    assert gw.client.get("/catalog/admin/statics/css/missing.css").status_code == 404


# -- tests/test_views/test_view_sync.py ------------------------------------------------------


def test_root_view(browser: httpx.Client, admin_url: str) -> None:
    response = browser.get("/catalog/admin/")
    assert response.status_code == 200
    assert f'href="{admin_url}/author/list"' in response.text
    assert f'href="{admin_url}/book/list"' in response.text


def test_invalid_list_page(browser: httpx.Client) -> None:
    assert browser.get("/catalog/admin/example/list").status_code == 404


def test_not_found_detail_page(browser: httpx.Client) -> None:
    assert browser.get("/catalog/admin/author/details/987654").status_code == 404


def test_create_redirects_to_the_prefixed_list(browser: httpx.Client, admin_url: str) -> None:
    response = create(browser, "author", {"name": unique("Ursula")})
    assert response.status_code == 302
    assert response.headers["location"] == f"{admin_url}/author/list"
    other = browser.post(
        "/catalog/admin/author/create",
        data={"name": unique("Le Guin"), "save": "Save and add another"},
    )
    assert other.headers["location"] == f"{admin_url}/author/create"


def test_create_invalid_form(browser: httpx.Client) -> None:
    response = create(browser, "book", {"title": ""})
    assert response.status_code == 400
    assert '<div class="invalid-feedback">This field is required.</div>' in response.text


def test_list_and_details_with_relationship_links(browser: httpx.Client, admin_url: str) -> None:
    name, title = unique("Octavia"), unique("Kindred")
    assert create(browser, "author", {"name": name}).status_code == 302
    author = pk_of(browser, "author", name, admin_url)
    assert create(browser, "book", {"title": title, "author": author}).status_code == 302
    book = pk_of(browser, "book", title, admin_url)
    listing = browser.get("/catalog/admin/book/list", params={"search": title})
    assert listing.status_code == 200
    assert "Showing 1 to 1 of 1 items" in listing.text
    assert f'<a href="{admin_url}/author/details/{author}">{name}</a>' in listing.text
    assert f'href="{admin_url}/book/edit/{book}?search={title}"' in listing.text
    details = browser.get(f"/catalog/admin/author/details/{author}")
    assert details.status_code == 200
    assert f"<td>{name}</td>" in details.text
    assert f'<a href="{admin_url}/book/details/{book}">({title})</a>' in details.text


def test_edit(browser: httpx.Client, admin_url: str) -> None:
    name = unique("Iain")
    create(browser, "author", {"name": name})
    pk = pk_of(browser, "author", name, admin_url)
    form = browser.get(f"/catalog/admin/author/edit/{pk}")
    assert form.status_code == 200 and f'value="{name}"' in form.text
    saved = browser.post(
        f"/catalog/admin/author/edit/{pk}",
        data={"name": name + " Banks", "save": "Save and continue editing"},
    )
    assert saved.status_code == 302 and saved.headers["location"] == f"{admin_url}/author/edit/{pk}"
    assert f"<td>{name} Banks</td>" in browser.get(f"/catalog/admin/author/details/{pk}").text


def test_delete_answers_with_the_prefixed_list_url(browser: httpx.Client, admin_url: str) -> None:
    name = unique("Gene")
    create(browser, "author", {"name": name})
    pk = pk_of(browser, "author", name, admin_url)
    response = browser.delete("/catalog/admin/author/delete", params={"pks": pk})
    assert response.status_code == 200
    assert response.text == f"{admin_url}/author/list"
    assert browser.get(f"/catalog/admin/author/details/{pk}").status_code == 404


def test_search_sort_and_pagination(browser: httpx.Client, admin_url: str) -> None:
    stem = unique("page")
    for i in range(12):
        create(browser, "book", {"title": f"{stem}-{i:02}"})
    first = browser.get("/catalog/admin/book/list", params={"search": stem})
    assert "Showing 1 to 10 of 12 items" in first.text
    next_page = re.search(
        rf'href="({re.escape(admin_url)}/book/list\?[^"]*page=2[^"]*)"', first.text
    )
    assert next_page is not None, "the pager links to page 2 under the prefix"
    second = browser.get(next_page.group(1).replace("&amp;", "&"))
    assert "Showing 11 to 12 of 12 items" in second.text
    for i in (1, 2):
        create(browser, "author", {"name": f"{stem}-{i}"})
    ordered = browser.get(
        "/catalog/admin/author/list", params={"search": stem, "sortBy": "name", "sort": "desc"}
    )
    assert re.findall(rf"<td>({re.escape(stem)}-\d)</td>", ordered.text) == [
        f"{stem}-2",
        f"{stem}-1",
    ]
    assert (
        f'href="{admin_url}/author/list?search={stem}&amp;sortBy=name&amp;sort=asc"' in ordered.text
    )


def test_export_streams_csv_and_json(browser: httpx.Client) -> None:
    name = unique("Export")
    create(browser, "author", {"name": name})
    csv = browser.get("/catalog/admin/author/export/csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"].startswith("attachment;filename=Author_")
    assert csv.text.splitlines()[0] == "id,name" and name in csv.text
    exported = browser.get("/catalog/admin/author/export/json").json()
    assert any(row["name"] == name for row in exported)
    assert browser.get("/catalog/admin/author/export/xml").status_code == 404
