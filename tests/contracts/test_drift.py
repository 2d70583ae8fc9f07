"""Spec drift on fabricated OpenAPI documents (offline): pydantic's spelling is not drift,
a changed enum, default, requirement or nullability is, and the diff says where."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts import load_schema
from contracts.drift import drift_report, extract, normalize
from contracts.strategies import I2V, INPUT_SCHEMAS, T2V
from mockserver.fal.published import published_openapi

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


def test_the_emulators_published_document_is_no_drift() -> None:
    """What `ray2-mock serve` answers for fal's OpenAPI URL agrees with contracts/schemas, and
    in fal's spelling: the output's File is a component behind a one-item allOf."""
    assert drift_report(published_openapi) == ""
    doc = published_openapi(I2V)
    schemas = doc["components"]["schemas"]
    assert list(schemas) == [
        "QueueStatus",
        "LumaDreamMachineRay2ImageToVideoInput",
        "File",
        "LumaDreamMachineRay2ImageToVideoOutput",
    ]
    video = schemas["LumaDreamMachineRay2ImageToVideoOutput"]["properties"]["video"]
    assert video["allOf"] == [{"$ref": "#/components/schemas/File"}]
    assert doc["info"]["x-fal-metadata"]["endpointId"] == I2V
    assert list(doc["paths"]) == [
        "/fal-ai/luma-dream-machine/requests/{request_id}/status",
        "/fal-ai/luma-dream-machine/requests/{request_id}/cancel",
        f"/{I2V}",
        "/fal-ai/luma-dream-machine/requests/{request_id}",
    ]


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
