"""httpbin (psf/httpbin, a Flask app) served unchanged as a plugin, its test suite ported.

Upstream ``tests/test_httpbin.py`` drives the app through Flask's test client at ``/``; here
every request goes over HTTP through the gateway to ``/httpbin``, so the URLs httpbin builds
(``url_for`` in redirects, links, the landing page, the digest-auth URI check) must carry the
prefix, and streaming endpoints must stream. The unit tests of httpbin's helpers
(``parse_multi_value_header``, ``normalize_charset``) do not cross HTTP and are not ported;
``/spec.json`` needs the optional ``flasgger`` and is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import GatewayProcess, assert_serving, launch_gateway
from werkzeug.http import parse_dict_header

PLUGIN = Path(__file__).parent / "plugins" / "httpbin"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("httpbin"), PLUGIN, args=["--no-access-log"])
    assert_serving(gateway, PLUGIN.name)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture
def http(gw: GatewayProcess) -> Iterator[httpx.Client]:
    """A fresh client (its own cookie jar) whose paths are relative to the plugin."""
    with httpx.Client(base_url=f"{gw.base_url}/httpbin", timeout=30) as client:
        yield client


def origin(gw: GatewayProcess) -> str:
    return gw.base_url.removeprefix("http://")


# -- request inspection ------------------------------------------------------------------


def test_index_links_carry_the_prefix(http: httpx.Client) -> None:
    response = http.get("/", headers={"User-Agent": "test"})
    assert response.status_code == 200
    assert 'href="/httpbin/ip"' in response.text
    assert 'href="/httpbin/relative-redirect/6"' in response.text
    assert 'href="/httpbin/forms/post"' in response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_response_headers(http: httpx.Client, method: str) -> None:
    one = http.request(method, "/response-headers?animal=dog")
    assert one.status_code == 200
    assert one.headers.get_list("animal") == ["dog"]
    assert one.json()["animal"] == "dog"
    many = http.request(method, "/response-headers?animal=dog&animal=cat")
    assert many.headers.get_list("animal") == ["dog", "cat"]
    assert many.json()["animal"] == ["dog", "cat"]


def test_get_reports_the_prefixed_url(gw: GatewayProcess, http: httpx.Client) -> None:
    response = http.get("/get", headers={"User-Agent": "test"})
    assert response.status_code == 200
    data = response.json()
    assert data["args"] == {}
    assert data["headers"]["User-Agent"] == "test"
    assert data["origin"] == "127.0.0.1"
    assert data["url"] == f"{gw.base_url}/httpbin/get"
    assert response.content.endswith(b"\n")


def test_anything(gw: GatewayProcess, http: httpx.Client) -> None:
    assert http.get("/anything").status_code == 200
    response = http.get("/anything/foo/bar")
    data = response.json()
    assert data["args"] == {}
    assert data["url"] == f"{gw.base_url}/httpbin/anything/foo/bar"
    assert data["method"] == "GET"
    assert response.content.endswith(b"\n")


def test_base64(http: httpx.Client) -> None:
    greeting = "Здравствуй, мир!"
    encoded = base64.urlsafe_b64encode(greeting.encode()).decode()
    assert http.get(f"/base64/{encoded}").text == greeting


def test_headers_hide_proxy_headers_unless_asked(http: httpx.Client) -> None:
    headers = {"Accept": "*/*", "User-Agent": "curl/7.54.0", "Via": "bar"}
    shown = http.get("/headers", headers=headers).json()["headers"]
    assert {"Accept", "Host", "User-Agent"} <= set(shown) and "Via" not in shown
    env = http.get("/headers?show_env=true", headers=headers).json()["headers"]
    assert {"Accept", "Host", "User-Agent", "Via"} <= set(env)


def test_user_agent_ip_uuid(http: httpx.Client) -> None:
    assert http.get("/user-agent", headers={"User-Agent": "test"}).json() == {"user-agent": "test"}
    assert http.get("/ip").json() == {"origin": "127.0.0.1"}
    assert re.fullmatch(r"[0-9a-f-]{36}", http.get("/uuid").json()["uuid"])


def test_x_forwarded_proto(http: httpx.Client) -> None:
    response = http.get("/get", headers={"X-Forwarded-Proto": "https"})
    assert response.json()["url"].startswith("https://")


# -- request bodies ----------------------------------------------------------------------


def test_post_binary(http: httpx.Client) -> None:
    body = b"\x01\x02\x03\x81\x82\x83"
    response = http.post(
        "/post", content=body, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200
    assert (
        response.json()["data"]
        == "data:application/octet-stream;base64," + base64.b64encode(body).decode()
    )


def test_post_form_file_text_and_binary(http: httpx.Client) -> None:
    text = http.post("/post", files={"file": ("a.txt", b"this is some fake payload")})
    assert text.status_code == 200
    assert text.json()["files"] == {"file": "this is some fake payload"}
    binary = http.post("/post", files={"file": ("b.bin", b"\x01\x02\x03\x81\x82\x83")})
    assert binary.status_code == 200
    assert binary.json()["files"]["file"].startswith("data:application/octet-stream;base64,")


def test_post_body_unicode(http: httpx.Client) -> None:
    response = http.post("/post", content="оживлённым".encode())
    assert response.json()["data"] == "оживлённым"


def test_post_json_and_form(http: httpx.Client) -> None:
    assert http.post("/post", json={"animal": "dog"}).json()["json"] == {"animal": "dog"}
    assert http.post("/post", data={"a": "1", "b": "2"}).json()["form"] == {"a": "1", "b": "2"}


def test_post_file_with_missing_content_type_header(http: httpx.Client) -> None:
    body = (
        b'--bound\r\nContent-Disposition: form-data; name="media"; filename="test.bin"\r\n\r\n'
        b"\xa5\xc6\n--bound--\r\n"
    )
    response = http.post(
        "/post", content=body, headers={"Content-Type": "multipart/form-data; boundary=bound"}
    )
    assert response.status_code == 200
    assert "media" in response.json()["files"]


def test_post_of_a_large_body(http: httpx.Client) -> None:
    body = os.urandom(3 << 20)
    response = http.post(
        "/post", content=body, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200
    echoed = response.json()["data"].split(",", 1)[1]
    assert base64.b64decode(echoed) == body


def test_chunked_post_is_refused_naming_the_server(http: httpx.Client) -> None:
    """Upstream's own expectation: httpbin accepts a chunked request body only under a server
    whose ``SERVER_SOFTWARE`` starts with ``gunicorn/``; any other gets a 501 naming the
    server, which under the gateway must name the gateway (PEP 3333 / contract section 8)."""

    def body() -> Iterator[bytes]:
        yield b'{"animal":'
        yield b'"dog"}'

    response = http.post("/post", content=body(), headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 501
    assert re.search(r"not supported for server \S*gateway", response.text, re.I), response.text


def test_delete_endpoint_returns_body(http: httpx.Client) -> None:
    response = http.request(
        "DELETE",
        "/delete",
        content=b"name=kevin",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["form"] == {"name": "kevin"}


# -- CORS --------------------------------------------------------------------------------


def test_cors_headers(http: httpx.Client) -> None:
    assert http.get("/get").headers["Access-Control-Allow-Origin"] == "*"
    assert (
        http.get("/get", headers={"Origin": "origin"}).headers["Access-Control-Allow-Origin"]
        == "origin"
    )
    assert http.get("/basic-auth/foo/bar").headers["Access-Control-Allow-Credentials"] == "true"


def test_cors_preflight(http: httpx.Client) -> None:
    response = http.options("/get")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert (
        response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE, PATCH, OPTIONS"
    )
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert "Access-Control-Allow-Headers" not in response.headers
    asked = http.options("/get", headers={"Access-Control-Request-Headers": "X-Test-Header"})
    assert asked.headers["Access-Control-Allow-Headers"] == "X-Test-Header"


# -- content encodings and formats -------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "brotli"])
def test_compressed_responses(http: httpx.Client, encoding: str) -> None:
    response = http.get(f"/{encoding}")
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == {"brotli": "br"}.get(encoding, encoding)
    assert (
        response.json()[{"gzip": "gzipped", "deflate": "deflated"}.get(encoding, encoding)] is True
    )


def test_formats(http: httpx.Client) -> None:
    assert http.get("/xml").headers["Content-Type"] == "application/xml"
    assert http.get("/json").json()["slideshow"]["title"] == "Sample Slide Show"
    assert "Herman Melville" in http.get("/html").text
    utf8 = http.get("/encoding/utf8")
    assert utf8.status_code == 200 and utf8.headers["Content-Type"] == "text/html; charset=utf-8"
    assert http.get("/image/png").content.startswith(b"\x89PNG")
    assert http.get("/image", headers={"Accept": "image/jpeg"}).content.startswith(b"\xff\xd8")
    assert "Disallow: /deny" in http.get("/robots.txt").text
    assert http.get("/deny").status_code == 200


def test_form_posts_to_the_prefixed_post(http: httpx.Client) -> None:
    assert 'action="/httpbin/post"' in http.get("/forms/post").text


def test_static_file_under_the_prefix(http: httpx.Client) -> None:
    response = http.get("/static/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"] in {"image/vnd.microsoft.icon", "image/x-icon"}
    assert len(response.content) > 100


# -- auth --------------------------------------------------------------------------------


def test_basic_auth(http: httpx.Client) -> None:
    assert http.get("/basic-auth/user/pw", auth=("user", "pw")).json() == {
        "authenticated": True,
        "user": "user",
    }
    assert http.get("/basic-auth/user/pw", auth=("user", "no")).status_code == 401
    assert http.get("/hidden-basic-auth/user/pw", auth=("user", "no")).status_code == 404


def test_bearer_auth(http: httpx.Client) -> None:
    response = http.get("/bearer", headers={"Authorization": "Bearer abcd1234"})
    assert response.status_code == 200 and response.json()["token"] == "abcd1234"
    for headers in ({"Authorization": "Basic 1234abcd"}, {"Authorization": ""}, {}):
        assert http.get("/bearer", headers=headers).status_code == 401
    assert http.get("/bearer", headers={"Authorization": "Bearer"}).status_code == 401


def _h(data: bytes, algorithm: str | None) -> str:
    name = {"SHA-256": "sha256", "SHA-512": "sha512"}.get(algorithm or "MD5", "md5")
    return hashlib.new(name, data).hexdigest()


def _digest_header(
    challenge: str,
    user: str,
    password: str,
    uri: str,
    qop: str | None,
    body: bytes | None,
    nc: int,
    nonce: str | None = None,
) -> tuple[str, str]:
    """An ``Authorization: Digest`` answer to ``challenge`` (RFC 7616), and its nonce."""
    scheme, params = challenge.split(None, 1)
    assert scheme == "Digest"
    d = parse_dict_header(params)
    nonce = nonce or d["nonce"]
    algorithm = d["algorithm"]
    if qop:
        assert qop in [q.strip() for q in d["qop"].split(",")]
    ha1 = _h(f"{user}:{d['realm']}:{password}".encode(), algorithm)
    a2 = f"GET:{uri}"
    if qop == "auth-int":
        a2 += ":" + _h(body or b"", algorithm)
    ha2 = _h(a2.encode(), algorithm)
    fields = {
        "username": user,
        "realm": d["realm"],
        "nonce": nonce,
        "uri": uri,
        "opaque": d["opaque"],
        "algorithm": algorithm,
    }
    if qop:
        cnonce, count = _h(os.urandom(10), None), f"{nc:08}"
        response = _h(f"{ha1}:{nonce}:{count}:{cnonce}:{qop}:{ha2}".encode(), algorithm)
        fields.update(cnonce=cnonce, nc=count, qop=qop)
    else:
        response = _h(f"{ha1}:{nonce}:{ha2}".encode(), algorithm)
    fields["response"] = response
    quoted = ", ".join(
        f'{k}="{v}"' if k not in ("nc", "qop") else f"{k}={v}" for k, v in fields.items()
    )
    return f"Digest {quoted}", nonce


def _digest_uri(qop: str | None, algorithm: str | None, stale_after: int | None) -> str:
    uri = f"/digest-auth/{qop or 'wrong-qop'}/user/passwd"
    if algorithm:
        uri += f"/{algorithm}"
    if stale_after:
        uri += f"/{stale_after}"
    return uri


DIGEST_CASES = [
    (qop, algorithm, body)
    for qop in (None, "auth", "auth-int")
    for algorithm in (None, "MD5", "SHA-256", "SHA-512")
    for body in (None, b"", b"request payload")
]


@pytest.mark.parametrize(("qop", "algorithm", "body"), DIGEST_CASES)
def test_digest_auth(
    gw: GatewayProcess, qop: str | None, algorithm: str | None, body: bytes | None
) -> None:
    """The digest covers the URI the client requested, prefix included: httpbin rebuilds it
    from ``SCRIPT_NAME`` + ``PATH_INFO``."""
    for stale_after in (None, 1, 4) if algorithm else (None,):
        with httpx.Client(base_url=f"{gw.base_url}/httpbin", timeout=30) as http:
            path = _digest_uri(qop, algorithm, stale_after)
            challenge = http.get(path)
            assert challenge.status_code == 401
            header = challenge.headers["WWW-Authenticate"]
            uri = f"/httpbin{path}"

            def answer(
                nc: int,
                header: str = header,
                http: httpx.Client = http,
                path: str = path,
                uri: str = uri,
            ) -> httpx.Response:
                auth, _ = _digest_header(header, "user", "passwd", uri, qop, body, nc)
                return http.request("GET", path, headers={"Authorization": auth}, content=body)

            assert answer(1).status_code == 200
            if stale_after is None:
                continue
            for nc in range(2, stale_after + 1):
                assert answer(nc).status_code == 200
            stale = answer(stale_after + 1)
            assert stale.status_code == 401
            assert "stale=true" in stale.headers["WWW-Authenticate"].lower()


@pytest.mark.parametrize(("qop", "algorithm", "body"), DIGEST_CASES)
def test_digest_auth_wrong_password_then_reused_nonce(
    gw: GatewayProcess, qop: str | None, algorithm: str | None, body: bytes | None
) -> None:
    with httpx.Client(base_url=f"{gw.base_url}/httpbin", timeout=30) as http:
        path = _digest_uri(qop, algorithm, 3)
        uri = f"/httpbin{path}"
        header = http.get(path).headers["WWW-Authenticate"]
        auth, nonce = _digest_header(header, "user", "wrongPassword", uri, qop, body, 1)
        wrong = http.request("GET", path, headers={"Authorization": auth}, content=body)
        assert wrong.status_code == 401
        assert "stale=true" not in wrong.headers["WWW-Authenticate"].lower()
        auth, _ = _digest_header(
            wrong.headers["WWW-Authenticate"], "user", "passwd", uri, qop, body, 1, nonce
        )
        reused = http.request("GET", path, headers={"Authorization": auth}, content=body)
        assert reused.status_code == 401
        assert "stale=true" in reused.headers["WWW-Authenticate"].lower()


def test_digest_auth_with_wrong_authorization_type(http: httpx.Client) -> None:
    for headers in ({"Authorization": "Basic 1234abcd"}, {"Authorization": ""}, {}):
        assert http.get("/digest-auth/auth/myname/mysecret", headers=headers).status_code == 401
    wrong = 'Digest username="user",realm="wrong",nonce="wrong",uri="/httpbin/digest-auth/user/passwd/MD5",response="wrong",opaque="wrong"'
    response = http.get("/digest-auth/auth/user/passwd/MD5", headers={"Authorization": wrong})
    assert response.status_code == 401 and "Digest" in response.headers["WWW-Authenticate"]


# -- streaming and dynamic data ----------------------------------------------------------


def test_drip(http: httpx.Client) -> None:
    response = http.get("/drip?numbytes=400&duration=0.4&delay=0.2")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "400" and len(response.content) == 400
    for bad in (-1, 0):
        assert http.get(f"/drip?numbytes={bad}&duration=2&delay=1").status_code == 400
    coded = http.get("/drip?numbytes=400&duration=0.4&code=500")
    assert coded.status_code == 500 and len(coded.content) == 400


def test_drip_streams_the_first_byte_before_the_last(http: httpx.Client) -> None:
    """PEP 3333: each block the app yields reaches the client without waiting for the next.
    /drip yields one byte every 0.6 s; the first must arrive long before the app finishes."""
    started = time.monotonic()
    arrivals: list[float] = []
    with http.stream("GET", "/drip?numbytes=4&duration=2.4&delay=0") as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            arrivals.extend(time.monotonic() - started for _ in chunk)
    assert len(arrivals) == 4
    assert arrivals[-1] >= 1.6, arrivals
    assert arrivals[0] < arrivals[-1] - 1.0, (
        f"first byte at {arrivals[0]:.2f}s, last at {arrivals[-1]:.2f}s"
    )


def test_stream_lines(gw: GatewayProcess, http: httpx.Client) -> None:
    lines = http.get("/stream/5").text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2, 3, 4]
    assert json.loads(lines[0])["url"] == f"{gw.base_url}/httpbin/stream/5"


def test_bytes_and_stream_bytes(http: httpx.Client) -> None:
    for endpoint in ("bytes", "stream-bytes"):
        response = http.get(f"/{endpoint}/1024")
        assert response.status_code == 200 and len(response.content) == 1024
        assert (
            http.get(f"/{endpoint}/10?seed=0").content == b"\xc5\xd7\x14\x84\xf8\xcf\x9b\xf4\xb7o"
        )


def test_delay(http: httpx.Client) -> None:
    started = time.monotonic()
    assert http.post("/delay/0.3", data={"a": "b"}).json()["form"] == {"a": "b"}
    assert time.monotonic() - started >= 0.3


def test_status_codes(http: httpx.Client) -> None:
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE"):
        assert http.request(method, "/status/418").status_code == 418
    assert http.get("/status/4!9").status_code == 400
    assert http.get("/status/200,402,foo").status_code == 400


# -- redirects: built with url_for, so under the prefix ----------------------------------


def test_redirect_n_times(http: httpx.Client) -> None:
    assert http.get("/redirect/5").headers["Location"] == "/httpbin/relative-redirect/4"
    one = http.get("/redirect/1")
    assert one.status_code == 302 and one.headers["Location"] == "/httpbin/get"
    followed = http.get("/redirect/3", follow_redirects=True)
    assert followed.status_code == 200 and followed.url.path == "/httpbin/get"
    assert len(followed.history) == 3


def test_relative_redirects(http: httpx.Client) -> None:
    assert http.get("/relative-redirect/1").headers["Location"] == "/httpbin/get"
    seven = http.get("/relative-redirect/7")
    assert seven.status_code == 302 and seven.headers["Location"] == "/httpbin/relative-redirect/6"


def test_absolute_redirects(gw: GatewayProcess, http: httpx.Client) -> None:
    base = re.escape(gw.base_url)
    assert re.fullmatch(
        f"{base}/httpbin/absolute-redirect/4",
        http.get("/redirect/5?absolute=true").headers["Location"],
    )
    assert re.fullmatch(
        f"{base}/httpbin/absolute-redirect/4", http.get("/absolute-redirect/5").headers["Location"]
    )
    one = http.get("/absolute-redirect/1")
    assert one.status_code == 302 and one.headers["Location"] == f"{gw.base_url}/httpbin/get"


def test_redirect_to(http: httpx.Client) -> None:
    response = http.post(
        "/redirect-to?url=/post&status_code=307",
        content=b"\x01\x02\x03\x81\x82\x83",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 307 and response.headers["Location"] == "/post"


def test_links_pages(http: httpx.Client) -> None:
    assert http.get("/links/3").headers["Location"] == "/httpbin/links/3/0"
    page = http.get("/links/3/1").text
    assert "href='/httpbin/links/3/0'" in page and "href='/httpbin/links/3/2'" in page


# -- cookies -----------------------------------------------------------------------------


def test_cookies_set_redirects_to_the_prefixed_cookies_page(http: httpx.Client) -> None:
    response = http.get("/cookies/set?k1=v1&k2=v2")
    assert response.status_code == 302 and response.headers["Location"] == "/httpbin/cookies"
    assert http.get("/cookies").json() == {"cookies": {"k1": "v1", "k2": "v2"}}
    http.get("/cookies/set/name/value")
    assert http.get("/cookies").json()["cookies"]["name"] == "value"
    deleted = http.get("/cookies/delete?k1", follow_redirects=True)
    assert deleted.url.path == "/httpbin/cookies"
    assert deleted.json() == {"cookies": {"k2": "v2", "name": "value"}}


# -- ranges, caching, etags ---------------------------------------------------------------


def test_request_range(http: httpx.Client) -> None:
    first, second = http.get("/range/1234"), http.get("/range/1234")
    assert first.status_code == 200
    assert first.headers["ETag"] == "range1234"
    assert first.headers["Content-Range"] == "bytes 0-1233/1234"
    assert first.headers["Accept-Ranges"] == "bytes"
    assert len(first.content) == 1234 and first.content == second.content


@pytest.mark.parametrize(
    ("path", "byte_range", "body", "content_range"),
    [
        (
            "/range/100?duration=0.3&chunk_size=5",
            "bytes=10-24",
            b"klmnopqrstuvwxy",
            "bytes 10-24/100",
        ),
        ("/range/1000", "bytes=0-15", b"abcdefghijklmnop", "bytes 0-15/1000"),
        ("/range/26", "bytes=20-", b"uvwxyz", "bytes 20-25/26"),
        ("/range/26", "bytes=-5", b"vwxyz", "bytes 21-25/26"),
    ],
)
def test_request_partial_range(
    http: httpx.Client, path: str, byte_range: str, body: bytes, content_range: str
) -> None:
    response = http.get(path, headers={"Range": byte_range})
    assert response.status_code == 206
    assert response.content == body
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(body))


def test_request_out_of_bounds(http: httpx.Client) -> None:
    response = http.get("/range/26", headers={"Range": "bytes=10-5"})
    assert response.status_code == 416 and response.content == b""
    assert response.headers["Content-Range"] == "bytes */26"
    assert response.headers["ETag"] == "range26"
    for byte_range in ("bytes=32-40", "bytes=0-40"):
        assert http.get("/range/26", headers={"Range": byte_range}).status_code == 416


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-None-Match": "abc"}, 304),
        ({"If-None-Match": '"123", "abc"'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": "123"}, 200),
        ({"If-Match": "abc"}, 200),
        ({"If-Match": '"123", "abc"'}, 200),
        ({"If-Match": "*"}, 200),
        ({}, 200),
    ],
)
def test_etag(http: httpx.Client, headers: dict[str, str], status: int) -> None:
    response = http.get("/etag/abc", headers=headers)
    assert response.status_code == status and response.headers["ETag"] == "abc"


def test_etag_weak_and_no_match(http: httpx.Client) -> None:
    weak = http.get(
        "/etag/c3piozzzz", headers={"If-None-Match": 'W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz"'}
    )
    assert weak.status_code == 304 and weak.headers["ETag"] == "c3piozzzz"
    failed = http.get("/etag/abc", headers={"If-Match": "123"})
    assert failed.status_code == 412 and "ETag" not in failed.headers


def test_cache(http: httpx.Client) -> None:
    assert http.get("/cache").status_code == 200
    assert (
        http.get(
            "/cache", headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
        ).status_code
        == 304
    )
    assert http.get("/cache/60").headers["Cache-Control"] == "public, max-age=60"
