"""The public strategies: valid means valid, invalid breaks exactly the rule it says it does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from jsonschema import Draft202012Validator

from contracts import load_schema
from contracts.generation.strategies import (
    ENDPOINT_IDS,
    I2V,
    INPUT_SCHEMAS,
    InvalidCase,
    covering_inputs,
    every_rule,
    invalid_inputs,
    minimal_input,
    valid_inputs,
)
from contracts.schemas.endpoints import ENDPOINT_FACTS, cost_units
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.validation import validator_for

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)
ONE_PER_SCHEMA = sorted({INPUT_SCHEMAS[e]: e for e in reversed(ENDPOINT_IDS)}.values())
"""Flash shares Ray 2's input types: one endpoint per schema covers every shape."""


@pytest.mark.parametrize("endpoint", ONE_PER_SCHEMA)
def test_valid_inputs_pass_the_schema_and_the_emulator(endpoint: str) -> None:
    schema = Draft202012Validator(load_schema(INPUT_SCHEMAS[endpoint]))

    @FAST
    @given(valid_inputs(endpoint))
    def check(arguments: dict[str, Any]) -> None:
        assert list(schema.iter_errors(arguments)) == []
        assert validator_for(INPUT_SCHEMAS[endpoint]).errors(arguments) == []

    check()


@pytest.mark.parametrize("endpoint", ONE_PER_SCHEMA)
def test_each_invalid_input_breaks_exactly_its_rule(endpoint: str) -> None:
    """The emulator's validator reports exactly one entry, at the strategy's loc and type."""

    @FAST
    @given(invalid_inputs(endpoint))
    def check(case: InvalidCase) -> None:
        reported = validator_for(INPUT_SCHEMAS[endpoint]).errors(case.body)
        assert [(tuple(d["loc"]), d["type"]) for d in reported] == [(case.loc, case.type)]

    check()


@pytest.mark.parametrize("endpoint", ONE_PER_SCHEMA)
def test_every_rule_has_one_deterministic_case(endpoint: str) -> None:
    cases = every_rule(endpoint)
    schema = load_schema(INPUT_SCHEMAS[endpoint])
    properties = schema["properties"]
    # each required field missing, one per property, each length bound, the non-object body
    bounds = sum(("minLength" in p) + ("maxLength" in p) for p in properties.values())
    assert len(cases) == len(schema["required"]) + len(properties) + bounds + 1
    assert {c.type for c in cases if c.loc == ("body", "prompt")} >= {
        "string_too_short",
        "string_too_long",
    }
    assert {c.loc for c in cases} == {("body",), *(("body", p) for p in properties)}
    assert cases == every_rule(endpoint)


@pytest.mark.parametrize("endpoint", ONE_PER_SCHEMA)
def test_covering_inputs_use_every_enum_value_without_stacking_costs(endpoint: str) -> None:
    rows = covering_inputs(endpoint)
    properties = load_schema(INPUT_SCHEMAS[endpoint])["properties"]
    for name, prop in properties.items():
        wanted = (
            prop["enum"] if "enum" in prop else [False, True] if prop["type"] == "boolean" else []
        )
        assert {row.get(name) for row in rows} >= set(wanted), name
    assert len(rows) == max(len(p.get("enum", [])) for p in properties.values())
    assert all(validator_for(INPUT_SCHEMAS[endpoint]).errors(row) == [] for row in rows)
    if ENDPOINT_FACTS[endpoint].price.multipliers:  # per clip: 1080p and 9 s never stack
        units = [cost_units(endpoint, ENDPOINTS[endpoint].with_defaults(r)) for r in rows]
        assert max(units) == 4
    if endpoint == I2V:
        assert {tuple(k for k in ("image_url", "end_image_url") if k in r) for r in rows} == {
            (),
            ("image_url",),
            ("end_image_url",),
            ("image_url", "end_image_url"),
        }


@pytest.mark.parametrize("endpoint", ENDPOINT_IDS)
def test_the_minimal_input_of_every_endpoint_is_valid(endpoint: str) -> None:
    body = minimal_input(endpoint)
    assert validator_for(INPUT_SCHEMAS[endpoint]).errors(body) == []
    assert set(load_schema(INPUT_SCHEMAS[endpoint])["required"]) <= set(body)
