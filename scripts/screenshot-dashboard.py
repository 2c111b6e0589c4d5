"""Take docs/dashboard.png: the dashboard of a gateway serving the example plugins and one
that fails, with some traffic going, in Debian's Chromium.

    .venv/bin/python scripts/screenshot-dashboard.py [--output docs/dashboard.png]

It reuses the test suite's gateway launcher and browser set-up (``tests/conftest.py``,
``tests/browser.py``), so it needs the ``dev`` extra and installs Chromium if missing.
Rerun it when the page changes (or once the gateway has ``/metrics``, to show real rates).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import launch_chromium  # noqa: E402
from conftest import EXAMPLES, FIXTURES, TOKEN, launch_gateway  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

TRAFFIC = ["/fastapi-demo/", "/flask-demo/", "/functions-demo/add?a=1&b=2", "/django-demo/"]
MAX_REQUESTS = 5_000  # the traffic thread stops at this count or when the shot is taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "dashboard.png")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gateway-dashboard-") as tmp:
        workdir = Path(tmp)
        plugins = workdir / "plugins"
        plugins.mkdir()
        # A realistic name for the plugin that fails at import.
        shutil.copytree(FIXTURES / "broken-raises", plugins / "legacy-reports")
        examples = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name[0] not in "._")
        gateway = launch_gateway(workdir, *examples)
        done = threading.Event()

        def traffic() -> None:
            for i in range(MAX_REQUESTS):
                if done.is_set():
                    return
                gateway.client.get(TRAFFIC[i % len(TRAFFIC)])

        sender = threading.Thread(target=traffic, daemon=True)
        try:
            sender.start()
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1440, "height": 560})
                page.goto(f"{gateway.base_url}/_gateway/")
                page.get_by_label("Admin token").fill(TOKEN)
                page.get_by_role("button", name="Sign in").click()
                rows = page.locator("#plugin-rows tr")
                expect(rows).to_have_count(len(examples) + 1, timeout=60_000)
                # Two scrapes give rates (or the page has said metrics are unavailable).
                expect(page.locator("td.rate").first).not_to_have_text("measuring…", timeout=30_000)
                expect(page.locator("td.rate").first).not_to_be_empty()
                page.screenshot(path=str(args.output), full_page=True)
                browser.close()
        finally:
            done.set()
            sender.join(timeout=30)
            gateway.stop()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
