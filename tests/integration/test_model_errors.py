"""fal's model errors over HTTP, byte for byte where live bodies were captured.

Expected values come from the evidence only: captured bodies under ``tests/fixtures/evidence``
(exact bytes as they were recorded) and sentences quoted from fal's docs, never from the
emulator's own tables.

- ``file-download-error.2026-08-13.json``: a live 422 body a third party kept as a test fixture
  ("the original text that actually came back", 2026-08-13), another fal model's
  ``input.image_urls`` field.
- ``content-policy-violation.detail.json``: the ``detail`` list of a live 422, as a browser
  console logged it (``JSON.stringify`` of the parsed body: same key order, compact).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from contracts.generation.strategies import mp4_data_uri
from mockserver.serving.background import BackgroundEmulator
from tests.support import REPO_ROOT, TEST_KEY, make_config

APP = "fal-ai/luma-dream-machine"
T2V = f"{APP}/ray-2"
I2V = f"{APP}/ray-2/image-to-video"
REFRAME = f"{APP}/ray-2-flash/reframe"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
EVIDENCE = REPO_ROOT / "tests" / "fixtures" / "evidence"
DOWNLOAD_CAPTURE = (EVIDENCE / "file-download-error.2026-08-13.json").read_bytes()
POLICY_CAPTURE = (EVIDENCE / "content-policy-violation.detail.json").read_bytes()
BILLABLE_UNITS = "0"
"""A fal-hosted model's 422 model error: ``x-fal-billable-units: 0`` (live, 2026-10)."""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    """``--remote-images fail``: a foreign host is refused as on a machine without network."""
    config = make_config(tmp_path_factory.mktemp("model-errors"), remote_images="fail")
    with BackgroundEmulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def http(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers=AUTH, timeout=60) as client:
        yield client


@pytest.fixture
def scenario(http: httpx.Client) -> Iterator[Any]:
    def add(**spec: Any) -> None:
        assert http.post("/_mock/scenarios", json=spec).status_code == 200

    yield add
    http.delete("/_mock/scenarios")


def answers(http: httpx.Client, endpoint: str, body: dict[str, Any]) -> list[httpx.Response]:
    """The same input by sync run and through the queue (its result)."""
    run = http.post(f"/run/{endpoint}", json=body)
    submitted = http.post(f"/{endpoint}", json=body).json()
    deadline = time.monotonic() + 60
    while http.get(submitted["status_url"]).json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "never completed"
        time.sleep(0.01)
    return [run, http.get(submitted["response_url"])]


def compact(content: bytes) -> bytes:
    """The body re-encoded as Starlette writes it: compact, non-ASCII kept."""
    return json.dumps(json.loads(content), separators=(",", ":"), ensure_ascii=False).encode()


def notes_of(http: httpx.Client, response: httpx.Response) -> list[str]:
    request_id = response.headers["x-fal-request-id"]
    entries = http.get("/_mock/journal", params={"request_id": request_id}).json()["entries"]
    return [note for entry in entries for note in entry["emulator_notes"]]


# -- the entry -----------------------------------------------------------------------------------


def test_a_download_error_is_the_live_body_byte_for_byte(http: httpx.Client) -> None:
    """The live body for the same URL, with Ray 2's field in ``loc``: ``url`` without a slash
    before ``#``, fal's fixed sentence, key order, compact JSON, the URL echoed as sent."""
    url = json.loads(DOWNLOAD_CAPTURE)["detail"][0]["input"]
    expected = DOWNLOAD_CAPTURE.replace(b'"input.image_urls"', b'"image_url"')
    for answer in answers(http, I2V, {"prompt": "a storyboard", "image_url": url}):
        assert answer.status_code == 422
        assert answer.content == expected
        assert answer.headers["x-fal-billable-units"] == BILLABLE_UNITS
    assert any("remote fetching is off" in note for note in notes_of(http, answer))


def test_the_reason_goes_to_the_notes_not_the_msg(http: httpx.Client) -> None:
    """Whatever the cause, fal says the same sentence (three live captures)."""
    sent = {"prompt": "a broken scheme", "image_url": "ftp://files.example/start.png"}
    run, queued = answers(http, I2V, sent)
    (captured,) = json.loads(DOWNLOAD_CAPTURE)["detail"]
    for answer in (run, queued):
        (entry,) = answer.json()["detail"]
        assert (entry["msg"], entry["type"], entry["url"]) == (
            captured["msg"],
            captured["type"],
            captured["url"],
        )
        assert list(entry) == list(captured)
        assert answer.content == compact(answer.content)
    assert any("unsupported URL scheme" in note for note in notes_of(http, run))


def test_a_content_policy_violation_echoes_the_whole_input(
    http: httpx.Client, scenario: Any
) -> None:
    """Live: ``loc ["body", "prompt"]`` and the whole input object, not the prompt alone."""
    scenario(match={"endpoint": I2V}, error="content_policy_violation")
    sent = json.loads(POLICY_CAPTURE)[0]["input"]
    for answer in answers(http, I2V, sent):
        assert answer.status_code == 422
        assert answer.content == b'{"detail":' + POLICY_CAPTURE + b"}"
        assert answer.headers["x-fal-billable-units"] == BILLABLE_UNITS


def test_an_entry_at_the_body_echoes_the_whole_input(http: httpx.Client, scenario: Any) -> None:
    """``loc ["body"]`` echoes the whole input (live generation_timeout), a long URL whole."""
    url = "https://cdn.example/" + "a" * 200 + ".png"
    scenario(match={"endpoint": I2V}, error="generation_timeout")
    sent = {"prompt": "too slow", "image_url": url}
    for answer in answers(http, I2V, sent):
        assert answer.status_code == 504
        (entry,) = answer.json()["detail"]
        assert entry["loc"] == ["body"] and entry["input"] == sent


def test_no_media_generated_has_fals_sentence(http: httpx.Client, scenario: Any) -> None:
    """fal's docs: 422, ``loc ["body"]``, "The model did not generate the expected output for
    this prompt." (3P fixtures quote the same entry)."""
    scenario(match={"endpoint": T2V}, error="no_media_generated")
    expected = (
        b'{"detail":[{"loc":["body"],"msg":"The model did not generate the expected output for'
        b' this prompt.","type":"no_media_generated","url":"https://docs.fal.ai/errors#no_media'
        b'_generated","input":{"prompt":"nothing comes out"}}]}'
    )
    for answer in answers(http, T2V, {"prompt": "nothing comes out"}):
        assert (answer.status_code, answer.content) == (422, expected)


# -- statuses and headers ------------------------------------------------------------------------

MODEL_ERROR_STATUSES = {
    # fal's Model Errors docs (2025-11 and the newer page); an unmerged fal-toolkit branch
    # says 504 for all four: the published docs were followed.
    "internal_server_error": (500, "Internal server error"),
    "generation_timeout": (504, "Generation timeout"),  # also live (cap-gt-wan: 504)
    "downstream_service_error": (400, "Downstream service error"),
    "downstream_service_unavailable": (500, "Downstream service unavailable"),
}


@pytest.mark.parametrize("kind", MODEL_ERROR_STATUSES)
def test_model_errors_answer_fals_documented_status(
    http: httpx.Client, scenario: Any, kind: str
) -> None:
    status, msg = MODEL_ERROR_STATUSES[kind]
    scenario(match={"endpoint": T2V}, error=kind)
    for answer in answers(http, T2V, {"prompt": "upstream trouble"}):
        assert answer.status_code == status
        (entry,) = answer.json()["detail"]
        assert (entry["loc"], entry["msg"], entry["type"]) == (["body"], msg, kind)
        assert entry["url"] == f"https://docs.fal.ai/errors#{kind}"


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ("content_policy_violation", "false"),
        ({"type": "internal_server_error", "retryable": True}, "true"),
    ],
    ids=["422", "500-retryable"],
)
def test_model_errors_are_not_billed_and_say_if_they_are_retryable(
    http: httpx.Client, scenario: Any, error: Any, retryable: str
) -> None:
    """``x-fal-billable-units: 0`` (live capture, 2026-10); ``X-Fal-Retryable`` as fal's docs
    describe it (no capture: INF), the same on the queue's result and on sync run."""
    scenario(match={"endpoint": T2V}, error=error)
    for answer in answers(http, T2V, {"prompt": "headers please"}):
        assert answer.headers["x-fal-billable-units"] == BILLABLE_UNITS
        assert answer.headers["x-fal-retryable"] == retryable
        assert "x-fal-error-type" not in answer.headers


def test_media_errors_carry_the_same_headers(http: httpx.Client) -> None:
    sent = {"video_url": "ftp://x.example/a.mp4", "aspect_ratio": "9:16"}
    for answer in answers(http, REFRAME, sent):
        assert answer.status_code == 422
        assert answer.headers["x-fal-billable-units"] == BILLABLE_UNITS
        assert answer.headers["x-fal-retryable"] == "false"


def test_request_errors_carry_no_retryable_header(http: httpx.Client, scenario: Any) -> None:
    """Request errors are ``{"detail": str, "error_type"}`` with ``X-Fal-Error-Type`` only."""
    scenario(match={"endpoint": T2V}, error="runner_disconnected")
    for answer in answers(http, T2V, {"prompt": "the runner goes away"}):
        assert answer.status_code == 503
        assert answer.headers["x-fal-error-type"] == "runner_disconnected"
        assert "x-fal-retryable" not in answer.headers


# -- input files ---------------------------------------------------------------------------------


def test_an_oversized_image_is_file_too_large(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fal-toolkit's ``FileTooLargeException`` (type, sentence, ctx) for images too, not a
    download error. The limit is lowered in the emulator's process (Ray 2's is unpublished)."""
    monkeypatch.setattr("mockserver.media.images.MAX_IMAGE_BYTES", 500)
    big = "data:image/png;base64," + "A" * 2000
    answer = http.post(f"/run/{I2V}", json={"prompt": "a big still", "image_url": big})
    assert answer.status_code == 422
    (entry,) = answer.json()["detail"]
    assert list(entry) == ["loc", "msg", "type", "url", "ctx", "input"]
    assert (entry["type"], entry["ctx"]) == ("file_too_large", {"max_size": 500})
    assert entry["msg"] == (
        "File size exceeds the maximum allowed size of 500 bytes. Please upload a smaller file."
    )
    assert entry["url"] == "https://docs.fal.ai/errors#file_too_large"
    assert len(entry["input"]) < 200 and big.startswith(entry["input"].rstrip("…"))


def test_a_video_over_ten_seconds_is_fals_documented_entry(http: httpx.Client) -> None:
    """fal's docs: "Video duration exceeds the maximum allowed. Maximum is 60 seconds, provided
    is 120 seconds." with ctx ``max_duration``, ``provided_duration`` (the live audio twin has
    the same form); Luma takes 10 s for Ray 2."""
    sent = {"video_url": mp4_data_uri(32, 32, 11.0), "aspect_ratio": "9:16"}
    expected = (
        b'{"detail":[{"loc":["body","video_url"],"msg":"Video duration exceeds the maximum'
        b' allowed. Maximum is 10 seconds, provided is 11 seconds.","type":"video_duration_too'
        b'_long","url":"https://docs.fal.ai/errors#video_duration_too_long","ctx":{"max_duration"'
        b':10,"provided_duration":11},"input":"'
    )
    for answer in answers(http, REFRAME, sent):
        assert answer.status_code == 422
        assert answer.content.startswith(expected), answer.text


def test_an_undecodable_image_is_image_load_error(http: httpx.Client) -> None:
    """fal-toolkit's sentence (fal's docs say "Image load error"); the reason in the notes."""
    broken = "data:image/png;base64,bm90IGFuIGltYWdl"  # "not an image"
    expected = (
        b'{"detail":[{"loc":["body","image_url"],"msg":"Failed to load the image. Please ensure'
        b' the image file is not corrupted and is in a supported format.","type":"image_load'
        b'_error","url":"https://docs.fal.ai/errors#image_load_error","input":"'
        + broken.encode()
        + b'"}]}'
    )
    run, queued = answers(http, I2V, {"prompt": "a broken still", "image_url": broken})
    assert (run.status_code, run.content) == (422, expected)
    assert (queued.status_code, queued.content) == (422, expected)
    assert any("not a decodable image" in note for note in notes_of(http, run))


def test_a_fal_cdn_file_it_did_not_issue_is_a_foreign_file(http: httpx.Client) -> None:
    """fal's CDN files are public and any model downloads them: a real current-form URL
    (a live output, 2026) is foreign fal media, a placeholder offline, never a 422."""
    live_output = "https://v3b.fal.media/files/b/0a86742f/9rVJtQ2ukp9cid8lheutF_output.mp4"
    run = http.post(f"/run/{REFRAME}", json={"video_url": live_output, "aspect_ratio": "9:16"})
    assert run.status_code == 200, run.text
    assert any("placeholder video" in note for note in notes_of(http, run))


# -- fal's published example media ---------------------------------------------------------------

PUBLISHED_EXAMPLES = {
    # fal's OpenAPI `examples` for the Ray 2 family (fal-js PR #212, generated from it; the
    # llms.txt pages show the same): inputs, then outputs.
    "https://fal.media/files/elephant/8kkhB12hEZI2kkbU8pZPA_test.jpeg": "image/jpeg",
    "https://fal.media/files/koala/Kv2821G03ggpKK2AiZX71_d5fa7bacf06049cfaeb9588f6003b6d5.jpg": (
        "image/jpeg"
    ),
    "https://v3.fal.media/files/zebra/9aDde3Te2kuJYHdR0Kz8R_output.mp4": "video/mp4",
    "https://v3.fal.media/files/penguin/Om3xjcOwiSCJwrXs7DUi__output.mp4": "video/mp4",
    "https://v3.fal.media/files/lion/L9nkXSW1MCj2oDimeJ4w5_output.mp4": "video/mp4",
    "https://v3.fal.media/files/lion/_2UO2QC26T_R8vKeVGAdX_output.mp4": "video/mp4",
}


def cdn_get(http: httpx.Client, url: str, method: str = "GET") -> httpx.Response:
    """What ``ray2-mock env`` delivers: the request with fal's CDN host in ``Host``."""
    parsed = httpx.URL(url)
    return http.request(method, parsed.raw_path.decode(), headers={"host": parsed.host})


@pytest.mark.parametrize("url", PUBLISHED_EXAMPLES)
def test_fals_published_examples_download_as_the_placeholder(http: httpx.Client, url: str) -> None:
    first, again = cdn_get(http, url), cdn_get(http, url)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == PUBLISHED_EXAMPLES[url]
    assert first.content == again.content  # deterministic: the same URL, the same file
    head = cdn_get(http, url, "HEAD")
    assert head.status_code == 200 and head.headers["content-type"] == PUBLISHED_EXAMPLES[url]
    if url.endswith(".mp4"):
        assert first.content[4:8] == b"ftyp"
    else:
        assert Image.open(io.BytesIO(first.content)).format == "JPEG"
    path = httpx.URL(url).path
    entries = http.get("/_mock/journal", params={"path": path}).json()["entries"]
    assert any("placeholder" in note for entry in entries for note in entry["emulator_notes"])


def test_a_published_example_image_is_the_picture_the_model_used(
    http: httpx.Client, tmp_path: Path
) -> None:
    """The first frame of image-to-video is its ``image_url``: downloaded, the example is
    that same picture (540p 16:9 is Ray 2's default output size)."""
    url = "https://fal.media/files/elephant/8kkhB12hEZI2kkbU8pZPA_test.jpeg"
    downloaded = Image.open(io.BytesIO(cdn_get(http, url).content)).convert("RGB")
    run = http.post(f"/run/{I2V}", json={"prompt": "an elephant", "image_url": url})
    assert run.status_code == 200, run.text
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(http.get(run.json()["video"]["url"]).content)
    with av.open(str(clip)) as container:
        first = next(container.decode(video=0)).to_image().convert("RGB")
    assert first.size == downloaded.size
    assert sum(ImageStat.Stat(ImageChops.difference(first, downloaded)).mean) / 3 < 4


@pytest.mark.parametrize(
    "url",
    [
        "https://v3.fal.media/files/zebra/not-a-published-example_output.mp4",
        "https://v3.fal.media/files/elephant/8kkhB12hEZI2kkbU8pZPA_test.jpeg",  # other host
    ],
)
def test_other_cdn_paths_stay_unknown(http: httpx.Client, url: str) -> None:
    answer = cdn_get(http, url)
    assert answer.status_code == 404
    assert answer.json()["error_type"] == "not_found"
