"""Every other fal endpoint, answered by rule, through the unmodified fal_client.

Expected values come from outside the emulator: each output is judged by the output type
``@fal-ai/client`` ships for that endpoint (the catalogue, generated from the pinned client),
inputs are written by hand as fal's model pages show them (``tests/catalogue_samples.py``),
image presets are fal's own toolkit's sizes, and every file is read back from its URL.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from typing import Any

import av
import fal_client
import httpx
import pytest
from jsonschema import Draft7Validator
from PIL import Image

from contracts.schemas.catalogue import load_catalogue
from mockserver.serving.background import BackgroundEmulator
from tests.catalogue_samples import FAL_PRESETS, SAMPLES
from tests.support import TEST_KEY, make_config, route_storage

AUTH = {"Authorization": f"Key {TEST_KEY}"}
SAMPLE = sorted(SAMPLES)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    config = make_config(tmp_path_factory.mktemp("generic"), timing="instant")
    with BackgroundEmulator(config) as running:
        yield running


def files_in(output: Any) -> Iterator[dict[str, Any]]:
    """Every object of the output that carries a file URL."""
    if isinstance(output, dict):
        if isinstance(output.get("url"), str):
            yield output
        for value in output.values():
            yield from files_in(value)
    elif isinstance(output, list):
        for item in output:
            yield from files_in(item)


def read_back(file: dict[str, Any]) -> tuple[str, bytes]:
    response = httpx.get(file["url"], timeout=30)
    assert response.status_code == 200, file
    assert len(response.content) == file.get("file_size", len(response.content))
    return response.headers["content-type"], response.content


def check_media(file: dict[str, Any], content_type: str, data: bytes) -> None:
    """The bytes are what the content type says, of the size the file object states."""
    if "content_type" in file:  # served as the output says it is
        assert content_type.split(";")[0] == file["content_type"], (content_type, file)
    if content_type == "model/gltf-binary":
        assert data[:4] == b"glTF"
    elif content_type.startswith("image/"):
        image = Image.open(io.BytesIO(data))
        image.load()
        if "width" in file and "height" in file:
            assert image.size == (file["width"], file["height"])
    elif content_type.startswith("video/"):
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            assert stream.width > 0 and stream.frames > 0
            if "width" in file and "height" in file:
                assert (stream.width, stream.height) == (file["width"], file["height"])
    elif content_type in ("audio/wav", "audio/x-wav"):
        with wave.open(io.BytesIO(data)) as sound:
            assert sound.getnframes() / sound.getframerate() > 0
    elif content_type.startswith("audio/"):
        with av.open(io.BytesIO(data)) as container:
            assert container.duration and container.duration > 0
    elif content_type.split(";")[0] in ("application/json", "text/plain"):
        assert data.decode("utf-8")
    else:
        assert content_type == "application/octet-stream" and data, content_type


@pytest.mark.parametrize("endpoint_id", SAMPLE)
def test_a_catalogue_endpoint_answers_subscribe_with_what_its_type_promises(
    endpoint_id: str, emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, valid, _ = SAMPLES[endpoint_id]
    client = route_storage(monkeypatch, emulator.url)
    output = client.subscribe(endpoint_id, arguments=valid)
    entry = load_catalogue().endpoint(endpoint_id)
    assert entry is not None
    errors = [e.message for e in Draft7Validator(entry.output_schema).iter_errors(output)]
    assert errors == [], errors
    files = list(files_in(output))
    if SAMPLES[endpoint_id][0] in ("image", "video", "audio", "3d"):
        assert files, "a media endpoint answered without a file"
    for file in files:
        content_type, data = read_back(file)
        check_media(file, content_type, data)


def test_the_sample_spans_the_catalogues_kinds() -> None:
    kinds = {load_catalogue().kind(endpoint_id) for endpoint_id in SAMPLE}
    assert len(SAMPLE) >= 30
    assert {"image", "video", "audio", "text", "3d"} <= kinds


@pytest.mark.parametrize(("preset", "size"), sorted(FAL_PRESETS.items()))
def test_flux_images_have_the_preset_size_and_count(
    preset: str,
    size: tuple[int, int],
    emulator: BackgroundEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = route_storage(monkeypatch, emulator.url)
    arguments = {"prompt": "a lighthouse", "image_size": preset, "num_images": 2, "seed": 7}
    output = client.subscribe("fal-ai/flux/dev", arguments=arguments)
    assert len(output["images"]) == 2 and output["has_nsfw_concepts"] == [False, False]
    assert output["seed"] == 7 and output["prompt"] == "a lighthouse"
    for image in output["images"]:
        _, data = read_back(image)
        assert Image.open(io.BytesIO(data)).size == size


def test_a_generic_endpoints_invalid_input_is_fals_422(
    emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's shape: every violation, loc under body, the app's pydantic messages."""
    client = route_storage(monkeypatch, emulator.url)
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.run("fal-ai/flux/dev", arguments={"image_size": "huge", "num_images": "two"})
    assert refused.value.status_code == 422
    detail = json.loads(refused.value.response.text)["detail"]
    assert {tuple(d["loc"][:2]) for d in detail} >= {
        ("body", "prompt"),
        ("body", "image_size"),
        ("body", "num_images"),
    }
    missing = next(d for d in detail if d["loc"] == ["body", "prompt"])
    assert missing == {
        "type": "missing",
        "loc": ["body", "prompt"],
        "msg": "Field required",
        "input": {"image_size": "huge", "num_images": "two"},
    }
    handle = client.submit("fal-ai/flux/dev", arguments={"prompt": 7})  # the queue accepts it
    with pytest.raises(fal_client.client.FalClientHTTPError) as failed:
        handle.get()
    assert failed.value.status_code == 422


def test_an_endpoint_fal_does_not_have_is_its_missing_application_404(
    emulator: BackgroundEmulator,
) -> None:
    """A fal_client user quoted the live answer: "Application 'stable-video-diffusion' not
    found" (docs/evidence.md, mcp-unknown-app)."""
    answer = httpx.post(f"{emulator.url}/fal-ai/stable-video-diffusion", json={}, headers=AUTH)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Application 'stable-video-diffusion' not found"}
    assert "catalogue" in answer.headers["x-ray2-mock-note"]


def test_generic_requests_are_marked_generic_in_the_journal_and_the_dashboard(
    emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = route_storage(monkeypatch, emulator.url)
    handle = client.submit("fal-ai/flux/schnell", arguments={"prompt": "a marked request"})
    handle.get()
    journal = httpx.get(
        f"{emulator.url}/_mock/journal", params={"request_id": handle.request_id}
    ).json()["entries"]
    assert journal and {entry["fidelity"] for entry in journal} == {"generic"}
    shown = httpx.get(f"{emulator.url}/_mock/ui/requests/{handle.request_id}").json()
    assert shown["fidelity"] == "generic"
    assert shown["output"]["body"]["images"][0]["url"].startswith(emulator.url)


def test_a_generic_requests_urls_use_its_own_owner_and_app(emulator: BackgroundEmulator) -> None:
    """fal's docs: "The status, result, and cancel URLs use only the owner and the app"."""
    submitted = httpx.post(
        f"{emulator.url}/fal-ai/flux/dev/image-to-image",
        json={"prompt": "a fox", "image_url": "https://example.com/fox.png"},
        headers=AUTH,
    ).json()
    base = f"{emulator.url}/fal-ai/flux/requests/{submitted['request_id']}"
    assert (submitted["response_url"], submitted["status_url"], submitted["cancel_url"]) == (
        base,
        f"{base}/status",
        f"{base}/cancel",
    )
    status = httpx.get(submitted["status_url"], headers=AUTH)
    assert status.status_code in (200, 202) and status.json()["status"] in (
        "IN_QUEUE",
        "IN_PROGRESS",
        "COMPLETED",
    )


LAZY = """
import sys, tempfile, httpx
from pathlib import Path
from contracts.schemas.catalogue import load_catalogue
from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config
auth = {"Authorization": "Key a:b"}
with BackgroundEmulator(make_config(Path(tempfile.mkdtemp()), timing="instant")) as emulator:
    url = emulator.url
    submitted = httpx.post(f"{url}/fal-ai/luma-dream-machine/ray-2", json={"prompt": "a fox"},
                           headers=auth).json()
    httpx.get(submitted["status_url"], headers=auth)
    httpx.get(submitted["response_url"], headers=auth)
    before = load_catalogue.cache_info().currsize
    httpx.post(f"{url}/fal-ai/flux/dev", json={"prompt": "a fox"}, headers=auth)
    print(before, load_catalogue.cache_info().currsize)
"""


def test_ray_2_traffic_never_reads_the_catalogue() -> None:
    """The catalogue is read on the first request to another endpoint, not before: the
    fixture's first Ray 2 answer does not pay for it."""
    import subprocess
    import sys

    from tests.support import REPO_ROOT

    done = subprocess.run(
        [sys.executable, "-c", LAZY], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "1"]


def test_a_prompt_that_looks_like_a_file_reference_is_echoed_as_sent(
    emulator: BackgroundEmulator,
) -> None:
    """Outputs refer to their files by unguessable references: an echoed string is never one."""
    answer = httpx.post(
        f"{emulator.url}/run/fal-ai/flux/dev", json={"prompt": "ray2-mock-file:0"}, headers=AUTH
    ).json()
    assert answer["prompt"] == "ray2-mock-file:0"


def test_a_scenario_can_aim_at_a_catalogue_endpoint(
    emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    aimed = {"times": 1, "match": {"endpoint": "fal-ai/flux/schnell"}}
    added = httpx.post(
        f"{emulator.url}/_mock/scenarios", json={**aimed, "error": "content_policy_violation"}
    )
    assert added.status_code == 200, added.text
    client = route_storage(monkeypatch, emulator.url)
    with pytest.raises(fal_client.client.FalClientHTTPError) as refused:
        client.subscribe("fal-ai/flux/schnell", arguments={"prompt": "aimed at"})
    assert refused.value.status_code == 422
    assert json.loads(refused.value.response.text)["detail"][0]["type"] == (
        "content_policy_violation"
    )
    unknown = {"match": {"endpoint": "fal-ai/no-such/model"}, "error": "internal_server_error"}
    answer = httpx.post(f"{emulator.url}/_mock/scenarios", json=unknown)
    assert answer.status_code == 422
    assert "fal-ai/no-such/model" in answer.text
