"""fal's endpoint catalogue (``contracts/schemas/catalogue.json.gz``) through its loader.

The file is generated from the types the pinned ``@fal-ai/client`` ships; regenerating it from
that client is the node-marked type-drift test. These tests read only the committed file.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from contracts import load_schema
from contracts.catalogue.generate import build, encode
from contracts.schemas.catalogue import (
    CATALOGUE_FILE,
    DRAFT,
    KINDS,
    Catalogue,
    load_catalogue,
)
from contracts.schemas.endpoints import INPUT_SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
UNTYPED = {"fal-ai/luma-dream-machine/ray-2/modify"}
"""The family member @fal-ai/client 1.10.1 has no types for (see test_type_drift.py)."""
IMAGE = "https://storage.googleapis.com/falserverless/example_inputs/cat.png"
VIDEO = "https://storage.googleapis.com/falserverless/example_inputs/video.mp4"
AUDIO = "https://storage.googleapis.com/falserverless/example_inputs/speech.mp3"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_importing_the_schemas_reads_no_catalogue() -> None:
    """A fresh interpreter: importing the leaf and the loader module parses nothing."""
    code = (
        "import contracts.schemas, contracts.schemas.catalogue as c\n"
        "assert c.load_catalogue.cache_info().currsize == 0\n"
        "import gc, contracts.schemas.catalogue as m\n"
        "assert not [o for o in gc.get_objects() if isinstance(o, m.Catalogue)]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_catalogue_is_loaded_once(catalogue: Catalogue) -> None:
    assert load_catalogue() is catalogue
    entry = catalogue.endpoint("fal-ai/flux/dev")
    assert entry is not None and catalogue.endpoint("fal-ai/flux/dev") is entry


def test_the_catalogue_names_the_pinned_client_and_tools(catalogue: Catalogue) -> None:
    client = json.loads((ROOT / "tests" / "js" / "package.json").read_text())
    tools = json.loads((ROOT / "contracts" / "catalogue" / "tools" / "package.json").read_text())
    assert catalogue.source["package"] == "@fal-ai/client"
    assert catalogue.source["version"] == client["dependencies"]["@fal-ai/client"]
    assert catalogue.source["file"] == "src/types/endpoints.d.ts"
    assert catalogue.tools == tools["dependencies"]


def test_the_file_is_canonical_gzip_json() -> None:
    """Sorted keys, no spaces, no timestamp: the same catalogue always gives the same bytes."""
    data = CATALOGUE_FILE.read_bytes()
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"  # gzip, mtime 0
    text = gzip.decompress(data)
    assert encode(json.loads(text)) == data


def test_every_endpoint_of_the_map_has_a_pair_of_valid_schemas(catalogue: Catalogue) -> None:
    assert len(catalogue) > 1000
    for endpoint_id in catalogue:
        entry = catalogue.endpoint(endpoint_id)
        assert entry is not None, endpoint_id
        assert entry.kind in KINDS
        for type_name, schema in (
            (entry.input_type, entry.input_schema),
            (entry.output_type, entry.output_schema),
        ):
            assert schema["$schema"] == DRAFT
            assert schema["title"] == catalogue.resolve(type_name)
            Draft7Validator.check_schema(schema)
            refs = {r.removeprefix("#/definitions/") for r in _refs(schema)}
            assert refs <= set(schema.get("definitions", {})), f"{endpoint_id}: dangling $ref"


def test_no_description_keeps_its_default_text(catalogue: Catalogue) -> None:
    """Every ``Default value: `x` `` of the doc text became a JSON Schema default."""
    text = json.dumps(catalogue.definitions)
    assert "Default value:" not in text
    assert text.count('"default":') > 4000


def test_an_untyped_endpoint_has_no_entry(catalogue: Catalogue) -> None:
    assert catalogue.endpoint("fal-ai/luma-dream-machine/ray-2/modify") is None
    assert catalogue.endpoint("acme/no-such-model") is None
    assert "acme/no-such-model" not in catalogue


def test_an_alias_shares_its_target_schema(catalogue: Catalogue) -> None:
    entry = catalogue.endpoint("fal-ai/luma-dream-machine/ray-2-flash")
    assert entry is not None
    assert entry.input_type == "LumaDreamMachineRay2FlashInput"
    assert entry.input_schema["title"] == "LumaDreamMachineRay2Input"
    assert entry.output_schema["title"] == "I2VOutput"
    assert entry.output_schema["properties"]["video"] == {
        "$ref": "#/definitions/File",
        "description": "The generated video",
    }
    assert entry.output_schema["definitions"]["File"]["required"] == ["url"]


def test_file_inputs_are_strings_and_defaults_are_values(catalogue: Catalogue) -> None:
    i2v = catalogue.endpoint("fal-ai/luma-dream-machine/ray-2/image-to-video")
    assert i2v is not None
    assert i2v.input_schema["properties"]["image_url"]["type"] == "string"
    assert "Blob" not in catalogue.definitions
    flux = catalogue.endpoint("fal-ai/flux/dev")
    assert flux is not None
    fields = flux.input_schema["properties"]
    assert fields["image_size"]["default"] == "landscape_4_3"  # written without quotes
    assert fields["num_inference_steps"]["default"] == 28
    assert fields["enable_safety_checker"]["default"] is True
    assert fields["output_format"] == {
        "default": "jpeg",
        "description": "The format of the generated image.",
        "enum": ["jpeg", "png"],
        "type": "string",
    }


def test_a_description_keeps_the_text_after_an_at_sign(catalogue: Catalogue) -> None:
    """TypeScript reads ``@Image1`` as a JSDoc tag; the generator keeps it as text."""
    entry = catalogue.endpoint("fal-ai/kling-image/o1")
    assert entry is not None
    assert entry.input_schema["properties"]["prompt"]["description"] == (
        "Text prompt for image generation. Reference images using @Image1, @Image2, etc."
        " (or @Image if only one image). Max 2500 characters."
    )


FAMILY = sorted(set(INPUT_SCHEMAS) - UNTYPED)


def test_the_ray_2_family_is_in_the_catalogue_where_the_client_types_it(
    catalogue: Catalogue,
) -> None:
    assert len(FAMILY) == 7
    assert [e for e in FAMILY if e not in catalogue] == []
    assert [e for e in sorted(UNTYPED) if e in catalogue] == []


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.parametrize("endpoint", FAMILY)
def test_the_family_input_schemas_agree_with_the_catalogue(
    catalogue: Catalogue, endpoint: str
) -> None:
    """Field names, required-ness, enums, defaults and descriptions. The types leave out
    falsy defaults (``loop: false``) and say ``number`` where the schemas say ``integer``."""
    ours = load_schema(INPUT_SCHEMAS[endpoint])
    entry = catalogue.endpoint(endpoint)
    assert entry is not None
    theirs = entry.input_schema
    assert theirs["title"] == ours["title"]
    assert set(theirs["properties"]) == set(ours["properties"])
    assert set(theirs.get("required", [])) == set(ours.get("required", []))
    for name, rule in ours["properties"].items():
        shipped = theirs["properties"][name]
        assert shipped.get("enum") == rule.get("enum"), name
        if "default" in shipped:
            assert shipped["default"] == rule.get("default"), name
        else:
            assert rule.get("default") in (None, False, 0, ""), name
        assert _words(shipped.get("description")) == _words(rule.get("description")), name
        assert shipped["type"] == {"integer": "number"}.get(rule["type"], rule["type"]), name


# Inputs as fal's model pages show them, written by hand: (kind, a valid input, an invalid one).
SAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # text to image
    "fal-ai/flux/dev": (
        "image",
        {"prompt": "A cat wearing a tiny wizard hat", "image_size": "landscape_4_3",
         "num_inference_steps": 28, "guidance_scale": 3.5, "num_images": 1,
         "enable_safety_checker": True, "output_format": "jpeg"},
        {"prompt": "A cat", "output_format": "gif"},
    ),
    "fal-ai/flux/schnell": (
        "image",
        {"prompt": "A lighthouse at dawn", "image_size": {"width": 1024, "height": 768},
         "num_inference_steps": 4, "seed": 42},
        {"prompt": "A lighthouse", "image_size": "huge"},
    ),
    "fal-ai/flux-pro/v1.1-ultra": (
        "image",
        {"prompt": "A neon city street in the rain", "aspect_ratio": "21:9",
         "safety_tolerance": "2", "raw": False},
        {"prompt": "A street", "safety_tolerance": 2},
    ),
    "fal-ai/recraft/v3/text-to-image": (
        "image",
        {"prompt": "A red fox in a snowy forest", "image_size": "square_hd",
         "style": "digital_illustration", "colors": [{"r": 200, "g": 40, "b": 20}]},
        {"prompt": "A fox", "style": "oil_painting"},
    ),
    "fal-ai/imagen4/preview": (
        "image",
        {"prompt": "A bowl of ramen, studio lighting", "aspect_ratio": "16:9",
         "num_images": 2, "resolution": "2K"},
        {"aspect_ratio": "16:9"},
    ),
    "fal-ai/ideogram/v3": (
        "image",
        {"prompt": "A poster that says HELLO", "rendering_speed": "TURBO", "style": "DESIGN",
         "image_size": "portrait_16_9"},
        {"prompt": "A poster", "rendering_speed": "FAST"},
    ),
    "fal-ai/fast-sdxl": (
        "image",
        {"prompt": "photo of a cabin in the woods", "negative_prompt": "blurry",
         "num_inference_steps": 25, "guidance_scale": 7.5, "format": "png",
         "loras": [{"path": "https://example.com/lora.safetensors", "scale": 0.8}]},
        {"prompt": "a cabin", "loras": [{"scale": 0.8}]},
    ),
    "fal-ai/bytedance/seedream/v4/text-to-image": (
        "image",
        {"prompt": "A glass teapot on a wooden table", "image_size": "square_hd",
         "num_images": 1, "max_images": 1},
        {"prompt": "A teapot", "num_images": "one"},
    ),
    # image to image
    "fal-ai/flux/dev/image-to-image": (
        "image",
        {"image_url": IMAGE, "prompt": "Make it a watercolor", "strength": 0.95},
        {"prompt": "Make it a watercolor"},
    ),
    "fal-ai/flux-pro/kontext": (
        "image",
        {"image_url": IMAGE, "prompt": "Put a donut next to the cat", "aspect_ratio": "1:1"},
        {"image_url": IMAGE, "prompt": "Add a donut", "aspect_ratio": "5:4"},
    ),
    "fal-ai/nano-banana/edit": (
        "image",
        {"image_urls": [IMAGE, IMAGE], "prompt": "Blend these two cats", "num_images": 1,
         "output_format": "png"},
        {"image_urls": IMAGE, "prompt": "Blend"},
    ),
    "fal-ai/birefnet": (
        "image",
        {"image_url": IMAGE, "model": "General Use (Light)", "operating_resolution": "1024x1024",
         "output_format": "png", "refine_foreground": True},
        {"image_url": IMAGE, "operating_resolution": "4096x4096"},
    ),
    # video
    "fal-ai/kling-video/v2.1/standard/image-to-video": (
        "video",
        {"prompt": "The cat slowly turns its head", "image_url": IMAGE, "duration": "5",
         "negative_prompt": "blur, distort, and low quality", "cfg_scale": 0.5},
        {"prompt": "The cat turns", "image_url": IMAGE, "duration": 5},
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": (
        "video",
        {"prompt": "Camera pushes in on the cat", "image_url": IMAGE, "duration": "6",
         "resolution": "768P", "prompt_optimizer": True},
        {"prompt": "Push in", "image_url": IMAGE, "resolution": "1080P"},
    ),
    "fal-ai/veo3": (
        "video",
        {"prompt": "A drone shot over a misty valley at sunrise", "aspect_ratio": "16:9",
         "duration": "8s", "generate_audio": True, "resolution": "1080p"},
        {"prompt": "A valley", "duration": "10s"},
    ),
    "fal-ai/pixverse/v4.5/text-to-video": (
        "video",
        {"prompt": "A paper boat drifting down a stream", "aspect_ratio": "16:9",
         "resolution": "720p", "duration": "5", "style": "anime"},
        {"prompt": "A paper boat", "style": "watercolor"},
    ),
    "fal-ai/wan-i2v": (
        "video",
        {"prompt": "The cat starts dancing", "image_url": IMAGE, "num_frames": 81,
         "frames_per_second": 16, "resolution": "720p", "aspect_ratio": "auto"},
        {"prompt": "The cat dances", "image_url": IMAGE, "resolution": "1080p"},
    ),
    "fal-ai/ltx-video": (
        "video",
        {"prompt": "Waves crashing on black sand", "num_inference_steps": 30,
         "guidance_scale": 3, "seed": 7},
        {"negative_prompt": "low quality"},
    ),
    "fal-ai/video-upscaler": (
        "video",
        {"video_url": VIDEO, "scale": 2},
        {"video_url": VIDEO, "scale": "2x"},
    ),
    # text to speech, music and sound
    "fal-ai/elevenlabs/tts/multilingual-v2": (
        "audio",
        {"text": "Hello! This is a test of the text to speech system.", "voice": "Aria",
         "stability": 0.5, "similarity_boost": 0.75, "speed": 1},
        {"voice": "Aria"},
    ),
    "fal-ai/kokoro/american-english": (
        "audio",
        {"prompt": "The quick brown fox jumped over the lazy dog.", "voice": "af_heart",
         "speed": 1},
        {"prompt": "The quick brown fox", "voice": "bf_emma"},
    ),
    "fal-ai/minimax/speech-02-hd": (
        "audio",
        {"text": "Hello world! This is a test.", "output_format": "url",
         "voice_setting": {"voice_id": "Wise_Woman", "speed": 1, "vol": 1, "pitch": 0},
         "audio_setting": {"sample_rate": "32000", "bitrate": "128000", "format": "mp3",
                           "channel": "1"}},
        {"text": "Hello", "audio_setting": {"format": "ogg"}},
    ),
    "fal-ai/chatterbox/text-to-speech": (
        "audio",
        {"text": "I just found a hidden treasure in the backyard!", "exaggeration": 0.25,
         "temperature": 0.7, "cfg": 0.5},
        {"text": 42},
    ),
    "fal-ai/stable-audio": (
        "audio",
        {"prompt": "128 BPM tech house drum loop", "seconds_total": 30, "steps": 100},
        {"seconds_total": 30},
    ),
    "fal-ai/mmaudio-v2/text-to-audio": (
        "audio",
        {"prompt": "Indian holy music", "duration": 8, "num_steps": 25, "cfg_strength": 4.5},
        {"prompt": "Indian holy music", "mask_away_clip": "no"},
    ),
    "fal-ai/lyria2": (
        "audio",
        {"prompt": "A lush, ambient soundscape with a slow piano melody",
         "negative_prompt": "low quality"},
        {"negative_prompt": "vocals"},
    ),
    # speech to text
    "fal-ai/whisper": (
        "text",
        {"audio_url": AUDIO, "task": "transcribe", "language": "en", "chunk_level": "segment",
         "diarize": False},
        {"audio_url": AUDIO, "task": "summarize"},
    ),
    "fal-ai/wizper": (
        "text",
        {"audio_url": AUDIO, "task": "transcribe", "language": "en", "chunk_level": "segment"},
        {"audio_url": AUDIO, "language": "english"},
    ),
    "fal-ai/elevenlabs/speech-to-text": (
        "text",
        {"audio_url": AUDIO, "language_code": "eng", "tag_audio_events": True, "diarize": True},
        {"language_code": "eng"},
    ),
    # language and vision models
    "openrouter/router": (
        "text",
        {"prompt": "Write a haiku about the sea.", "model": "google/gemini-2.5-flash",
         "system_prompt": "You are a poet.", "temperature": 1, "max_tokens": 200},
        {"prompt": "Write a haiku about the sea."},
    ),
    "openrouter/router/vision": (
        "text",
        {"image_urls": [IMAGE], "prompt": "Caption this image for a video model.",
         "model": "google/gemini-2.5-flash"},
        {"image_urls": [IMAGE], "prompt": "Caption it", "model": "google/gemini-2.5-flash",
         "reasoning": "yes"},
    ),
    "fal-ai/moondream2/visual-query": (
        "text",
        {"image_url": IMAGE, "prompt": "What animal is this?"},
        {"image_url": [IMAGE], "prompt": "What animal is this?"},
    ),
    # upscalers
    "fal-ai/clarity-upscaler": (
        "image",
        {"image_url": IMAGE, "prompt": "masterpiece, best quality, highres",
         "upscale_factor": 2, "creativity": 0.35, "resemblance": 0.6},
        {"prompt": "masterpiece"},
    ),
    "fal-ai/esrgan": (
        "image",
        {"image_url": IMAGE, "scale": 2, "model": "RealESRGAN_x4plus", "output_format": "png"},
        {"image_url": IMAGE, "model": "RealESRGAN_x8"},
    ),
    "fal-ai/aura-sr": (
        "image",
        {"image_url": IMAGE, "upscale_factor": 4, "checkpoint": "v2"},
        {"image_url": IMAGE, "checkpoint": "v3"},
    ),
    "fal-ai/seedvr/upscale/image": (
        "image",
        {"image_url": IMAGE, "upscale_mode": "target", "target_resolution": "2160p",
         "output_format": "webp"},
        {"image_url": IMAGE, "target_resolution": "4k"},
    ),
    # 3D
    "fal-ai/hunyuan3d/v2": (
        "3d",
        {"input_image_url": IMAGE, "num_inference_steps": 50, "guidance_scale": 7.5,
         "octree_resolution": 256, "textured_mesh": True},
        {"image_url": IMAGE},
    ),
    "fal-ai/trellis": (
        "3d",
        {"image_url": IMAGE, "ss_guidance_strength": 7.5, "slat_sampling_steps": 12,
         "mesh_simplify": 0.95, "texture_size": "1024"},
        {"image_url": IMAGE, "texture_size": 1024},
    ),
    "tripo3d/tripo/v2.5/image-to-3d": (
        "3d",
        {"image_url": IMAGE, "texture": "HD", "pbr": True, "orientation": "align_image"},
        {"image_url": IMAGE, "texture": "ultra"},
    ),
    # files and others
    "fal-ai/flux-lora-fast-training": (
        "file",
        {"images_data_url": "https://example.com/my-dataset.zip", "trigger_word": "TOK",
         "steps": 1000, "create_masks": True},
        {"trigger_word": "TOK"},
    ),
    "fal-ai/imageutils/nsfw": (
        "other",
        {"image_url": IMAGE},
        {"image_url": None},
    ),
}  # fmt: skip


def test_the_sample_covers_every_kind() -> None:
    assert len(SAMPLES) >= 30
    assert {kind for kind, _, _ in SAMPLES.values()} == set(KINDS)


@pytest.mark.parametrize("endpoint", sorted(SAMPLES))
def test_a_sample_endpoint_takes_its_example_and_refuses_a_bad_one(
    catalogue: Catalogue, endpoint: str
) -> None:
    kind, good, bad = SAMPLES[endpoint]
    entry = catalogue.endpoint(endpoint)
    assert entry is not None
    assert entry.kind == kind
    validator = Draft7Validator(entry.input_schema)
    assert [e.message for e in validator.iter_errors(good)] == []
    errors = list(validator.iter_errors(bad))
    assert errors, f"{endpoint} accepted {bad}"
    assert len({tuple(e.absolute_path) for e in errors}) == 1, "one mistake, one field"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def _file(**extra: Any) -> dict[str, Any]:
    return {"$ref": "#/definitions/File", **extra}


KIND_CASES = {
    "acme/video-maker": ({"video": _file()}, "video"),
    "acme/pictures": ({"images": {"type": "array", "items": {"$ref": "#/definitions/Image"}}},
                      "image"),
    "acme/make-3d": ({"model_mesh": _file(), "thumbnail": _file()}, "3d"),
    "acme/voice": ({"audio": {"anyOf": [_file(), {"type": "string"}]}}, "audio"),
    "acme/separate-audio": ({"target": _file(), "residual": _file()}, "audio"),  # by id
    "acme/trainer": ({"diffusers_lora_file": _file(), "config_file": _file()}, "file"),
    "acme/render": ({"video_url": {"type": "string"}}, "video"),
    "acme/chat": ({"output": {"type": "string"}, "usage": {"type": "object"}}, "text"),
    "acme/score": ({"nsfw_probability": {"type": "number"}}, "other"),
}  # fmt: skip


def test_the_kind_rules() -> None:
    """The rules of ``contracts.schemas.catalogue`` on a small catalogue of their own."""
    url = {"url": {"type": "string"}}
    definitions: dict[str, Any] = {
        "File": {"type": "object", "properties": url, "required": ["url"]},
        "Image": {"type": "object", "properties": {**url, "width": {"type": "number"}}},
        "Input": {"type": "object", "properties": {}},
    }
    endpoints = {}
    for endpoint_id, (fields, _) in KIND_CASES.items():
        name = endpoint_id.split("/")[1].title().replace("-", "") + "Output"
        definitions[name] = {"type": "object", "properties": fields}
        definitions[name + "Alias"] = {"$ref": f"#/definitions/{name}"}
        endpoints[endpoint_id] = {"input": "Input", "output": name + "Alias"}
    document = {"format": 1, "source": {}, "tools": {}, "endpoints": endpoints,
                "definitions": definitions}  # fmt: skip
    small = Catalogue(document)
    assert {e: small.kind(e) for e in KIND_CASES} == {e: k for e, (_, k) in KIND_CASES.items()}
    assert small.kinds()["audio"] == 2


def test_the_generator_moves_defaults_and_reads_the_map() -> None:
    """The Python half of the generator, on what the TypeScript half prints."""
    raw = {
        "tools": {"ts-json-schema-generator": "x", "typescript": "y"},
        "schema": {
            "definitions": {
                "EndpointTypeMap": {"type": "object", "properties": {"acme/thing": {
                    "type": "object", "properties": {
                        "input": {"$ref": "#/definitions/ThingInput"},
                        "output": {"$ref": "#/definitions/ThingOutput"}}}}},
                "ThingInput": {"type": "object", "properties": {
                    "size": {"type": "string", "enum": ["small", "large"],
                             "description": 'How big.\n\nVery. Default value: `"large"`'},
                    "steps": {"type": "number", "description": "Default value: `28`"},
                    "image_size": {"anyOf": [{"$ref": "#/definitions/ImageSize"},
                                             {"type": "string", "const": "square"}],
                                   "description": "Size. Default value: `square`"}}},
                "ThingOutput": {"type": "object", "properties": {}},
            }
        },
    }  # fmt: skip
    made = build(raw, {"package": "@fal-ai/client", "version": "0"})
    assert made["endpoints"] == {"acme/thing": {"input": "ThingInput", "output": "ThingOutput"}}
    assert "EndpointTypeMap" not in made["definitions"]
    fields = made["definitions"]["ThingInput"]["properties"]
    assert fields["size"]["default"] == "large"
    assert fields["size"]["description"] == "How big.\n\nVery."
    assert fields["steps"] == {"type": "number", "default": 28}
    assert fields["image_size"]["default"] == "square"
    assert encode(made) == encode(json.loads(json.dumps(made)))
