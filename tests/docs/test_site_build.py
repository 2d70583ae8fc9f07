"""`make docs`'s strict build passes, and what it renders is whole.

The strict build already fails on a broken link, a missing anchor or a page left out of the
navigation (mkdocs.yml ``validation``); these tests hold what it cannot see: a code fence that
did not render, a page the home page does not reach, a reference that lost its operations.
"""

from __future__ import annotations

import re

from contracts.openapi import load_openapi
from tests.docs.site import BuiltSite, nav_pages, page_url
from tests.support import REPO_ROOT

HREF = re.compile(r'href="([^"#]*)(?:#[^"]*)?"')
OPERATION_HEADING = re.compile(
    r'<h3 id="[^"]*">(<span class="http-[a-z]+">.*?)<a class="headerlink"'
)
METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}


def test_the_strict_build_passes_without_a_warning(built_site: BuiltSite) -> None:
    assert "WARNING" not in built_site.log, built_site.log


def test_every_markdown_file_is_a_page_of_the_navigation() -> None:
    files = sorted(p.name for p in (REPO_ROOT / "docs").glob("*.md"))
    assert sorted(nav_pages()) == files


def test_no_code_fence_is_left_unrendered(built_site: BuiltSite) -> None:
    """A fence line superfences does not understand becomes inline text, silently."""
    for source in nav_pages():
        html = built_site.page(source)
        assert "```" not in html, f"{source}: a code fence was not rendered"
        assert "<p>=== " not in html, f"{source}: a content tab was not rendered"


def test_every_page_is_one_click_from_the_home_page(built_site: BuiltSite) -> None:
    home = built_site.page("index.md")
    main = home[home.index('<article class="md-content__inner') :]
    linked = {href.strip("./").removesuffix("index.html") for href in HREF.findall(main)}
    missing = [s for s in nav_pages() if s != "index.md" and page_url(s).strip("/") not in linked]
    assert missing == [], f"pages the home page's text does not link: {missing}"


def test_the_http_reference_lists_every_operation_of_the_openapi_document(
    built_site: BuiltSite,
) -> None:
    html = built_site.page("control-api.md")
    shown = {re.sub(r"<[^>]+>", "", heading) for heading in OPERATION_HEADING.findall(html)}
    declared = {
        f"{method.upper()} {path}"
        for path, item in load_openapi()["paths"].items()
        for method in item.keys() & METHODS
    }
    assert len(declared) > 60 and shown == declared


def test_the_python_api_is_rendered_from_the_docstrings(built_site: BuiltSite) -> None:
    html = built_site.page("api.md")
    for anchor in (
        "contracts.pytest.plugin.ray2_mock",
        "contracts.pytest.mock_handle.Ray2Mock",
        "mockserver.serving.background.BackgroundEmulator",
        "contracts.generation.strategies.valid_inputs",
        "contracts.server.suite.run_suite",
    ):
        assert f'id="{anchor}"' in html, anchor
    # a docstring's own words, so the page is rendered from the code, not from a summary
    assert "Move the emulator&rsquo;s clock forward" in html or "Move the emulator's clock" in html


def test_the_ledgers_sources_link_to_their_quotes(built_site: BuiltSite) -> None:
    """Each source the ledger's evidence column names is a link to its entry on the evidence
    page, whose heading carries that id (the strict build checks every anchor too)."""
    ledger = built_site.page("fidelity.md")
    evidence = built_site.page("evidence.md")
    anchors = set(re.findall(r'href="\.\./evidence/#([^"]+)"', ledger))
    assert len(anchors) >= 50, sorted(anchors)
    assert all(f'id="{anchor}"' in evidence for anchor in anchors)
    assert re.search(r'<a href="\.\./evidence/#model-errors-docs">model-errors-docs</a>', ledger)
