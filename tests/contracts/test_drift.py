"""Spec drift on fabricated OpenAPI documents (offline): pydantic's spelling is not drift,
a changed enum, default, requirement or nullability is, and the diff says where."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from contracts import load_schema
from contracts.generation.strategies import I2V, INPUT_SCHEMAS, T2V
from contracts.live.drift import drift_report, extract, normalize
from mockserver.fal.published import published_openapi
from tests.fal_reference_app import MODELS
from tests.support import REPO_ROOT

EVIDENCE = REPO_ROOT / "tests" / "fixtures" / "evidence"
ENUM_FIELDS = {"aspect_ratio": "AspectRatio", "resolution": "Resolution", "duration": "Duration"}


def pydantic_style(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Our schema as FastAPI would publish it: enums as $ref components wrapped in allOf."""
    out = copy.deepcopy(schema)
    out.pop("$schema", None)
    out.pop("$id", None)
    for name, prop in out.get("properties", {}).items():
        if name in ENUM_FIELDS:
            component = f"{ENUM_FIELDS[name]}Enum"
            components[component] = {"type": "string", "enum": prop.pop("enum"), "title": component}
            prop.pop("type")
            prop["allOf"] = [{"$ref": f"#/components/schemas/{component}"}]
            prop["description"] = "reworded upstream"
    return out


def openapi_for(endpoint_id: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    components["Input"] = pydantic_style(load_schema(INPUT_SCHEMAS[endpoint_id]), components)
    components["I2VOutput"] = pydantic_style(load_schema("ray-2.output.json"), components)
    json_ref = lambda name: {"content": {"application/json": {"schema": {"$ref": name}}}}  # noqa: E731
    return {
        "openapi": "3.0.4",
        "paths": {
            f"/{endpoint_id}": {"post": {"requestBody": json_ref("#/components/schemas/Input")}},
            "/fal-ai/luma-dream-machine/requests/{request_id}": {
                "get": {"responses": {"200": json_ref("#/components/schemas/I2VOutput")}}
            },
        },
        "components": {"schemas": components},
    }


def test_the_same_contract_in_pydantic_spelling_is_no_drift() -> None:
    assert drift_report(openapi_for) == ""
    fal_input, fal_output = extract(openapi_for(T2V), T2V)
    assert normalize(fal_input) == normalize(load_schema(INPUT_SCHEMAS[T2V]))
    assert fal_output is not None


@pytest.mark.parametrize(
    ("mutate", "expected_lines"),
    [
        (
            lambda doc: doc["components"]["schemas"]["AspectRatioEnum"]["enum"].append("1:1"),
            ['+        "1:1"'],
        ),
        (
            lambda doc: doc["components"]["schemas"]["Input"]["properties"]["loop"].update(
                default=True
            ),
            ['-      "default": false,', '+      "default": true,'],
        ),
        (
            lambda doc: doc["components"]["schemas"]["Input"]["required"].append("duration"),
            ['+    "duration",'],
        ),
        (
            lambda doc: doc["components"]["schemas"]["Input"]["properties"].update(
                seed={"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Seed"}
            ),
            ['+    "seed": {', '+      "nullable": true,', '+      "type": "integer"'],
        ),
    ],
    ids=["enum value added", "default changed", "field became required", "field added"],
)
def test_a_real_difference_is_reported_as_a_readable_diff(mutate, expected_lines) -> None:
    def fetch(endpoint_id: str) -> dict[str, Any]:
        doc = openapi_for(endpoint_id)
        if endpoint_id == I2V:
            mutate(doc)
        return doc

    report = drift_report(fetch)
    assert f"--- {I2V} input (contracts/schemas)" in report
    assert f"+++ {I2V} input (fal OpenAPI)" in report
    assert f"{T2V} input" not in report
    for line in expected_lines:
        assert line in report.splitlines(), report


def test_a_missing_endpoint_is_reported() -> None:
    def fetch(endpoint_id: str) -> dict[str, Any]:
        doc = openapi_for(endpoint_id)
        doc["paths"].pop(f"/{endpoint_id}")
        return doc

    report = drift_report(fetch)
    assert f"{T2V} input: not found in fal's OpenAPI" in report


# -- the document the emulator serves at fal.ai (rehearsal mode) ------------------------------


def skeleton(document: dict[str, Any], endpoint_id: str, stem: str) -> str:
    """What every endpoint's document shares: the document with its endpoint id and component
    stem named generically, its own input, output and nested models left out (their contents
    are the contract, held by the tests below), and the two per-model metadata values dropped."""
    text = json.dumps(document).replace(endpoint_id, "<endpoint>").replace(stem, "<Stem>")
    shared = json.loads(text)
    shared["components"]["schemas"] = {
        "QueueStatus": shared["components"]["schemas"]["QueueStatus"]
    }
    metadata = shared["info"]["x-fal-metadata"]
    metadata.pop("thumbnailUrl", None)  # the model's picture: not known for Ray 2
    metadata["category"] = "<category>"
    return json.dumps(shared)


def test_the_emulators_published_document_has_fals_skeleton() -> None:
    """A stored copy of fal's document for another endpoint (openapi-copies): key order,
    ``info``, ``x-fal-metadata``, ``apiKeyAuth``, ``QueueStatus``, the four paths under the full
    endpoint id with their parameters and responses, ``servers`` and ``security``, identical."""
    captured = json.loads(EVIDENCE.joinpath("openapi-happy-horse-i2v.json").read_text())
    theirs = skeleton(captured, "alibaba/happy-horse/image-to-video", "HappyHorseImageToVideo")
    for endpoint_id, stem in (
        (T2V, "LumaDreamMachineRay2"),
        (I2V, "LumaDreamMachineRay2ImageToVideo"),
    ):
        assert skeleton(published_openapi(endpoint_id), endpoint_id, stem) == theirs


def test_the_output_model_is_a_component_referenced_beside_its_description() -> None:
    """fal's copy writes a nested model as its own component after the endpoint's two, and the
    field as ``{"description": ..., "$ref": ...}`` (happy-horse's ``video``)."""
    schemas = published_openapi(I2V)["components"]["schemas"]
    assert list(schemas) == [
        "QueueStatus",
        "LumaDreamMachineRay2ImageToVideoInput",
        "LumaDreamMachineRay2ImageToVideoOutput",
        "File",
    ]
    assert schemas["LumaDreamMachineRay2ImageToVideoOutput"]["properties"]["video"] == {
        "description": "The generated video",
        "$ref": "#/components/schemas/File",
    }


@pytest.mark.parametrize("schema_name", sorted(MODELS))
def test_each_published_input_is_fals_published_model(schema_name: str) -> None:
    """The published input component against the FastAPI models written by hand from fal's
    schema (tests/fal_reference_app.py): the same fields, order, types, enums, defaults, bounds
    and required list, so the document is not merely the emulator's contract echoed back."""
    endpoint_id = next(e for e, name in INPUT_SCHEMAS.items() if name == schema_name)
    document = published_openapi(endpoint_id)
    published = next(
        component
        for name, component in document["components"]["schemas"].items()
        if name.endswith("Input")
    )
    reference = MODELS[schema_name].model_json_schema()
    assert published["x-fal-order-properties"] == list(reference["properties"])
    assert published.get("required", []) == reference.get("required", [])
    for name, rule in reference["properties"].items():
        choices = [c for c in [rule, *rule.get("anyOf", [])] if c.get("type") != "null"]
        prop = published["properties"][name]
        assert prop["type"] == choices[-1]["type"], (schema_name, name)
        for keyword in ("enum", "minLength", "maxLength"):
            found = [c[keyword] for c in choices if keyword in c]
            assert ([prop[keyword]] if keyword in prop else []) == found, (name, keyword)
        if rule.get("default") is not None:
            assert prop["default"] == rule["default"], (schema_name, name)


def test_the_emulators_published_document_is_no_drift() -> None:
    """What `ray2-mock serve` answers for fal's OpenAPI URL agrees with contracts/schemas."""
    assert drift_report(published_openapi) == ""


def test_every_family_member_is_published_under_its_own_component_names() -> None:
    """Flash reframe shares Ray 2 reframe's schema, yet fal names its components after the
    endpoint id (``LumaDreamMachineRay2FlashReframeInput``), with fal's category."""
    doc = published_openapi("fal-ai/luma-dream-machine/ray-2-flash/reframe")
    schemas = doc["components"]["schemas"]
    assert "LumaDreamMachineRay2FlashReframeInput" in schemas
    assert schemas["LumaDreamMachineRay2FlashReframeInput"]["required"] == [
        "video_url",
        "aspect_ratio",
    ]
    assert doc["info"]["x-fal-metadata"]["category"] == "video-to-video"
    modify = published_openapi("fal-ai/luma-dream-machine/ray-2/modify")
    assert "LumaDreamMachineRay2ModifyInput" in modify["components"]["schemas"]


@pytest.mark.parametrize(
    ("mutate", "label", "expected_lines"),
    [
        (
            lambda s: s["LumaDreamMachineRay2ImageToVideoInput"]["properties"]["resolution"][
                "enum"
            ].remove("1080p"),
            "input",
            ['-        "1080p"'],
        ),
        (
            lambda s: s["LumaDreamMachineRay2ImageToVideoInput"]["properties"]["prompt"].update(
                minLength=1
            ),
            "input",
            ['-      "minLength": 3,', '+      "minLength": 1,'],
        ),
        (lambda s: s["File"]["properties"]["file_size"].update(type="number"), "output", None),
        (lambda s: s["File"].update(required=["url", "content_type"]), "output", None),
    ],
    ids=["enum value gone", "bound changed", "nested type changed", "nested field required"],
)
def test_a_change_to_the_published_document_is_reported(mutate, label, expected_lines) -> None:
    """The comparison is not vacuous on the served document: one change, one diff."""

    def fetch(endpoint_id: str) -> dict[str, Any]:
        doc = published_openapi(endpoint_id)
        if endpoint_id == I2V:
            mutate(doc["components"]["schemas"])
        return doc

    report = drift_report(fetch)
    assert f"--- {I2V} {label} (contracts/schemas)" in report, report
    assert report.count("--- ") == 1, report
    for line in expected_lines or ():
        assert line in report.splitlines(), report
    assert published_openapi(I2V) != fetch(I2V)  # each call is a fresh copy: no leaks
