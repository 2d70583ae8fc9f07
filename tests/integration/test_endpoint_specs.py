"""An endpoint described by fal's own OpenAPI document (``serve --endpoint-spec``), and
``ray2-mock fetch-spec`` saving one, rehearsed offline through env mode.

The document is a stored capture of fal's published OpenAPI for
``alibaba/happy-horse/image-to-video`` (docs/evidence.md), an endpoint the pinned client does
not type: its bounds and defaults in the assertions below are read from that file's text.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from jsonschema import Draft7Validator

from contracts.schemas.specs import parse_spec
from mockserver.serving.server import ServerInfo
from tests.support import EVIDENCE, TEST_KEY, env_exports, serve_process, unrouted_env

HORSE = "alibaba/happy-horse/image-to-video"
SPEC = EVIDENCE / "openapi-happy-horse-i2v.json"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
FRAME = (
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20250925/wpimhv/rap.png"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, Path]]:
    state = tmp_path_factory.mktemp("specs") / "state"
    with serve_process(state, "--endpoint-spec", str(SPEC)) as info:
        yield info, state


def test_without_its_document_the_endpoint_is_a_missing_application(tmp_path: Path) -> None:
    with serve_process(tmp_path / "state") as info:
        answer = httpx.post(f"{info.url}/{HORSE}", json={"image_url": FRAME}, headers=AUTH)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Application 'happy-horse' not found"}


def test_the_documents_bounds_and_defaults_judge_the_input(
    served: tuple[ServerInfo, Path],
) -> None:
    info, _ = served
    refused = httpx.post(
        f"{info.url}/run/{HORSE}", json={"image_url": FRAME, "duration": 20}, headers=AUTH
    )
    assert refused.status_code == 422
    [entry] = refused.json()["detail"]
    assert (entry["type"], entry["loc"], entry["input"]) == (
        "literal_error",
        ["body", "duration"],
        20,
    )
    assert entry["ctx"]["expected"] == "3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 or 15"
    missing = httpx.post(f"{info.url}/run/{HORSE}", json={"prompt": "go"}, headers=AUTH)
    assert missing.json()["detail"][0]["loc"] == ["body", "image_url"]


def test_its_output_is_the_documents_output_model_with_a_real_video(
    served: tuple[ServerInfo, Path],
) -> None:
    info, _ = served
    answer = httpx.post(f"{info.url}/run/{HORSE}", json={"image_url": FRAME}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    output = answer.json()
    document = json.loads(SPEC.read_text())  # the stored capture itself judges the output
    output_model = {"$ref": "#/components/schemas/HappyHorseImageToVideoOutput"}
    validator = Draft7Validator({**output_model, "components": document["components"]})
    assert [e.message for e in validator.iter_errors(output)] == []
    video = httpx.get(output["video"]["url"], timeout=30)
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert min(stream.width, stream.height) == 1080  # the document's default resolution
        assert float(container.duration / av.time_base) == pytest.approx(5, abs=0.1)  # its default
    submitted = httpx.post(f"{info.url}/{HORSE}", json={"image_url": FRAME}, headers=AUTH).json()
    assert submitted["status_url"].startswith(f"{info.url}/alibaba/happy-horse/requests/")


def test_a_file_that_is_no_fal_document_stops_serve_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-spec.json"
    bad.write_text(json.dumps({"openapi": "3.0.4", "paths": {}}))
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    command += ["--state-dir", str(tmp_path / "state"), "--endpoint-spec", str(bad)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert str(bad) in done.stderr and "not a fal queue OpenAPI document" in done.stderr


def test_fetch_spec_saves_fals_published_document_rehearsed_through_env_mode(
    served: tuple[ServerInfo, Path], tmp_path: Path
) -> None:
    """fetch-spec goes to fal.ai as the live suite does: here `ray2-mock env` routes it to the
    emulator, which publishes Ray 2's documents."""
    _, state = served
    endpoint = "fal-ai/luma-dream-machine/ray-2"
    shell = f'{env_exports(state)}\nexec "$@"'
    command = [sys.executable, "-m", "mockserver.cli", "fetch-spec", endpoint]
    done = subprocess.run(
        ["sh", "-c", shell, "sh", *command, "--out", str(tmp_path)],
        env=unrouted_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    saved = tmp_path / "fal-ai__luma-dream-machine__ray-2.json"
    document = json.loads(saved.read_text())
    assert document["info"]["x-fal-metadata"]["endpointId"] == endpoint
    spec = parse_spec(document)
    assert spec.input_schema["properties"]["prompt"]["minLength"] == 3  # fal's published bound
