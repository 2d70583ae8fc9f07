"""Debian's Chromium, headless, driven by Playwright: the browser tests' one way to start it.

``make test`` installs Chromium when it can (``scripts/ensure-chromium.sh``); where it cannot,
the browser tests skip and say why (a failure under ``CI=true``). Playwright's own browser
download is never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium dials Google services, and on an offline machine its connections
    # are refused; they also keep the test from sending traffic to any non-loopback host.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser, or a skip naming how to install Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"[required tool] Chromium not found at {CHROMIUM}: `make test` installs it with "
            "apt-get when run as root (scripts/ensure-chromium.sh); otherwise "
            "`sudo apt-get install -y chromium`"
        )
    with playwright_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def watched_page(
    browser: Any, *allowed: str, viewport: dict[str, int] | None = None
) -> Iterator[Any]:
    """A fresh tab that fails the test on a script error or a request to any URL not under
    ``allowed`` (``data:`` and ``blob:`` URLs are the page's own)."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    local = (*allowed, "data:", "blob:")
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("request", lambda req: None if req.url.startswith(local) else foreign.append(req.url))
    yield tab
    context.close()
    assert errors == [], f"script errors on the page: {errors}"
    assert foreign == [], f"the page requested other hosts: {foreign}"
