"""The real, unmodified ``@fal-ai/client`` (npm, under node) through the emulator's fal proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.server.mp4probe import probe
from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.browser_proxy import PROXY_PATH
from tests.node_client import drive, ensure_js_client, needs_node, ok
from tests.support import make_config

pytestmark = needs_node
SCENARIOS = ("subscribe", "queue", "stream", "run", "invalid", "foreign")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    ensure_js_client()
    with BackgroundEmulator(make_config(tmp_path_factory.mktemp("js"))) as running:
        yield running


@pytest.fixture(scope="module")
def outcomes(emulator: BackgroundEmulator) -> dict[str, Any]:
    """Every scenario, run once and at the same time (one node start for the module)."""
    return drive(emulator.url + PROXY_PATH, *SCENARIOS)


def test_subscribe_with_logs(
    outcomes: dict[str, Any], emulator: BackgroundEmulator, tmp_path: Path
) -> None:
    seen = ok(outcomes, "subscribe")
    assert seen["requestId"]  # read from x-fal-request-id, through the proxy
    assert seen["statuses"][-1] == "COMPLETED" and "IN_PROGRESS" in seen["statuses"]
    assert any(m.startswith("Starting generation") for m in seen["messages"])
    video = seen["video"]
    assert video["url"].startswith(emulator.url + "/files/")  # fetchable without the proxy
    assert seen["fetched"] == {"status": 200, "type": "video/mp4", "bytes": video["file_size"]}
    path = tmp_path / "js.mp4"
    path.write_bytes(httpx.get(video["url"]).content)
    facts = probe(path, decode=False)
    assert (facts.width, facts.height) == (540, 960)  # the 9:16 the script asked for


def test_queue_submit_status_result(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "queue")
    assert seen["statuses"][-1] == "COMPLETED"
    assert seen["resultRequestId"] == seen["requestId"]
    assert seen["video"]["content_type"] == "video/mp4"


def test_stream_status(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "stream")
    assert seen["events"][-1] == "COMPLETED" and seen["done"] == "COMPLETED"


def test_run(outcomes: dict[str, Any]) -> None:
    assert ok(outcomes, "run")["video"]["url"].endswith(".mp4")


def test_validation_errors_reach_the_client_as_fal_sends_them(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "invalid")
    assert seen["requestId"] and seen["finalStatus"] == "COMPLETED"  # accepted, as live
    for way in ("result", "subscribe", "run"):  # queue.result, subscribe, sync run
        raised = seen[way]
        assert raised["raised"] and raised["name"] == "ValidationError", (way, raised)
        assert raised["status"] == 422
        assert raised["body"]["detail"][0]["loc"] == ["body", "duration"]
        assert raised["body"]["detail"][0]["type"] == "literal_error"


def test_request_middleware_rewriting_is_the_alternative(emulator: BackgroundEmulator) -> None:
    outcomes = drive(f"rewrite:{emulator.url}", "subscribe", "stream", "run")
    assert ok(outcomes, "subscribe")["statuses"][-1] == "COMPLETED"
    assert ok(outcomes, "stream")["done"] == "COMPLETED"
    assert ok(outcomes, "run")["video"]["url"].startswith(emulator.url)


def test_storage_upload_then_image_to_video(emulator: BackgroundEmulator) -> None:
    seen = ok(drive(emulator.url + PROXY_PATH, "upload"), "upload")
    assert seen["sameBytes"], "the uploaded file did not come back byte for byte"
    assert seen["video"]["url"].startswith(emulator.url)


def test_identical_requests_get_their_own_video_urls(outcomes: dict[str, Any]) -> None:
    """subscribe and queue send the same input: one render, two generations, two URLs."""
    first, second = ok(outcomes, "subscribe")["video"], ok(outcomes, "queue")["video"]
    assert first["url"] != second["url"]
    assert first["file_size"] == second["file_size"]
    assert re.search(r"/files/b/[0-9a-f]{8}/[A-Za-z0-9_-]{21}_output\.mp4$", first["url"])


def test_a_foreign_image_url_completes_offline(outcomes: dict[str, Any]) -> None:
    seen = ok(outcomes, "foreign")
    assert seen["fetched"]["status"] == 200 and seen["fetched"]["type"] == "video/mp4"


def test_run_retries_a_concurrency_429(
    outcomes: dict[str, Any], emulator: BackgroundEmulator
) -> None:
    """fal-js retries 429 (``DEFAULT_RETRYABLE_STATUS_CODES``; ``fal.run`` up to 3 retries):
    a sync run over the concurrency limit is answered, then retried until it is let in."""
    with httpx.Client(base_url=emulator.url, timeout=30) as control:
        control.delete("/_mock/journal")
        busy = {
            "name": "busy",
            "times": 2,
            "match": {"route": "run"},
            "http_error": {"status": 429},
        }
        control.post("/_mock/scenarios", json=busy).raise_for_status()
        try:
            seen = ok(drive(emulator.url + PROXY_PATH, "run"), "run")
        finally:
            control.delete("/_mock/scenarios/busy")
        runs = control.get("/_mock/journal", params={"route": "run"}).json()["entries"]
    assert seen["video"]["url"].endswith(".mp4")
    assert [e["status"] for e in runs] == [429, 429, 200]
    assert runs[0]["response_headers"]["x-fal-needs-retry"] == "1"


def test_an_upload_with_expires_in_0_never_expires(tmp_path: Path) -> None:
    """fal's backends read ``expiration_duration_seconds: 0`` as no expiration (fal_client's
    source); @fal-ai/client sends the 0 as given."""
    with BackgroundEmulator(make_config(tmp_path)) as running:
        url = ok(drive(running.url + PROXY_PATH, "keep"), "keep")["url"]
        running.call(running.services.clock.advance, 10 * 365 * 86400)
        kept = httpx.get(url)
        assert (kept.status_code, kept.content) == (200, b"kept")


def test_a_large_upload_goes_in_parts_keeping_the_upload_urls_query(
    emulator: BackgroundEmulator,
) -> None:
    """@fal-ai/client uploads files over 90 MiB in 10 MiB parts to ``upload_url`` + ``/<n>``,
    keeping its query; the emulator's multipart ``upload_url`` is signed, so a client that
    dropped the query would fail here."""
    seen = ok(drive(emulator.url + PROXY_PATH, "large"), "large")
    assert seen["same"], "the file did not come back byte for byte"
    object_id = seen["url"].rsplit("/", 1)[1][:21]
    assert emulator.call(emulator.services.files.get, object_id).part_count == 10  # 91 MiB
