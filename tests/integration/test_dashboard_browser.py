"""The dashboard in a real headless browser: Debian's Chromium driven by Playwright.

The page is exercised as a user would: fill the generated form, submit through the queue API,
watch the request complete and its video decode. Screenshots land in ``test-artifacts/``.
``make test`` installs Chromium when it can (``scripts/ensure-chromium.sh``); where it cannot,
these tests skip and say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.browser import ARTIFACTS as BROWSER_ARTIFACTS
from tests.browser import chromium, playwright_api, watched_page
from tests.support import TEST_KEY, expected_size, make_config, route_fal_client

expect = playwright_api.expect
ARTIFACTS = BROWSER_ARTIFACTS / "dashboard"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
T2V = "fal-ai/luma-dream-machine/ray-2"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
FOX = "A red fox running through fresh snow at dawn"
SETTLE_MS = 60_000  # a render on a loaded 2-core machine; normally ~3 s with timing=fast


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    config = make_config(tmp_path_factory.mktemp("dashboard-browser"), timing="fast")
    with BackgroundEmulator(config) as running:
        yield running


@pytest.fixture
def page(browser: Any, emulator: BackgroundEmulator) -> Iterator[Any]:
    """A fresh page on the dashboard; fails the test on a script error or a non-local request."""
    with watched_page(browser, emulator.url + "/", viewport=DESKTOP) as tab:
        tab.goto(emulator.url + "/_mock/ui")
        tab.wait_for_selector("body[data-ready]")
        yield tab


def screenshot(tab: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def video_state(tab: Any) -> dict[str, Any]:
    return tab.evaluate(
        """() => { const v = document.getElementById('detail-video');
        return {ready: v.readyState, width: v.videoWidth, height: v.videoHeight,
                duration: v.duration, src: v.currentSrc}; }"""
    )


def test_playground_submission_completes_and_its_video_plays(
    page: Any, emulator: BackgroundEmulator
) -> None:
    # The form comes from the schema: enums are selects with their defaults chosen.
    expect(page.locator("#field-resolution")).to_have_value("540p")
    expect(page.locator("#field-duration")).to_have_value("5s")
    expect(page.locator("#field-aspect_ratio option")).to_have_count(6)
    expect(page.locator("#field-loop")).not_to_be_checked()

    page.fill("#field-prompt", FOX)
    page.select_option("#field-aspect_ratio", "9:16")
    page.click("#play-submit")
    status = page.locator("#play-status")
    expect(status).to_have_text(re.compile(r"^(IN_QUEUE( #\d+)?|IN_PROGRESS)$"))
    request_id = page.locator("#play-request-id").inner_text()
    row = page.locator(f'#request-rows tr[data-id="{request_id}"]')
    expect(row).to_have_count(1)
    expect(status).to_have_text("COMPLETED", timeout=SETTLE_MS)
    expect(page.locator("#detail-status")).to_have_text("COMPLETED")
    expect(row.locator(".badge")).to_have_text("COMPLETED")
    expect(row.locator(".params")).to_have_text("9:16 · 540p · 5s")
    expect(page.locator("#detail-logs")).to_contain_text("Video generated")

    page.wait_for_function(
        "document.getElementById('detail-video').readyState >= 2", timeout=SETTLE_MS
    )
    shown = video_state(page)
    assert (shown["width"], shown["height"]) == expected_size("9:16", "540p")
    assert shown["duration"] == pytest.approx(5.0, abs=0.1)
    expect(page.locator("#video-caption")).to_contain_text("540×960")
    expect(page.locator("#video-caption")).to_contain_text("(as requested)")

    # Seeking past the start makes the browser fetch by Range; it must land and decode.
    landed = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const v = document.getElementById('detail-video');
            v.addEventListener('seeked', () => resolve([v.currentTime, v.readyState]),
                               {once: true});
            v.currentTime = 3.5;
            setTimeout(() => reject(new Error('seek did not complete')), 15000);
        })"""
    )
    assert landed[0] == pytest.approx(3.5, abs=0.1) and landed[1] >= 2

    # The browser went through the real queue API: a client with the key sees the same result.
    status_url = f"{emulator.url}/fal-ai/luma-dream-machine/requests/{request_id}"
    result = httpx.get(status_url, headers=AUTH, timeout=10).json()
    assert result["video"]["url"] == shown["src"]
    expect(page.locator("#detail-output")).to_contain_text(result["video"]["url"])

    page.locator("#detail").scroll_into_view_if_needed()
    screenshot(page, "desktop")
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
    screenshot(page, "phone")


def test_invalid_form_shows_the_422_as_the_api_returns_it(
    page: Any, emulator: BackgroundEmulator
) -> None:
    rows_before = page.locator("#request-rows tr").count()
    # Empty prompt: the page leaves it out and lets the API judge (no browser-side veto).
    page.fill("#field-prompt", "")
    page.click("#play-submit")
    errors = page.locator("#play-errors")
    expect(errors).to_be_visible()
    # The queue accepts it (as fal's does); the 422 is the result's, which sync run answers now.
    api = httpx.post(
        f"{emulator.url}/run/{T2V}",
        json={"aspect_ratio": "16:9", "loop": False, "resolution": "540p", "duration": "5s"},
        headers=AUTH,
        timeout=10,
    )
    assert api.status_code == 422
    expect(errors).to_contain_text("HTTP 422")
    for item in api.json()["detail"]:
        expect(errors).to_contain_text(" → ".join(item["loc"]) + ": " + item["msg"])
    expect(page.locator("#field-prompt-err")).to_have_text("Field required")
    expect(page.locator("#field-prompt")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#field-prompt")).to_be_focused()

    # A tampered enum (as a hand-edited request would send) gets the API's literal_error.
    page.fill("#field-prompt", "tampered")
    page.evaluate(
        """() => { const s = document.getElementById('field-aspect_ratio');
        s.add(new Option('5:4', '5:4')); s.value = '5:4'; }"""
    )
    page.click("#play-submit")
    api = httpx.post(
        f"{emulator.url}/run/{T2V}",
        json={"prompt": "tampered", "aspect_ratio": "5:4"},
        headers=AUTH,
        timeout=10,
    )
    message = api.json()["detail"][0]["msg"]
    expect(errors).to_contain_text("body → aspect_ratio: " + message)
    expect(errors).to_contain_text("literal_error")
    expect(page.locator("#field-aspect_ratio-err")).to_have_text(message)
    expect(page.locator("#field-prompt-err")).to_be_hidden()
    screenshot(page, "invalid-form")

    # No key: the 401 is shown and the key field, folded under "Request options", opens.
    expect(page.locator("#request-rows tr")).to_have_count(rows_before + 2)  # both accepted
    rows_before += 2
    page.evaluate("document.getElementById('field-aspect_ratio').value = '16:9'")
    options = page.locator("details.options")
    options.locator("summary").click()
    page.fill("#play-key", "")
    options.locator("summary").click()  # folded again before submitting
    page.click("#play-submit")
    expect(errors).to_contain_text("HTTP 401")
    expect(errors).to_contain_text("Authorization header is required")
    expect(options).to_have_attribute("open", "")
    expect(page.locator("#play-key")).to_be_focused()
    assert page.locator("#request-rows tr").count() == rows_before  # nothing was queued


def test_list_updates_live_for_requests_from_any_client(
    page: Any, emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.evaluate("window.__sameDocument = true")
    route_fal_client(monkeypatch, emulator.url)
    client = fal_client.SyncClient(key=TEST_KEY)
    # Same input as the API tests: the session's video cache usually already holds the clip.
    handle = client.submit(T2V, arguments={"prompt": "dashboard test clip", "duration": "5s"})
    row = page.locator(f'#request-rows tr[data-id="{handle.request_id}"]')
    expect(row).to_have_count(1)
    expect(row.locator(".prompt-button")).to_have_text("dashboard test clip")
    expect(row.locator(".params")).to_have_text("16:9 · 540p · 5s")
    expect(row.locator("td[data-label='Cost']")).to_have_text("1 unit")
    expect(row.locator(".badge")).to_have_text("COMPLETED", timeout=SETTLE_MS)
    elapsed = float(row.locator("td[data-label='Elapsed']").inner_text().split()[0])
    assert elapsed >= 3.0  # fast timing: 0.5 s queued + 2.5 s running at least
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded

    row.locator(".prompt-button").click()
    expect(page.locator("#detail-id")).to_have_text(handle.request_id)
    expect(page.locator("#detail-input")).to_contain_text('"prompt": "dashboard test clip"')
    expect(row).to_have_class(re.compile("selected"))


def test_markup_is_labelled_and_usable_by_keyboard(page: Any) -> None:
    """Every control has an accessible name; landmarks and headings give the page a map."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                           && !c.textContent.trim())
            .map((c) => c.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    assert page.locator("main#main").count() == 1 and page.locator("h1").count() == 1
    for section in ("requests", "detail", "playground", "scenarios", "journal"):
        labelled_by = page.locator(f"section#{section}").get_attribute("aria-labelledby")
        assert page.locator(f"#{labelled_by}").inner_text().strip()
    expect(page.locator("#field-prompt")).to_have_attribute("aria-required", "true")
    # Keyboard only: type a prompt, tab to the submit button, press Enter.
    page.focus("#field-prompt")
    page.keyboard.type(FOX)
    page.select_option("#field-aspect_ratio", "9:16")  # same clip as above: a cache hit
    page.focus("#play-submit")
    page.keyboard.press("Enter")
    expect(page.locator("#play-status")).to_have_text(re.compile(r"IN_QUEUE|IN_PROGRESS|COMPLETED"))
    expect(page.locator("#detail-input")).to_contain_text(FOX)


def _control_route_exists(emulator: BackgroundEmulator, path: str) -> bool:
    return httpx.get(emulator.url + path, timeout=10).status_code != 404


def test_control_panels_follow_the_control_api(page: Any, emulator: BackgroundEmulator) -> None:
    """Scenarios, journal and reset use /_mock (issue 8); without it they say so plainly."""
    for path, notice, body in (
        ("/_mock/scenarios", "#scenarios-unavailable", "#scenarios-body"),
        ("/_mock/journal", "#journal-unavailable", "#journal-body"),
    ):
        if _control_route_exists(emulator, path):
            expect(page.locator(body)).to_be_visible()
            expect(page.locator(notice)).to_be_hidden()
        else:
            expect(page.locator(notice)).to_contain_text("not available")
            expect(page.locator(notice)).to_contain_text(path)
            expect(page.locator(body)).to_be_hidden()
    page.click("#reset")
    banner = page.locator("#reset-status")
    expect(banner).to_be_visible()
    if _control_route_exists(emulator, "/_mock/reset"):
        expect(banner).to_contain_text("reset")
        expect(page.locator("#requests-empty")).to_be_visible()
    else:
        expect(banner).to_contain_text("not available")
        expect(banner).to_contain_text("/_mock/reset")


def test_scenario_added_in_the_ui_makes_the_next_request_fail(page: Any) -> None:
    page.select_option("#scenario-template", label="Content policy violation (next request)")
    page.click("#scenario-add")
    expect(page.locator("#scenario-errors")).to_be_hidden()
    expect(page.locator("#scenario-list")).to_contain_text("content-policy")

    page.fill("#field-prompt", "this one is refused")
    page.click("#play-submit")
    failed = page.locator("#play-status")
    expect(failed).to_have_text(re.compile(r"content_policy_violation"), timeout=SETTLE_MS)
    expect(page.locator("#detail-outcome")).to_contain_text("failed: content_policy_violation")
    expect(page.locator("#detail-video")).to_be_hidden()
    screenshot(page, "scenario-failure")

    page.fill("#field-prompt", "this one goes through")  # the scenario matched once only
    page.click("#play-submit")
    expect(failed).to_have_text("COMPLETED", timeout=SETTLE_MS)

    page.select_option("#scenario-template", label="Slow queue: position 5 for 10 s (next request)")
    page.click("#scenario-add")
    page.get_by_role("button", name="Remove scenario slow-queue").click()
    expect(page.locator("#scenario-list")).not_to_contain_text("slow-queue")
    expect(page.locator("#scenario-list")).to_contain_text("content-policy")
    page.click("#scenario-clear")
    expect(page.locator("#scenarios-empty")).to_be_visible()


ADMIN_TOKEN = "dashboard-admin-token-7c1e"


def test_a_closed_dashboard_opens_with_basic_auth_and_its_panels_work(
    browser: Any, tmp_path: Path
) -> None:
    """The control plane closed by a token, as beyond loopback: the browser's login dialog
    (basic auth, any user name, the token as the password) opens the page, and the page's own
    calls (the live list, schemas, scenarios, journal, reset) carry the same credentials."""
    config = make_config(tmp_path, timing="fast", admin_token=ADMIN_TOKEN)
    with BackgroundEmulator(config) as running:
        # Without credentials Chromium meets the Basic challenge with nothing to answer it
        # (Playwright reports the login it could not do); with a wrong password it tries it,
        # and the page stays the 401.
        anonymous = browser.new_context(viewport=DESKTOP)
        with pytest.raises(playwright_api.Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
            anonymous.new_page().goto(running.url + "/_mock/ui")
        anonymous.close()
        wrong = browser.new_context(
            viewport=DESKTOP, http_credentials={"username": "me", "password": "not-the-token"}
        )
        refused = wrong.new_page().goto(running.url + "/_mock/ui")
        assert refused is not None and refused.status == 401
        assert refused.headers["www-authenticate"].startswith('Basic realm="ray2-mock"')
        wrong.close()

        context = browser.new_context(
            viewport=DESKTOP, http_credentials={"username": "me", "password": ADMIN_TOKEN}
        )
        tab = context.new_page()
        errors: list[str] = []
        refusals: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("response", lambda r: refusals.append(r.url) if r.status == 401 else None)
        opened = tab.goto(running.url + "/_mock/ui")
        assert opened is not None and opened.status == 200
        tab.wait_for_selector("body[data-ready]")
        expect(tab.locator("#scenarios-body")).to_be_visible()
        expect(tab.locator("#journal-body")).to_be_visible()
        tab.select_option("#scenario-template", label="Content policy violation (next request)")
        tab.click("#scenario-add")
        expect(tab.locator("#scenario-list")).to_contain_text("content-policy")
        tab.fill("#field-prompt", FOX)
        tab.click("#play-submit")  # the queue API with the page's own fal key
        expect(tab.locator("#play-status")).to_have_text(
            re.compile("content_policy_violation"), timeout=SETTLE_MS
        )
        expect(tab.locator("#request-rows tr")).to_have_count(1)  # the live feed (SSE)
        tab.click("#reset")
        expect(tab.locator("#reset-status")).to_contain_text("reset")
        expect(tab.locator("#requests-empty")).to_be_visible()
        context.close()
    assert errors == [], errors
    assert refusals == [], f"calls of the page refused: {refusals}"
