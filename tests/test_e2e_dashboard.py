"""The dashboard at ``/_gateway/``, end to end in a real Chromium (Debian's, via Playwright):
sign in, see a failed plugin's error, reload a plugin and watch its generation change, read
rates and latency from the metrics, and never make a request off 127.0.0.1.

One gateway serves the module: a working Flask plugin, a plugin that fails at import, and one
whose error message is an HTML payload (it must show as text). Each test gets a fresh browser
context, so a fresh ``sessionStorage``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from browser import launch_chromium
from conftest import TOKEN, GatewayProcess, launch_gateway
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    Route,
    expect,
    sync_playwright,
)

# Installing Chromium (first run on a new machine) happens in the first test's setup.
pytestmark = pytest.mark.timeout(900)

UI_TIMEOUT_MS = 20_000  # the machine is shared: generous, and only reached on failure
expect.set_options(timeout=UI_TIMEOUT_MS)
HTML_PAYLOAD = "<img src=x id=injected-img><b id=injected-b>bold</b>"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("dashboard")
    evil = workdir / "src" / "evil-html"
    evil.mkdir(parents=True)
    (evil / "app.py").write_text(f"raise RuntimeError({HTML_PAYLOAD!r})\n")
    gateway = launch_gateway(workdir, "flask-a", "broken-raises", evil)
    yield gateway
    assert gateway.stop() == 0, gateway.log()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


class Recorder:
    """Every request the page makes, its console messages and its uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.console: list[ConsoleMessage] = []
        self.page_errors: list[str] = []
        page.on("request", self._request)
        page.on("console", lambda message: self.console.append(message))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _request(self, request: Request) -> None:
        self.urls.append(request.url)

    def assert_only_local_requests(self) -> None:
        assert self.urls, "the page made no request at all"
        remote = [url for url in self.urls if urlsplit(url).hostname != "127.0.0.1"]
        assert remote == [], remote

    def assert_no_console_errors(self, allowed_failures: dict[str, int]) -> None:
        """No uncaught exception, no error or warning logged, but Chromium's own line for
        each expected failed response (``{"/_gateway/plugins": 401}`` for a wrong token):
        the browser logs every 4xx answer to ``fetch``, whatever the page does with it."""
        assert self.page_errors == []
        unexpected = []
        for message in self.console:
            if message.type not in ("error", "warning"):
                continue
            path = urlsplit(message.location.get("url", "")).path
            status = allowed_failures.get(path)
            expected_line = f"the server responded with a status of {status} "
            if status is None or expected_line not in message.text:
                unexpected.append(f"{message.type}: {message.text} ({path})")
        assert unexpected == []


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 700})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


def sign_in(page: Page, gw: GatewayProcess, token: str = TOKEN) -> None:
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))


def test_sign_in_see_a_failed_plugin_and_reload_one(page: Page, gw: GatewayProcess) -> None:
    recorder = Recorder(page)
    page.goto(f"{gw.base_url}/_gateway/")

    # The page asks for the token before showing anything.
    expect(page.get_by_label("Admin token")).to_be_visible()
    expect(page.get_by_role("table")).to_be_hidden()

    sign_in(page, gw, "not-the-token")
    expect(page.get_by_role("alert")).to_contain_text("did not accept this token")
    expect(page.get_by_label("Admin token")).to_be_visible()
    expect(page.get_by_role("table")).to_be_hidden()

    sign_in(page, gw)
    expect(page.get_by_label("Admin token")).to_be_hidden()
    flask_a, broken = row(page, "flask-a"), row(page, "broken-raises")
    expect(flask_a.locator("td.status")).to_have_text("active")
    expect(flask_a.locator("td.framework")).to_have_text("flask")
    expect(flask_a.locator("td.generation")).to_have_text("1")
    expect(flask_a.get_by_role("link", name="/flask-a")).to_have_attribute("href", "/flask-a/")
    expect(broken.locator("td.status")).to_have_text("failed")
    expect(broken.locator("td.error")).to_contain_text("RuntimeError")
    expect(broken.locator("td.error")).to_contain_text("database unreachable")
    expect(page.get_by_role("row")).to_have_count(4)  # the header and three plugins
    # The traffic columns come from /metrics: after two scrapes, a rate and a latency.
    for _ in range(5):
        gw.client.get("/flask-a/")
    expect(flask_a.locator("td.rate")).to_contain_text("/s", timeout=20_000)
    expect(flask_a.locator("td.latency")).to_contain_text("s")
    expect(flask_a.locator("td.in-flight")).to_have_text("0")

    flask_a.get_by_role("button", name="Reload flask-a").click()
    expect(flask_a.locator("td.generation")).to_have_text("2")
    expect(page.get_by_role("status")).to_contain_text("flask-a reloaded: generation 2")
    assert gw.plugin("flask-a")["generation"] == 2
    assert gw.plugin("broken-raises")["generation"] == 0  # only the one clicked reloaded

    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({"/_gateway/plugins": 401, "/_gateway/metrics": 404})


def test_error_messages_show_as_text_never_as_html(page: Page, gw: GatewayProcess) -> None:
    recorder = Recorder(page)
    page.goto(f"{gw.base_url}/_gateway/")
    sign_in(page, gw)
    error = row(page, "evil-html").locator("td.error")
    expect(error).to_contain_text(HTML_PAYLOAD)
    expect(page.locator("#injected-img, #injected-b")).to_have_count(0)
    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({"/_gateway/metrics": 404})


def test_the_token_is_kept_for_the_tab_until_sign_out(
    page: Page, browser: Browser, gw: GatewayProcess
) -> None:
    page.goto(f"{gw.base_url}/_gateway/")
    sign_in(page, gw)
    expect(row(page, "flask-a")).to_be_visible()

    page.reload()
    expect(row(page, "flask-a")).to_be_visible()
    expect(page.get_by_label("Admin token")).to_be_hidden()

    other = browser.new_context()  # another browser session: asked again
    try:
        fresh = other.new_page()
        fresh.goto(f"{gw.base_url}/_gateway/")
        expect(fresh.get_by_label("Admin token")).to_be_visible()
    finally:
        other.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Admin token")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Admin token")).to_be_visible()


def test_a_token_refused_later_asks_for_it_again(page: Page, gw: GatewayProcess) -> None:
    """The gateway restarted with another token: the next refresh gets 401 and the page
    asks for the token, saying why, instead of showing stale data."""
    recorder = Recorder(page)
    page.goto(f"{gw.base_url}/_gateway/")
    sign_in(page, gw)
    expect(row(page, "flask-a")).to_be_visible()
    page.route(
        f"{gw.base_url}/_gateway/plugins",
        lambda route: route.fulfill(status=401, json={"detail": "invalid bearer token"}),
    )
    expect(page.get_by_role("alert")).to_contain_text("no longer accepts the token")
    expect(page.get_by_label("Admin token")).to_be_visible()
    expect(page.get_by_role("table")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({"/_gateway/plugins": 401, "/_gateway/metrics": 404})


def prometheus_text(scrape: int) -> str:
    """What a gateway with metrics would answer at its ``scrape``-th scrape: flask-a gets
    20 more requests each time, each taking 50 ms; broken-raises has no series."""
    requests = 10 + 20 * scrape
    lines = [
        "# HELP gateway_requests_total Requests answered, by plugin, method and status code.",
        "# TYPE gateway_requests_total counter",
        f'gateway_requests_total{{code="200",method="GET",plugin="flask-a"}} {requests - 5}.0',
        'gateway_requests_total{code="500",method="POST",plugin="flask-a"} 5.0',
        'gateway_requests_total{code="404",method="GET",plugin=""} 7.0',
        'gateway_requests_total{code="200",method="GET",plugin="weird \\"quoted\\"\\\\name"} 1.0',
        'gateway_requests_created{code="200",method="GET",plugin="flask-a"} 1.7e9',
        "# TYPE gateway_request_duration_seconds histogram",
        f'gateway_request_duration_seconds_bucket{{le="0.1",plugin="flask-a"}} {requests}.0',
        f'gateway_request_duration_seconds_bucket{{le="+Inf",plugin="flask-a"}} {requests}.0',
        f'gateway_request_duration_seconds_count{{plugin="flask-a"}} {requests}.0',
        f'gateway_request_duration_seconds_sum{{plugin="flask-a"}} {requests * 0.05}',
        "# TYPE gateway_requests_in_flight gauge",
        'gateway_requests_in_flight{plugin="flask-a"} 3.0',
        "",
    ]
    return "\n".join(lines)


def test_rates_and_latency_come_from_two_scrapes(page: Page, gw: GatewayProcess) -> None:
    """/metrics does not exist in the gateway yet: the browser answers it with text as the
    gateway's will be, so the page's parsing and arithmetic are what is tested."""
    recorder = Recorder(page)
    scrapes: list[int] = []
    lock = threading.Lock()

    def metrics(route: Route) -> None:
        assert route.request.headers.get("authorization") == f"Bearer {TOKEN}"
        with lock:
            scrapes.append(len(scrapes))
            n = scrapes[-1]
        route.fulfill(
            status=200,
            content_type="text/plain; version=0.0.4; charset=utf-8",
            body=prometheus_text(n),
        )

    page.route(f"{gw.base_url}/_gateway/metrics", metrics)
    page.goto(f"{gw.base_url}/_gateway/")
    sign_in(page, gw)
    flask_a, broken = row(page, "flask-a"), row(page, "broken-raises")
    expect(flask_a.locator("td.in-flight")).to_have_text("3")
    # The first scrape alone gives no rate; the second (one refresh later) does.
    expect(flask_a.locator("td.latency")).to_have_text("50.0 ms")
    rate = flask_a.locator("td.rate").text_content() or ""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)/s", rate)
    assert match and float(match[1]) > 0, rate
    expect(broken.locator("td.rate")).to_have_text("0.00/s")
    expect(broken.locator("td.latency")).to_have_text("—")
    assert len(scrapes) >= 2
    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({})


def test_metrics_parser(page: Page, gw: GatewayProcess) -> None:
    """The text-format parser and the rate arithmetic, run in the browser as the page runs
    them (``metrics.js`` is an ES module beside the page)."""
    page.goto(f"{gw.base_url}/_gateway/")
    result = page.evaluate(
        """async (text) => {
            const m = await import(new URL("metrics.js", location.href));
            const { samples, skipped } = m.parsePrometheus(text);
            const plain = samples.map((s) => [s.name, Object.fromEntries(s.labels), String(s.value)]);
            const at = (time, count, sum) => ({ time, totals: m.totalsByPlugin(m.parsePrometheus(
                `gateway_requests_total{plugin="p",code="200",method="GET"} ${count}\\n` +
                `gateway_request_duration_seconds_count{plugin="p"} ${count}\\n` +
                `gateway_request_duration_seconds_sum{plugin="p"} ${sum}\\n`).samples) });
            return {
                plain,
                skipped,
                normal: m.pluginActivity(at(1000, 10, 1), at(3000, 30, 3), "p"),
                first: m.pluginActivity(null, at(3000, 30, 3), "p"),
                reset: m.pluginActivity(at(1000, 30, 3), at(3000, 4, 0.2), "p"),
                idle: m.pluginActivity(at(1000, 30, 3), at(3000, 30, 3), "p"),
                formats: [m.formatSeconds(0.0123), m.formatSeconds(0.0004), m.formatSeconds(2.5),
                          m.formatRate(0), m.formatRate(12.34), m.formatRate(1234.5)],
            };
        }""",
        "\n".join(
            [
                '# HELP x_total help text with } and " in it',
                "# TYPE x_total counter",
                'x_total{a="1",b="two words"} 3',
                'x_total{a="q\\"uote",b="back\\\\slash",c="new\\nline",} 4 1700000000000',
                "y +Inf",
                "y_neg -Inf",
                "z NaN",
                "sci 1.5e-3",
                '  spaced{a = "1"}   2  ',
                "",
                'broken{a="unterminated} 1',
                'no_value{a="1"}',
                "bad_value nope",
                "1starts_with_digit 1",
            ]
        ),
    )
    assert result["plain"] == [
        ["x_total", {"a": "1", "b": "two words"}, "3"],
        ["x_total", {"a": 'q"uote', "b": "back\\slash", "c": "new\nline"}, "4"],
        ["y", {}, "Infinity"],
        ["y_neg", {}, "-Infinity"],
        ["z", {}, "NaN"],
        ["sci", {}, "0.0015"],
        ["spaced", {"a": "1"}, "2"],
    ]
    assert result["skipped"] == 4
    assert result["normal"] == {"rate": 10, "meanLatency": 0.1, "inFlight": 0}
    assert result["first"] == {"rate": None, "meanLatency": None, "inFlight": 0}
    assert result["reset"] == {"rate": None, "meanLatency": None, "inFlight": 0}
    assert result["idle"] == {"rate": 0, "meanLatency": None, "inFlight": 0}
    assert result["formats"] == ["12.3 ms", "0.40 ms", "2.50 s", "0.00/s", "12.3/s", "1235/s"]


@pytest.fixture(scope="module")
def api_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = launch_gateway(tmp_path_factory.mktemp("docs"), "api-calc", "api-store")
    yield gateway
    assert gateway.stop() == 0, gateway.log()


def test_the_docs_page_shows_the_merged_api_offline(page: Page, api_gw: GatewayProcess) -> None:
    recorder = Recorder(page)
    page.goto(f"{api_gw.base_url}/_gateway/docs")
    # no token yet: the page asks for it, like the dashboard
    expect(page.get_by_label("Admin token")).to_be_visible()
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="api-store")).to_be_visible()
    expect(page.get_by_role("heading", name="api-calc")).to_be_visible()
    operation = page.locator("details.operation", has_text="/api-calc/hello")
    operation.locator("summary").click()
    expect(operation).to_contain_text("operationId: api-calc__hello")
    expect(operation).to_contain_text("Say hello.")
    expect(page.locator("#schema-api-store__catalog__Item")).to_have_count(1)
    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({"/_gateway/openapi.json": 401})


def test_a_functions_plugins_own_docs_page(page: Page, api_gw: GatewayProcess) -> None:
    recorder = Recorder(page)
    page.goto(f"{api_gw.base_url}/api-calc/docs")
    expect(page.get_by_role("heading", name="api-calc", exact=True).first).to_be_visible()
    expect(page.locator("details.operation", has_text="/sum")).to_contain_text("Add numbers.")
    recorder.assert_only_local_requests()
    recorder.assert_no_console_errors({})
