"""Outputs synthesised from hand-written output schemas shaped like fal's.

Each output is validated with ``jsonschema`` against the schema written here, and its files are
read back from the fake publisher with Pillow, ``wave``, PyAV or the GLB layout. Expected sizes
come from fal's toolkit (``IMAGE_SIZE_PRESETS``, quoted in ``test_media_stills.py``) or from the
documented rules worked by hand, never from the emulator's tables.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import subprocess
import wave
from collections.abc import Mapping
from typing import Any

import av
import imageio_ffmpeg
import jsonschema
import pytest
from PIL import Image

from mockserver.production.synthesis import synthesise

DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"

IMAGE = {  # fal's Image (fal/toolkit/image/image.py: File + width/height)
    "type": "object",
    "title": "Image",
    "properties": {
        "url": {"type": "string"},
        "content_type": {"type": "string"},
        "file_name": {"type": "string"},
        "file_size": {"type": "integer"},
        "file_data": {"type": "string", "format": "binary"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
    },
    "required": ["url"],
}
FILE = {  # fal's File (fal/toolkit/file/file.py)
    "type": "object",
    "title": "File",
    "properties": {
        "url": {"type": "string"},
        "content_type": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "file_name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "file_size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    },
    "required": ["url"],
}

FLUX = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {
        "images": {"type": "array", "items": {"$ref": "#/definitions/Image"}},
        "timings": {"type": "object", "additionalProperties": {"type": "number"}},
        "seed": {"type": "integer"},
        "has_nsfw_concepts": {"type": "array", "items": {"type": "boolean"}},
        "prompt": {"type": "string"},
    },
    "required": ["images", "timings", "seed", "has_nsfw_concepts", "prompt"],
    "definitions": {"Image": IMAGE},
}
UPSCALER = {
    "$schema": DRAFT2020,
    "type": "object",
    "properties": {"image": {"$ref": "#/$defs/Image"}, "timings": {}},
    "required": ["image"],
    "$defs": {"Image": IMAGE},
}
TTS_FILE = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {"audio": {"$ref": "#/definitions/File"}},
    "required": ["audio"],
    "definitions": {"File": FILE},
}
TTS_URL = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {"audio_url": {"type": "string"}, "duration_ms": {"type": "number"}},
    "required": ["audio_url"],
}
STT = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "chunks": {"type": "array", "items": {"$ref": "#/definitions/WhisperChunk"}},
        "inferred_languages": {"type": "array", "items": {"enum": ["en", "de", "fr"]}},
    },
    "required": ["text", "chunks"],
    "definitions": {
        "WhisperChunk": {
            "type": "object",
            "properties": {
                "timestamp": {
                    "type": "array",
                    "items": [{"type": "number"}, {"type": "number"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
                "text": {"type": "string"},
            },
            "required": ["timestamp", "text"],
        }
    },
}
LLM = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {
        "output": {"type": "string"},
        "reasoning": {"type": ["string", "null"]},
        "partial": {"type": "boolean", "default": False},
        "error": {"type": ["string", "null"]},
    },
    "required": ["output"],
}
VIDEO = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {"video": {"$ref": "#/definitions/File"}, "seed": {"type": "integer"}},
    "required": ["video"],
    "definitions": {"File": FILE},
}
MESH = {
    "$schema": DRAFT7,
    "type": "object",
    "properties": {"model_mesh": {"$ref": "#/definitions/File"}, "timings": {}},
    "required": ["model_mesh", "timings"],
    "definitions": {"File": FILE},
}


class Cdn:
    """A fake publisher: keeps each file and hands out a URL naming it."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}

    def __call__(self, data: bytes, file_name: str, content_type: str) -> str:
        url = f"https://cdn.test/{len(self.files)}/{file_name}"
        self.files[url] = (data, file_name, content_type)
        return url

    def data(self, url: str) -> bytes:
        return self.files[url][0]


@pytest.fixture(scope="module")
def tiny_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 0.2 s 64x64 H.264 MP4 made by the bundled ffmpeg: what a renderer returns."""
    path = tmp_path_factory.mktemp("mp4") / "tiny.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi"]
        + ["-i", "testsrc=size=64x64:rate=10:duration=0.2", "-c:v", "libx264"]
        + ["-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path.read_bytes()


async def run(
    schema: Mapping[str, Any], request: Mapping[str, Any], **kwargs: Any
) -> tuple[dict, Cdn]:
    cdn = Cdn()
    out = await synthesise(schema, request, request_id="req-1", publish=cdn, **kwargs)
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    validator(schema).validate(out)
    json.dumps(out)  # the output is plain JSON
    return out, cdn


def read_image(cdn: Cdn, entry: Mapping[str, Any]) -> Image.Image:
    data = cdn.data(entry["url"])
    assert entry["file_size"] == len(data)
    image = Image.open(io.BytesIO(data))
    assert (image.width, image.height) == (entry["width"], entry["height"])
    assert image.get_format_mimetype() == entry["content_type"]
    assert entry["url"].endswith(entry["file_name"])
    return image


# ---------------------------------------------------------------------------------------------
# Text-to-image (FLUX)


async def test_flux_images_seed_prompt_flags_timings() -> None:
    request = {"prompt": "a red fox", "image_size": "landscape_16_9", "num_images": 3, "seed": 7}
    out, cdn = await run(FLUX, request)
    assert len(out["images"]) == 3 and out["has_nsfw_concepts"] == [False, False, False]
    assert out["seed"] == 7 and out["prompt"] == "a red fox"
    assert out["timings"] and all(isinstance(v, float) for v in out["timings"].values())
    for entry in out["images"]:
        image = read_image(cdn, entry)
        # fal's toolkit: "landscape_16_9": ImageSize(width=1024, height=576)
        assert image.size == (1024, 576)
        assert image.format == "PNG"  # no output_format: the toolkit's PNG
        assert "file_data" not in entry
    assert len({cdn.data(e["url"]) for e in out["images"]}) == 3  # three different pictures


async def test_flux_jpeg_size_object_and_one_image_by_default() -> None:
    request = {"prompt": "x", "image_size": {"width": 640, "height": 480}, "output_format": "jpeg"}
    out, cdn = await run(FLUX, request)
    assert len(out["images"]) == 1 and out["has_nsfw_concepts"] == [False]
    image = read_image(cdn, out["images"][0])
    assert (image.size, image.format) == ((640, 480), "JPEG")
    assert out["images"][0]["content_type"] == "image/jpeg"


async def test_flux_aspect_ratio_rule() -> None:
    out, cdn = await run(FLUX, {"prompt": "x", "aspect_ratio": "16:9"})
    # the documented rule: short side 1024, long side 1024 * 16 / 9 = 1820.4 -> 1820 (even)
    assert read_image(cdn, out["images"][0]).size == (1820, 1024)


async def test_banana_image_size_falls_back_to_square_hd_with_a_note() -> None:
    notes: list[str] = []
    request = {"prompt": "x", "image_size": "banana", "num_images": "three"}
    out, cdn = await run(FLUX, request, notes=notes)
    assert read_image(cdn, out["images"][0]).size == (1024, 1024)  # documented: fal's square_hd
    assert len(out["images"]) == 1
    assert any("image_size" in n for n in notes) and any("num_images" in n for n in notes)


async def test_seed_without_one_in_the_request_is_deterministic() -> None:
    first, _ = await run(FLUX, {"prompt": "x"})
    again, _ = await run(FLUX, {"prompt": "x"})
    other, _ = await run(FLUX, {"prompt": "y"})
    assert isinstance(first["seed"], int) and first["seed"] == again["seed"] != other["seed"]


async def test_same_request_same_output_and_same_files() -> None:
    request = {"prompt": "a red fox", "num_images": 2, "output_format": "png"}
    (first, cdn1), (second, cdn2) = await run(FLUX, request), await run(FLUX, request)
    assert first == second
    assert [f[0] for f in cdn1.files.values()] == [f[0] for f in cdn2.files.values()]
    cdn3 = Cdn()
    third = await synthesise(FLUX, request, request_id="req-2", publish=cdn3)
    assert third["timings"] != first["timings"]  # a new request id, new numbers


# ---------------------------------------------------------------------------------------------
# Upscaler, TTS, speech-to-text, LLM, video, 3D


async def test_upscaler_image() -> None:
    out, cdn = await run(UPSCALER, {"image_url": "https://x/in.png", "image_size": "square"})
    # fal's toolkit: "square": ImageSize(width=512, height=512)
    assert read_image(cdn, out["image"]).size == (512, 512)


async def test_tts_audio_file_wav_of_the_asked_length() -> None:
    out, cdn = await run(TTS_FILE, {"text": "hello", "duration": 2})
    audio = out["audio"]
    data = cdn.data(audio["url"])
    assert audio["file_size"] == len(data) and audio["content_type"] == "audio/wav"
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(2.0, abs=1e-3)


async def test_tts_audio_url_mp3() -> None:
    out, cdn = await run(TTS_URL, {"text": "hello", "duration": 3, "output_format": "mp3"})
    data, file_name, content_type = cdn.files[out["audio_url"]]
    assert content_type == "audio/mpeg" and file_name.endswith(".mp3")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        assert samples / stream.rate == pytest.approx(3.0, abs=0.1)


async def test_speech_to_text() -> None:
    out, cdn = await run(STT, {"audio_url": "https://x/a.mp3"})
    assert isinstance(out["text"], str) and out["text"]
    assert len(out["chunks"]) >= 1 and len(out["chunks"][0]["timestamp"]) == 2
    assert set(out["inferred_languages"]) <= {"en", "de", "fr"}
    assert cdn.files == {}  # no file in this output


async def test_llm_output_and_no_error_field() -> None:
    out, _ = await run(LLM, {"prompt": "tell me a joke"})
    assert isinstance(out["output"], str) and out["output"]
    assert "error" not in out  # a success carries no error
    assert out["partial"] is False  # the schema's default


async def test_video_through_the_renderer(tiny_mp4: bytes) -> None:
    calls: list[tuple] = []

    def render(width: int, height: int, seconds: float, fps: int, label: str) -> bytes:
        calls.append((width, height, seconds, fps, label))
        return tiny_mp4

    request = {"prompt": "a cat", "resolution": "720p", "aspect_ratio": "9:16", "duration": "5"}
    out, cdn = await run(VIDEO, request, render_video=render, title="fal-ai/some-video")
    # the documented rules: 720p -> short side 720; 9:16 -> 720 x 1280; "5" -> 5 s; 24 fps
    assert [c[:4] for c in calls] == [(720, 1280, 5.0, 24)]
    assert "a cat" in calls[0][4] and "fal-ai/some-video" in calls[0][4]
    video = out["video"]
    assert cdn.data(video["url"]) == tiny_mp4 and video["file_size"] == len(tiny_mp4)
    assert video["content_type"] == "video/mp4" and video["file_name"].endswith(".mp4")
    with av.open(io.BytesIO(cdn.data(video["url"]))) as container:
        assert container.streams.video[0].codec_context.name == "h264"


async def test_video_renderer_may_be_async(tiny_mp4: bytes) -> None:
    async def render(width: int, height: int, seconds: float, fps: int, label: str) -> bytes:
        await asyncio.sleep(0)
        return tiny_mp4

    async def publish(data: bytes, file_name: str, content_type: str) -> str:
        return f"https://cdn.test/{file_name}"

    out = await synthesise(VIDEO, {}, request_id="r", publish=publish, render_video=render)
    assert out["video"]["file_size"] == len(tiny_mp4)


async def test_3d_mesh_is_a_glb() -> None:
    out, cdn = await run(MESH, {"input_image_url": "https://x/in.png"})
    mesh = out["model_mesh"]
    data = cdn.data(mesh["url"])
    assert mesh["file_name"].endswith(".glb") and mesh["file_size"] == len(data)
    assert mesh["content_type"] == "model/gltf-binary"
    magic, version, length = struct.unpack_from("<4sII", data)  # the GLB header (glTF 2.0)
    assert (magic, version, length) == (b"glTF", 2, len(data))


# ---------------------------------------------------------------------------------------------
# Schema features


async def test_schema_features() -> None:
    schema = {
        "$schema": DRAFT7,
        "allOf": [
            {"$ref": "#/definitions/Base"},
            {
                "type": "object",
                "properties": {
                    "mode": {"enum": ["fast", "slow"]},
                    "version": {"const": "v2"},
                    "count": {"type": "integer", "minimum": 3, "maximum": 5},
                    "score": {"type": "number", "exclusiveMinimum": 10, "maximum": 11},
                    "label": {"type": "string", "default": "none"},
                    "note": {"type": ["null", "string"]},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                    "choice": {"oneOf": [{"type": "null"}, {"$ref": "#/definitions/Pair"}]},
                    "example": {"type": "string", "examples": ["hello"]},
                    "when": {"type": "string", "format": "date-time"},
                    "anything": {},
                },
                "required": ["mode", "version", "count", "score", "label", "tags", "choice"],
            },
        ],
        "definitions": {
            "Base": {
                "type": "object",
                "properties": {"id": {"type": "string", "minLength": 20}},
                "required": ["id"],
            },
            "Pair": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}},
                "required": ["a", "b"],
                "additionalProperties": False,
            },
        },
    }
    out, _ = await run(schema, {"prompt": "x"})
    assert out["mode"] == "fast" and out["version"] == "v2" and out["label"] == "none"
    assert 3 <= out["count"] <= 5 and 10 < out["score"] <= 11
    assert len(out["tags"]) >= 2 and set(out["choice"]) == {"a", "b"}
    assert out["example"] == "hello" and len(out["id"]) >= 20


async def test_pinned_content_type_wins_over_the_request() -> None:
    jpeg_only = {
        **IMAGE,
        "properties": {**IMAGE["properties"], "content_type": {"const": "image/jpeg"}},
    }
    schema = {"type": "object", "properties": {"image": jpeg_only}, "required": ["image"]}
    out, cdn = await run(schema, {"output_format": "png"})
    assert read_image(cdn, out["image"]).format == "JPEG"


async def test_a_self_referencing_schema_ends() -> None:
    schema = {
        "$schema": DRAFT7,
        "$ref": "#/definitions/Node",
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                },
                "required": ["name"],
            }
        },
    }
    out, _ = await run(schema, {})
    assert isinstance(out["name"], str)


@pytest.mark.parametrize(
    "request_input",
    [
        None,
        {"image_size": {"width": -1}, "num_images": 0, "seed": "x", "output_format": 5},
        {"prompt": 12, "duration": "forever", "aspect_ratio": [], "resolution": None},
    ],
)
async def test_malformed_requests_never_raise(request_input: Any, tiny_mp4: bytes) -> None:
    schema = {
        "type": "object",
        "properties": {**FLUX["properties"], "video": FILE, "audio": FILE, "model_mesh": FILE},
        "required": ["images", "video", "audio", "model_mesh", "seed"],
        "definitions": {"Image": IMAGE},
    }
    out, _ = await run(schema, request_input, render_video=lambda *a: tiny_mp4)
    assert len(out["images"]) == 1
