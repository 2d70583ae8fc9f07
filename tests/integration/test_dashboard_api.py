"""The dashboard's HTTP side over a real socket: page, static files, view models, feed, schemas.

These run without a browser; ``test_dashboard_browser.py`` drives the page itself.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from contracts import load_schema
from contracts.schemas.endpoints import ENDPOINT_FACTS
from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.control.dashboard import views
from mockserver.control.dashboard.routes import STATIC_DIR
from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.server import ServerInfo, startup_banner
from tests.support import TEST_KEY, expected_size, make_config

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


# Few distinct inputs, so the session's shared video cache renders each clip once.
BASIC = {"prompt": "dashboard test clip"}
RED = (220, 20, 20)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    config = make_config(tmp_path_factory.mktemp("dashboard-api"))
    with (
        BackgroundEmulator(config) as emulator,
        httpx.Client(base_url=emulator.url, timeout=30) as client,
    ):
        yield client


def red_i2v() -> dict[str, Any]:
    return {"prompt": "a red card", "image_url": png_data_uri(RED), "aspect_ratio": "9:16"}


def png_data_uri(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def submit(http: httpx.Client, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"/{endpoint}", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def wait_completed(http: httpx.Client, submitted: dict[str, Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http.get(submitted["status_url"], headers=AUTH).json()["status"] == "COMPLETED":
            return
        time.sleep(0.05)
    raise AssertionError(f"{submitted['request_id']} did not complete")


# -- page and static files ---------------------------------------------------------------------


def test_page_and_its_assets_are_served(http: httpx.Client) -> None:
    page = http.get("/_mock/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<main id="main"' in page.text
    assets = re.findall(r'(?:src|href)="(/_mock/ui/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/_mock/ui/static/dashboard.css", "/_mock/ui/static/dashboard.js"]
    kinds = {"css": "text/css", "js": "javascript"}
    for asset in assets:
        response = http.get(asset)
        assert response.status_code == 200, asset
        assert kinds[asset.rsplit(".", 1)[1]] in response.headers["content-type"]
    slash = http.get("/_mock/ui/", follow_redirects=False)
    assert slash.status_code == 308 and slash.headers["location"] == "/_mock/ui"


def test_static_files_name_no_other_host() -> None:
    """Offline machine, no CDN: every URL the page can load is relative to the emulator."""
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), path.name


def test_missing_static_file_is_a_fal_shaped_404(http: httpx.Client) -> None:
    for path in ("/_mock/ui/static/nope.js", "/_mock/ui/static/../routes.py"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error_type"]


def test_banner_prints_the_dashboard_url(tmp_path: Path) -> None:
    info = ServerInfo("127.0.0.1", 8765, None, None, None)
    banner = startup_banner(info, make_config(tmp_path))
    assert "dashboard: http://127.0.0.1:8765/_mock/ui" in banner.splitlines()[2]


# -- view models -------------------------------------------------------------------------------


def test_list_shows_what_the_table_needs_newest_first(http: httpx.Client) -> None:
    first = submit(http, T2V, BASIC)
    second = submit(http, I2V, red_i2v())
    wait_completed(http, first)
    wait_completed(http, second)

    rows = http.get("/_mock/ui/requests", params={"limit": 2}).json()["requests"]
    assert [r["request_id"] for r in rows] == [second["request_id"], first["request_id"]]
    i2v, t2v = rows
    assert t2v["prompt"] == BASIC["prompt"] and t2v["kind"] == "text-to-video"
    assert t2v["params"] == {
        "aspect_ratio": "16:9",
        "resolution": "540p",
        "duration": "5s",
        "loop": False,
    }
    assert t2v["video_size"] == {"width": 960, "height": 540}
    width, height = expected_size("9:16", "540p")
    assert i2v["video_size"] == {"width": width, "height": height}
    for row in rows:
        assert row["status"] == "COMPLETED" and row["outcome"] == "ok"
        assert row["queue_position"] is None and row["cost_units"] == 1
        assert row["elapsed"] == pytest.approx(row["completed_at"] - row["submitted_at"], abs=1e-3)
        video = http.get(row["video_url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert t2v["input_images"] == {}
    preview = i2v["input_images"]["image_url"]
    assert preview["preview"] == f"/_mock/ui/requests/{second['request_id']}/images/image_url"
    assert len(preview["url"]) == views.LONG_VALUE_CHARS and preview["url"].startswith("data:")
    assert http.get("/_mock/ui/requests?limit=1").json()["requests"] == rows[:1]


def test_detail_output_is_what_the_queue_api_returns(http: httpx.Client) -> None:
    body = red_i2v()
    submitted = submit(http, I2V, body)
    wait_completed(http, submitted)
    detail = http.get(f"/_mock/ui/requests/{submitted['request_id']}").json()
    result = http.get(submitted["response_url"], headers=AUTH)
    assert detail["output"] == {"status_code": result.status_code, "body": result.json()}
    status = http.get(submitted["status_url"], params={"logs": "1"}, headers=AUTH).json()
    assert detail["logs"] == status["logs"]
    assert detail["input"]["prompt"] == body["prompt"]
    assert detail["input"]["image_url"].endswith(f"… ({len(body['image_url'])} characters)")


def test_failed_request_shows_the_model_error(http: httpx.Client) -> None:
    # An undecodable image is an input error the model reports (fal's image_load_error).
    bogus = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    submitted = submit(http, I2V, {"prompt": "broken", "image_url": bogus})
    wait_completed(http, submitted)
    detail = http.get(f"/_mock/ui/requests/{submitted['request_id']}").json()
    result = http.get(submitted["response_url"], headers=AUTH)
    assert detail["outcome"] == "error" and detail["video_url"] is None
    assert detail["error"]["status_code"] == result.status_code == 422
    assert detail["error"]["type"] == result.json()["detail"][0]["type"] == "image_load_error"
    assert detail["error"]["message"] == result.json()["detail"][0]["msg"]  # not fal's status text
    assert detail["output"] == {"status_code": 422, "body": result.json()}


def test_input_image_preview_is_the_frame_the_renderer_draws(http: httpx.Client) -> None:
    rid = submit(http, I2V, red_i2v())["request_id"]
    response = http.get(f"/_mock/ui/requests/{rid}/images/image_url")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    width, height = expected_size("9:16", "540p")
    assert max(image.size) == 480
    assert image.size[0] / image.size[1] == pytest.approx(width / height, rel=0.01)
    center = image.getpixel((image.size[0] // 2, image.size[1] // 2))
    assert all(abs(a - b) <= 3 for a, b in zip(center, RED, strict=True))
    for path in (
        f"/_mock/ui/requests/{rid}/images/end_image_url",
        f"/_mock/ui/requests/{rid}/images/prompt",
        "/_mock/ui/requests/no-such-request/images/image_url",
    ):
        refused = http.get(path)
        assert refused.status_code == 404, path
        assert refused.json()["error_type"] in ("not_found", "request_not_found")


def test_refusals_are_fal_shaped(http: httpx.Client) -> None:
    missing = http.get("/_mock/ui/requests/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Request not found", "error_type": "request_not_found"}
    for bad in ("0", "-3", "abc"):  # the one rule of every limit: an integer from 1
        response = http.get("/_mock/ui/requests", params={"limit": bad})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert http.get("/_mock/ui/requests", params={"limit": "501"}).status_code == 200  # at most
    wrong_method = http.post("/_mock/ui/requests")
    assert wrong_method.status_code == 405, "the path exists: a wrong method is not a 404"
    assert wrong_method.json()["error_type"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET, HEAD"


def test_queue_position_cost_and_elapsed_follow_the_emulated_clock(tmp_path: Path) -> None:
    """A frozen clock holds every request where it is; renders are cut short at stop."""
    config = make_config(tmp_path, timing="fast", capacity=1)
    clock = ManualClock()
    big = {"prompt": "held", "resolution": "720p", "duration": "9s", "aspect_ratio": "21:9"}
    fal_image = "https://fal.media/files/elephant/example.jpeg"
    with (
        BackgroundEmulator(config, create_app(config, clock=clock)) as emulator,
        httpx.Client(base_url=emulator.url, timeout=30) as http,
    ):
        ids = [
            submit(http, T2V, big)["request_id"],
            submit(http, I2V, {"prompt": "held", "image_url": fal_image})["request_id"],
            submit(http, T2V, big)["request_id"],
        ]
        rows = http.get("/_mock/ui/requests").json()["requests"]
        assert [(r["request_id"], r["status"], r["queue_position"]) for r in rows] == [
            (ids[2], "IN_QUEUE", 2),
            (ids[1], "IN_QUEUE", 1),
            (ids[0], "IN_QUEUE", 0),
        ]
        assert [r["cost_units"] for r in rows] == [4, 1, 4]  # 720p 2x, 9 s 2x
        assert rows[0]["params"] == {
            "aspect_ratio": "21:9",
            "resolution": "720p",
            "duration": "9s",
            "loop": False,
        }
        assert rows[0]["video_size"] == {"width": 1680, "height": 720}
        assert {r["elapsed"] for r in rows} == {0.0}

        # A fal media URL offline: the preview is the renderer's placeholder, never a fetch.
        preview = http.get(f"/_mock/ui/requests/{ids[1]}/images/image_url")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
        assert preview.content == http.get(f"/_mock/ui/requests/{ids[1]}/images/image_url").content

        emulator.call(clock.advance, 0.75)  # past the queue time: the first one starts
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = http.get("/_mock/ui/requests").json()["requests"]
            if rows[-1]["status"] == "IN_PROGRESS":
                break
            time.sleep(0.02)
        assert [(r["status"], r["queue_position"]) for r in rows] == [
            ("IN_QUEUE", 1),
            ("IN_QUEUE", 0),
            ("IN_PROGRESS", None),
        ]
        assert {r["elapsed"] for r in rows} == {0.75}
        detail = http.get(f"/_mock/ui/requests/{ids[0]}").json()
        messages = [line["message"] for line in detail["logs"]]
        assert rows[-1]["log_count"] == len(messages) >= 1
        assert messages[0].startswith("Starting generation")
        assert not any("%" in m for m in messages)  # progress lines are still in the future


def test_feed_sends_the_list_when_it_changes(http: httpx.Client) -> None:
    with http.stream("GET", "/_mock/ui/events", params={"limit": 1}, timeout=30) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = stream.iter_lines()
        before = _next_event(events)["requests"]
        submitted = submit(http, T2V, BASIC)
        seen: list[str] = []
        while "COMPLETED" not in seen:
            rows = _next_event(events)["requests"]
            assert rows != before
            assert [r["request_id"] for r in rows] == [submitted["request_id"]]
            seen.append(rows[0]["status"])
        assert len(seen) == len(set(seen))  # one event per change, no repeats


def _next_event(lines: Iterator[str]) -> dict[str, Any]:
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "requests":
            return json.loads(line.split(":", 1)[1])
    raise AssertionError("feed ended")


def test_masked_headers_keep_only_the_key_tail() -> None:
    shown = views.masked_headers({"authorization": "Key abcdef123456", "x-fal-runner-hint": "h"})
    assert shown == {"authorization": "Key ****3456", "x-fal-runner-hint": "h"}


# -- schemas -----------------------------------------------------------------------------------


def test_schemas_are_served_as_the_contract_declares_them(http: httpx.Client) -> None:
    index = http.get("/_mock/schemas").json()["endpoints"]
    assert [e["endpoint_id"] for e in index] == list(ENDPOINT_FACTS)  # the whole family
    assert index[0]["endpoint_id"] == T2V
    for entry in index:
        served = http.get(entry["input_schema_url"])
        assert served.status_code == 200
        assert served.json() == load_schema(entry["input_schema"])
    for name in ("nope.json", "..%2F..%2Fpyproject.toml", "__init__.py"):
        refused = http.get(f"/_mock/schemas/{name}")
        assert refused.status_code == 404, name
        assert refused.json()["error_type"] == "not_found"


def test_every_scenario_template_is_accepted_and_none_refuses_a_queue_submit_for_429(
    tmp_path: Path,
) -> None:
    """The dashboard's templates teach what fal does: a 429 aims at sync runs only (fal's
    concurrency docs: queued requests "are never rejected due to concurrency limits")."""
    with (
        BackgroundEmulator(make_config(tmp_path)) as emulator,
        httpx.Client(base_url=emulator.url, timeout=30) as client,
    ):
        templates = client.get("/_mock/ui/static/scenario-templates.json").json()
        for template in templates:
            added = client.post("/_mock/scenarios", json=template["scenario"])
            assert added.status_code == 200, (template["label"], added.text)
        client.delete("/_mock/scenarios")
    for template in templates:
        spec = template["scenario"]
        if spec.get("http_error", {}).get("status") == 429:
            routes = spec.get("match", {}).get("route", ["submit", "run"])
            assert "submit" not in routes, template["label"]
