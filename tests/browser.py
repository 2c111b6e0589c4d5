"""A real Chromium for the dashboard's tests and screenshot: Debian's ``chromium`` package,
driven by Playwright through ``executable_path``.

Playwright's own browser download (``playwright install``) cannot be used: only the package
registries are reachable. So the browser is the distribution's, installed here with apt-get
when it is missing, and any failure to get it fails loudly instead of skipping the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ("chromium",)

#: headless, and nothing that talks to the network on its own (updates, sync, QUIC probes):
#: the only requests a test browser makes are the page's own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _apt_lists_present() -> bool:
    lists = Path("/var/lib/apt/lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise RuntimeError(
            f"{CHROMIUM} is missing and there is no apt-get to install it: install Chromium "
            f"and make it available as {CHROMIUM}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        [apt_get, *args], env=env, capture_output=True, text=True, timeout=900, check=False
    )


def ensure_chromium() -> Path:
    """Return the path of Debian's Chromium, installing the package first if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    updated = False
    if not _apt_lists_present():
        _check(_apt("update"), "apt-get update")
        updated = True
    install = _apt("install", "-y", *APT_PACKAGES)
    if install.returncode != 0 and not updated:
        # Stale package lists name versions the mirror no longer has: refresh, try again.
        _check(_apt("update"), "apt-get update")
        install = _apt("install", "-y", *APT_PACKAGES)
    _check(install, f"apt-get install -y {' '.join(APT_PACKAGES)}")
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get installed {APT_PACKAGES} but {CHROMIUM} is still missing")
    return CHROMIUM


def _check(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} failed with exit code {result.returncode} (the dashboard tests need "
            f"Debian's chromium package; run it as root):\n{result.stdout}\n{result.stderr}"
        )


def launch_chromium(playwright: Playwright) -> Browser:
    """Start Debian's Chromium (installing it if needed) under Playwright."""
    return playwright.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)
