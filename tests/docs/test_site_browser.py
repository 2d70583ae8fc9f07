"""The built site in a real browser (Debian's Chromium through Playwright), served over HTTP.

A reader's path: the home page renders, the navigation reaches every page, the search finds a
field name, and the dashboard's screenshot loads. Nothing is requested from any other host.
Screenshots land in ``test-artifacts/docs/``.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.browser import ARTIFACTS, chromium, playwright_api, watched_page
from tests.docs.site import BuiltSite, nav_pages, page_url

expect = playwright_api.expect
SHOTS = ARTIFACTS / "docs"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(built_site: BuiltSite) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(built_site.root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, site_url: str) -> Iterator[Any]:
    with watched_page(browser, site_url) as tab:
        yield tab


def test_the_home_page_renders(page: Any, site_url: str) -> None:
    page.goto(site_url)
    expect(page).to_have_title("ray2-mock")
    expect(page.locator("article h1")).to_have_text(re.compile(r"^ray2-mock\W*$"))
    expect(page.locator("article")).to_contain_text("make serve")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "home.png"), full_page=False)


def test_the_navigation_reaches_every_page(page: Any, site_url: str) -> None:
    page.goto(site_url)
    hrefs = page.eval_on_selector_all(
        "nav.md-nav--primary a.md-nav__link[href]", "links => links.map(a => a.href)"
    )
    reached = {href.removeprefix(site_url).split("#")[0] for href in hrefs}
    expected = {page_url(source) for source in nav_pages()}
    assert expected <= reached, f"not in the navigation: {expected - reached}"
    for url in sorted(expected):
        response = page.goto(site_url + url)
        assert response is not None and response.status == 200, url
        expect(page.locator("article h1").first).to_be_visible()


def test_search_finds_image_url(page: Any, site_url: str) -> None:
    page.goto(site_url)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator("input.md-search__input").fill("image_url")
    results = page.locator(".md-search-result__item")
    expect(results.first).to_be_visible(timeout=15_000)
    assert results.count() >= 3
    expect(page.locator(".md-search-result")).to_contain_text("image_url")
    page.screenshot(path=str(SHOTS / "search.png"))


def test_the_dashboard_screenshot_loads(page: Any, site_url: str) -> None:
    page.goto(site_url + page_url("dashboard.md"))
    image = page.locator("article img[alt^='The dashboard']")
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    width = image.evaluate("img => img.naturalWidth")
    assert width >= 800
    page.screenshot(path=str(SHOTS / "dashboard-page.png"))
