"""The public strategies: valid means valid, invalid breaks exactly the rule it says it does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from jsonschema import Draft202012Validator

from contracts import load_schema
from contracts.schemas.endpoints import cost_units
from contracts.strategies import (
    I2V,
    INPUT_SCHEMAS,
    T2V,
    InvalidCase,
    covering_inputs,
    every_rule,
    invalid_inputs,
    valid_inputs,
)
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.validation import validator_for

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize("endpoint", [T2V, I2V])
def test_valid_inputs_pass_the_schema_and_the_emulator(endpoint: str) -> None:
    schema = Draft202012Validator(load_schema(INPUT_SCHEMAS[endpoint]))

    @FAST
    @given(valid_inputs(endpoint))
    def check(arguments: dict[str, Any]) -> None:
        assert list(schema.iter_errors(arguments)) == []
        assert validator_for(INPUT_SCHEMAS[endpoint]).errors(arguments) == []

    check()


@pytest.mark.parametrize("endpoint", [T2V, I2V])
def test_each_invalid_input_breaks_exactly_its_rule(endpoint: str) -> None:
    """The emulator's validator reports exactly one entry, at the strategy's loc and type."""

    @FAST
    @given(invalid_inputs(endpoint))
    def check(case: InvalidCase) -> None:
        reported = validator_for(INPUT_SCHEMAS[endpoint]).errors(case.body)
        assert [(tuple(d["loc"]), d["type"]) for d in reported] == [(case.loc, case.type)]

    check()


@pytest.mark.parametrize("endpoint", [T2V, I2V])
def test_every_rule_has_one_deterministic_case(endpoint: str) -> None:
    cases = every_rule(endpoint)
    properties = load_schema(INPUT_SCHEMAS[endpoint])["properties"]
    # missing prompt, one per property, each length bound, the non-object body
    bounds = sum(("minLength" in p) + ("maxLength" in p) for p in properties.values())
    assert len(cases) == 1 + len(properties) + bounds + 1
    assert {c.type for c in cases if c.loc == ("body", "prompt")} >= {
        "string_too_short",
        "string_too_long",
    }
    assert {c.loc for c in cases} == {("body",), *(("body", p) for p in properties)}
    assert cases == every_rule(endpoint)


@pytest.mark.parametrize("endpoint", [T2V, I2V])
def test_covering_inputs_use_every_enum_value_without_stacking_costs(endpoint: str) -> None:
    rows = covering_inputs(endpoint)
    properties = load_schema(INPUT_SCHEMAS[endpoint])["properties"]
    for name, prop in properties.items():
        wanted = (
            prop["enum"] if "enum" in prop else [False, True] if prop["type"] == "boolean" else []
        )
        assert {row.get(name) for row in rows} >= set(wanted), name
    assert len(rows) == max(len(p.get("enum", [])) for p in properties.values())
    assert max(cost_units(endpoint, ENDPOINTS[endpoint].with_defaults(r)) for r in rows) == 4
    if endpoint == I2V:
        assert {tuple(k for k in ("image_url", "end_image_url") if k in r) for r in rows} == {
            (),
            ("image_url",),
            ("end_image_url",),
            ("image_url", "end_image_url"),
        }
