"""A FastAPI plugin (``uploads``): SQLAdmin mounted on FastAPI, plus FastAPI's documented
features -- ``UploadFile``, ``BackgroundTasks``, ``StreamingResponse``, ``request.url_for``
and the ``/docs`` page -- driven over HTTP under the prefix ``/uploads``.

The tests mirror what FastAPI's tutorial tests check for those pages ("Request Files",
"Background Tasks", "Custom Response", "Behind a Proxy") and what SQLAdmin's own tests check
for its list page and export; written for this plugin, not copied.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, assert_serving, launch_gateway, wait_for

PLUGIN = Path(__file__).parent / "plugins" / "uploads"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("fastapi"), PLUGIN, args=["--no-access-log"])
    assert_serving(gateway, PLUGIN.name)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.bin"


def upload(gw: GatewayProcess, *files: tuple[str, bytes]) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return gw.client.post("/uploads/files", files=parts)


# -- url_for, base_url, redirects, /docs ---------------------------------------------------


def test_url_for_and_base_url_carry_the_prefix(gw: GatewayProcess) -> None:
    root = f"{gw.base_url}/uploads"
    assert gw.client.get("/uploads/").json() == {
        "base_url": f"{root}/",
        "self": f"{root}/",
        "admin": f"{root}/admin/",
        "admin_css": f"{root}/admin/statics/css/main.css",
        "docs": f"{root}/docs",
    }


def test_redirect_built_with_url_for(gw: GatewayProcess) -> None:
    response = gw.client.get("/uploads/home")
    assert response.status_code == 307
    assert response.headers["location"] == f"{gw.base_url}/uploads/"
    followed = gw.client.get("/uploads/home", follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url) == f"{gw.base_url}/uploads/"


def test_docs_fetch_the_openapi_schema_under_the_prefix(gw: GatewayProcess) -> None:
    docs = gw.client.get("/uploads/docs")
    assert docs.status_code == 200
    assert "url: '/uploads/openapi.json'" in docs.text
    schema = gw.client.get("/uploads/openapi.json").json()
    assert {"/files", "/files/{name}", "/files/{name}/info"} <= set(schema["paths"])
    body = schema["paths"]["/files"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body


# -- UploadFile ------------------------------------------------------------------------------


def test_upload_several_files(gw: GatewayProcess) -> None:
    small, large = unique("small"), unique("large")
    big = os.urandom(2 << 20)
    response = upload(gw, (small, b"hello"), (large, big))
    assert response.status_code == 201, response.text
    assert [(f["name"], f["size"]) for f in response.json()] == [(small, 5), (large, len(big))]
    assert gw.client.get(f"/uploads/files/{small}").content == b"hello"
    assert gw.client.get(f"/uploads/files/{large}").content == big


def test_upload_answer_links_to_the_prefixed_download(gw: GatewayProcess) -> None:
    name = unique("linked")
    [created] = upload(gw, (name, b"link me")).json()
    assert created["url"] == f"{gw.base_url}/uploads/files/{name}"
    assert httpx.get(created["url"], timeout=30).content == b"link me"


def test_upload_with_a_chunked_request_body(gw: GatewayProcess) -> None:
    """The multipart body is sent with ``Transfer-Encoding: chunked``, no Content-Length."""
    name, data = unique("chunked"), os.urandom(300_000)
    boundary = "gateway-compat-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]
        yield tail

    response = gw.client.post(
        "/uploads/files",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 201, response.text
    assert response.json()[0]["size"] == len(data)
    assert gw.client.get(f"/uploads/files/{name}").content == data


def test_upload_without_files_is_a_422_naming_the_field(gw: GatewayProcess) -> None:
    response = gw.client.post("/uploads/files", data={"other": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "files"]


# -- BackgroundTasks ---------------------------------------------------------------------------


def test_background_task_runs_after_the_response(gw: GatewayProcess) -> None:
    name, data = unique("digest"), os.urandom(100_000)
    assert upload(gw, (name, data)).status_code == 201
    expected = hashlib.sha256(data).hexdigest()
    info = wait_for(
        lambda: (i := gw.client.get(f"/uploads/files/{name}/info").json())["sha256"] and i
    )
    assert info == {"name": name, "size": len(data), "sha256": expected}


# -- StreamingResponse -------------------------------------------------------------------------


def test_streaming_response_sends_each_chunk_as_it_comes(gw: GatewayProcess) -> None:
    name = unique("stream")
    upload(gw, (name, b"a" * 4000))
    started = time.monotonic()
    arrivals: list[tuple[float, int]] = []
    with gw.client.stream("GET", f"/uploads/files/{name}?chunk=1000&pause=0.6") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic() - started, len(chunk)))
    assert sum(size for _, size in arrivals) == 4000
    first, last = arrivals[0][0], arrivals[-1][0]
    assert last >= 1.6 and first < last - 1.0, arrivals


def test_missing_file_is_a_404_with_detail(gw: GatewayProcess) -> None:
    response = gw.client.get("/uploads/files/nope.bin")
    assert response.status_code == 404
    assert response.json() == {"detail": "no upload named 'nope.bin'"}


# -- SQLAdmin on FastAPI -----------------------------------------------------------------------


def test_admin_lists_uploads_with_prefixed_links(gw: GatewayProcess) -> None:
    name = unique("admin")
    upload(gw, (name, b"listed"))
    admin = f"{gw.base_url}/uploads/admin"
    listing = gw.client.get("/uploads/admin/upload/list", params={"search": name})
    assert listing.status_code == 200
    assert "Showing 1 to 1 of 1 items" in listing.text
    assert f'href="{admin}/statics/css/main.css"' in listing.text
    assert f'href="{admin}/upload/export/csv"' in listing.text
    assert gw.client.get("/uploads/admin/statics/css/main.css").status_code == 200


def test_admin_export_streams_the_uploads(gw: GatewayProcess) -> None:
    name, data = unique("export"), b"exported"
    upload(gw, (name, data))
    digest = hashlib.sha256(data).hexdigest()
    wait_for(lambda: gw.client.get(f"/uploads/files/{name}/info").json()["sha256"])
    csv = gw.client.get("/uploads/admin/upload/export/csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f"{name},{len(data)},{digest}" in csv.text
