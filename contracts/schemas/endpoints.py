"""The emulated endpoints and what one generation costs, read from ``endpoints.json``.

The emulator, the contract suite and the strategies all take endpoint ids, schema names and
prices from here, so an endpoint is declared once, as data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from contracts.schemas import load_schema, schema_path


@dataclass(frozen=True)
class Price:
    """fal's price of one endpoint: ``unit_usd`` per unit, times each input's multiplier."""

    unit_usd: float
    unit: str
    multipliers: Mapping[str, Mapping[str, float]]

    def units(self, arguments: Mapping[str, Any]) -> int:
        """Units of one generation from validated input (defaults filled); 0 if the input is
        not one the price knows (fal bills a rejected input nothing: x-fal-billable-units 0)."""
        total = 1.0
        for field, table in self.multipliers.items():
            factor = table.get(arguments.get(field))  # type: ignore[arg-type]
            if factor is None:
                return 0
            total *= factor
        return round(total)


@dataclass(frozen=True)
class EndpointFacts:
    endpoint_id: str
    input_schema: str
    output_schema: str
    kind: str
    price: Price


@cache
def _table() -> dict[str, Any]:
    return json.loads(schema_path("endpoints.json").read_text(encoding="utf-8"))


def app_id() -> str:
    """fal addresses status/result/cancel by ``owner/alias`` only, shared by every endpoint."""
    return str(_table()["app_id"])


@cache
def endpoint_facts() -> dict[str, EndpointFacts]:
    return {
        row["id"]: EndpointFacts(
            endpoint_id=row["id"],
            input_schema=row["input"],
            output_schema=row["output"],
            kind=row["kind"],
            price=Price(**row["price"]),
        )
        for row in _table()["endpoints"]
    }


APP_ID = app_id()
ENDPOINT_FACTS = endpoint_facts()
INPUT_SCHEMAS: dict[str, str] = {e: f.input_schema for e, f in ENDPOINT_FACTS.items()}


def cost_units(endpoint_id: str, arguments: Mapping[str, Any]) -> int:
    """Units of one generation from validated input (defaults filled in)."""
    return ENDPOINT_FACTS[endpoint_id].price.units(arguments)


def billed_units(endpoint_id: str, body: Any) -> int:
    """What a request body will cost, judged by the schema alone (the contract suite's view):
    nothing if the schema refuses it, else its units with the schema's defaults filled in."""
    from jsonschema import Draft202012Validator  # only the suite's budget needs it

    schema = load_schema(ENDPOINT_FACTS[endpoint_id].input_schema)
    if not isinstance(body, Mapping) or not Draft202012Validator(schema).is_valid(body):
        return 0
    defaults = {k: v["default"] for k, v in schema["properties"].items() if "default" in v}
    return cost_units(endpoint_id, {**defaults, **body})


def cost_usd(endpoint_id: str, units: int) -> float:
    return round(units * ENDPOINT_FACTS[endpoint_id].price.unit_usd, 4)
