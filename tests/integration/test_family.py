"""Every Ray 2 family endpoint through the whole protocol, on one emulator over a real socket.

Queue submit with a webhook, status, result, sync run, the journal, the ledger at each
endpoint's own price, the dashboard's row and a scenario aimed at one endpoint. Reframe and
modify are fed a clip this emulator generated earlier, by its output URL (on loopback and in
fal's CDN form), and a file that is not a video gets fal's 422 on ``video_url``, never a 500.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.generation.strategies import png_data_uri
from contracts.schemas.endpoints import ENDPOINT_FACTS
from contracts.server.mp4probe import probe
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, expected_video, make_config

APP = "fal-ai/luma-dream-machine"
T2V = f"{APP}/ray-2"
REFRAME = f"{APP}/ray-2/reframe"
FLASH_MODIFY = f"{APP}/ray-2-flash/modify"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
SOURCE_INPUT = {"prompt": "family source clip", "aspect_ratio": "16:9"}
SOURCE = (960, 540, 5.0)  # what SOURCE_INPUT renders: 540p 16:9, 5 s


class Hooks:
    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def wait_for(self, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if request_id in self.bodies:
                    return self.bodies[request_id]
            time.sleep(0.02)
        raise AssertionError(f"no webhook for {request_id}")


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Hooks, str]]:
    state = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            with state.lock:
                state.bodies[body["request_id"]] = body
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path_factory.mktemp("family"))) as running:
        yield running


@pytest.fixture(scope="module")
def http(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers=AUTH, timeout=60) as client:
        yield client


def finished(http: httpx.Client, submitted: dict[str, Any]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while http.get(submitted["status_url"]).json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "never completed"
        time.sleep(0.02)
    return http.get(submitted["response_url"])


@pytest.fixture(scope="module")
def source_url(http: httpx.Client) -> str:
    """A clip this emulator generated: its own output URL."""
    submitted = http.post(f"/{T2V}", json=SOURCE_INPUT).json()
    return str(finished(http, submitted).json()["video"]["url"])


def family_input(endpoint: str, source_url: str) -> dict[str, Any]:
    """Each member's smallest input, written out (reframe to 9:16, modify in its default mode)."""
    if endpoint.endswith("/reframe"):
        return {"video_url": source_url, "aspect_ratio": "9:16", "prompt": "family member"}
    if endpoint.endswith("/modify"):
        return {"video_url": source_url, "prompt": "family member"}
    return {"prompt": "family member"}


def check_output(http: httpx.Client, endpoint: str, body: dict[str, Any], tmp: Path) -> None:
    arguments = {**family_input(endpoint, ""), **body}
    width, height, frames = expected_video(endpoint, arguments, SOURCE)
    path = tmp / "out.mp4"
    path.write_bytes(http.get(body["video"]["url"]).content)
    facts = probe(path, decode=False)
    assert (facts.width, facts.height) == (width, height), endpoint
    assert facts.frames == frames and facts.fps == 24, endpoint


@pytest.mark.parametrize("endpoint", list(ENDPOINT_FACTS))
def test_every_endpoint_through_queue_webhook_run_journal_and_dashboard(
    http: httpx.Client,
    hooks: tuple[Hooks, str],
    source_url: str,
    endpoint: str,
    tmp_path: Path,
) -> None:
    received, hook_url = hooks
    arguments = family_input(endpoint, source_url)
    submitted = http.post(f"/{endpoint}", params={"fal_webhook": hook_url}, json=arguments)
    assert submitted.status_code == 200
    request_id = submitted.json()["request_id"]
    assert submitted.json()["status_url"].endswith(f"/{APP}/requests/{request_id}/status")
    result = finished(http, submitted.json())
    assert result.status_code == 200 and set(result.json()) == {"video"}
    check_output(http, endpoint, {**arguments, **result.json()}, tmp_path)
    logs = http.get(submitted.json()["status_url"], params={"logs": "1"}).json()["logs"]
    assert logs[0]["message"] == FIRST_LOG_LINES[endpoint.removeprefix(f"{APP}/")]

    hook = received.wait_for(request_id)
    assert hook["status"] == "OK" and hook["payload"] == result.json()

    run = http.post(f"/run/{endpoint}", json=arguments)
    assert run.status_code == 200 and run.json()["video"]["url"] != result.json()["video"]["url"]
    check_output(http, endpoint, {**arguments, **run.json()}, tmp_path)

    journal = http.get("/_mock/journal", params={"endpoint": endpoint}).json()["entries"]
    assert {entry["route"] for entry in journal} >= {"submit", "run"}
    row = http.get(f"/_mock/ui/requests/{request_id}").json()
    assert row["label"] == ENDPOINT_FACTS[endpoint].label
    facts = probe_size(http, result.json()["video"]["url"], tmp_path)
    assert row["video_size"] == {"width": facts[0], "height": facts[1]}


def probe_size(http: httpx.Client, url: str, tmp: Path) -> tuple[int, int]:
    path = tmp / "size.mp4"
    path.write_bytes(http.get(url).content)
    facts = probe(path, decode=False)
    return facts.width, facts.height


PRICES_USD = {
    # (endpoint, extra input) -> dollars for one request, from the evidence, not the table:
    ("ray-2", ()): 0.50,  # 3P: $0.50 per 540p 5 s clip
    ("ray-2", (("resolution", "1080p"), ("duration", "9s"))): 4.00,  # 1080p 4x, 9 s 2x
    ("ray-2/image-to-video", (("resolution", "720p"),)): 1.00,  # 720p 2x
    ("ray-2-flash", ()): 0.20,  # DOC llms-txt: $0.2 per 5 s clip
    ("ray-2-flash/image-to-video", (("duration", "9s"),)): 0.40,
    ("ray-2/reframe", ()): 0.75,  # INF: $0.15 per started second, the 5 s source
    ("ray-2-flash/reframe", ()): 0.30,  # DOC: $0.06/s
    ("ray-2/modify", ()): 1.50,  # INF: $0.30/s
    ("ray-2-flash/modify", ()): 0.60,  # DOC: $0.12/s
}
FIRST_LOG_LINES = {  # [inferred] the ledger's "First log line" row, for family_input's values
    "ray-2": "Starting generation: 540p, 16:9, 5s",
    "ray-2/image-to-video": "Starting generation: 540p, 16:9, 5s",
    "ray-2-flash": "Starting generation: 540p, 16:9, 5s",
    "ray-2-flash/image-to-video": "Starting generation: 540p, 16:9, 5s",
    "ray-2/reframe": "Starting generation: reframe to 9:16",
    "ray-2-flash/reframe": "Starting generation: reframe to 9:16",
    "ray-2/modify": "Starting generation: modify, flex_1",
    "ray-2-flash/modify": "Starting generation: modify, flex_1",
}


@pytest.mark.parametrize(("case", "member", "extra"), [(i, *k) for i, k in enumerate(PRICES_USD)])
def test_the_ledger_bills_each_endpoint_at_its_own_price(
    http: httpx.Client,
    source_url: str,
    case: int,
    member: str,
    extra: tuple[tuple[str, str], ...],
) -> None:
    """Per clip for the generators, with fal's multipliers; per started second of the input
    video for reframe and modify (the 5 s source bills 5 seconds). One key per case, so the
    ledger's row for it is this request's price alone."""
    endpoint = f"{APP}/{member}"
    key = f"Key price-case:secret{case:04d}"
    body = {**family_input(endpoint, source_url), **dict(extra)}
    run = http.post(f"/run/{endpoint}", json=body, headers={"Authorization": key})
    assert run.status_code == 200, run.text
    masked = f"Key ****{key[-4:]}"
    rows = [r for r in http.get("/_mock/ledger").json()["keys"] if r["key"] == masked]
    assert [row["usd"] for row in rows] == [pytest.approx(PRICES_USD[(member, extra)])]


def test_the_cdn_form_of_an_output_url_is_read_from_the_emulator(
    http: httpx.Client, source_url: str, tmp_path: Path
) -> None:
    """Through ``ray2-mock env`` a client sees ``https://v3b.fal.media/files/b/...``: fed back
    as ``video_url`` it is this emulator's file, not a foreign one."""
    cdn_url = "https://v3b.fal.media" + httpx.URL(source_url).path
    run = http.post(f"/run/{REFRAME}", json={"video_url": cdn_url, "aspect_ratio": "9:16"})
    assert run.status_code == 200
    check_output(http, REFRAME, {"aspect_ratio": "9:16", **run.json()}, tmp_path)
    request_id = run.headers["x-fal-request-id"]
    notes = http.get(f"/_mock/ui/requests/{request_id}").json()["notes"]
    assert not any("placeholder" in note for note in notes)


# fal's entries, quoted: the docs' unsupported_video_format, the live file_download_error.
UNUSABLE_VIDEO = (
    '{"loc":["body","video_url"],"msg":"Unsupported video format. Supported formats are .mp4,'
    ' .mov, .webm.","type":"unsupported_video_format","url":"https://docs.fal.ai/errors#'
    'unsupported_video_format","ctx":{"supported_formats":[".mp4",".mov",".webm"]}'
)
NOT_DOWNLOADED = (
    '{"loc":["body","video_url"],"msg":"Failed to download the file. Please check if the URL is'
    ' accessible and try again.","type":"file_download_error","url":"https://docs.fal.ai/errors'
    '#file_download_error"'
)


@pytest.mark.parametrize(
    ("video_url", "entry_start"),
    [
        (png_data_uri(), UNUSABLE_VIDEO),
        ("UPLOADED_PNG", UNUSABLE_VIDEO),
        ("MISSING_OUTPUT", NOT_DOWNLOADED),
    ],
    ids=["png-data-uri", "uploaded-png", "unknown-output-id"],
)
def test_a_video_url_that_is_not_a_video_is_fals_422_not_a_500(
    http: httpx.Client,
    emulator: BackgroundEmulator,
    source_url: str,
    video_url: str,
    entry_start: str,
) -> None:
    if video_url == "UPLOADED_PNG":
        video_url = upload(http, emulator)
    elif video_url == "MISSING_OUTPUT":
        video_url = source_url.rsplit("/", 1)[0] + "/" + "x" * 21 + "_output.mp4"
    body = {"video_url": video_url, "mode": "flex_2"}
    run = http.post(f"/run/{FLASH_MODIFY}", json=body)
    submitted = http.post(f"/{FLASH_MODIFY}", json=body).json()
    queued = finished(http, submitted)
    for answer in (run, queued):
        assert answer.status_code == 422, answer.text
        assert answer.content.startswith(b'{"detail":[' + entry_start.encode()), answer.text
        (entry,) = answer.json()["detail"]
        assert entry["input"] == video_url or video_url.startswith("data:")
        assert answer.headers["x-fal-billable-units"] == "0"  # a model error: not billed
    status = http.get(submitted["status_url"]).json()
    assert "error" not in status  # the app's error: in the result only, as live


def upload(http: httpx.Client, emulator: BackgroundEmulator) -> str:
    """A PNG uploaded the way fal_client does (initiate, then PUT)."""
    import base64

    png = base64.b64decode(png_data_uri().split(",", 1)[1])
    started = http.post(
        "/storage/upload/initiate",
        json={"content_type": "image/png", "file_name": "frame.png"},
    ).json()
    httpx.put(started["upload_url"], content=png, headers={"content-type": "image/png"})
    return str(started["file_url"])


def test_a_scenario_can_aim_at_one_family_endpoint(http: httpx.Client, source_url: str) -> None:
    scenario = {
        "name": "reframe fails",
        "match": {"endpoint": [REFRAME]},
        "error": {"type": "video_duration_too_long"},
    }
    assert http.post("/_mock/scenarios", json=scenario).status_code in (200, 201)
    try:
        body = {"video_url": source_url, "aspect_ratio": "1:1"}
        failed = http.post(f"/run/{REFRAME}", json=body)
        assert failed.status_code == 422
        assert failed.json()["detail"][0]["loc"] == ["body", "video_url"]
        other = http.post(f"/run/{REFRAME.replace('ray-2/', 'ray-2-flash/')}", json=body)
        assert other.status_code == 200  # the scenario matched one endpoint only
    finally:
        http.delete("/_mock/scenarios")
