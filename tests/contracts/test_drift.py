"""Spec drift on fabricated OpenAPI documents (offline): pydantic's spelling is not drift,
a changed enum, default, requirement or nullability is, and the diff says where."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts import load_schema
from contracts.drift import drift_report, extract, normalize
from contracts.strategies import I2V, INPUT_SCHEMAS, T2V

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
