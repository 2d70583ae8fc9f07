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
from tests.catalogue_samples import SAMPLES

ROOT = Path(__file__).resolve().parents[2]
UNTYPED = {"fal-ai/luma-dream-machine/ray-2/modify"}
"""The family member @fal-ai/client 1.10.1 has no types for (see test_type_drift.py)."""


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
