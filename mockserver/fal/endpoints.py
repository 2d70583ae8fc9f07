"""The emulated fal endpoints: their facts (``contracts/schemas/endpoints.json``) and how their
input is judged when a request runs.

Each row of the table names how its input is validated (``VALIDATORS``), what produces its
output (the producers ``mockserver.assembly`` registers), its timing class, its price (or none)
and whether it is exact or generic; nothing here branches on an endpoint id or a family."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.schemas import load_schema
from contracts.schemas.endpoints import (
    APP_ID,
    ENDPOINT_FACTS,
    EndpointFacts,
    EndpointTable,
    catalogue_facts,
    cost_units,
)
from mockserver.fal.validation import InputValidator, Validation, validator_for

if TYPE_CHECKING:
    from mockserver.records import RequestRecord

__all__ = ["APP_ID", "ENDPOINTS", "VALIDATORS", "Endpoint", "cost_units"]

VALIDATORS: dict[str, Callable[[str], InputValidator]] = {"fastapi": validator_for}
"""How an endpoint's input is judged, by the row's ``validation``: ``fastapi``, the pydantic
model built from the input schema, behind FastAPI's body rules (``fal.validation``)."""


@dataclass(frozen=True)
class Endpoint:
    facts: EndpointFacts

    @property
    def endpoint_id(self) -> str:
        return self.facts.endpoint_id

    @property
    def input_schema(self) -> str:
        return self.facts.input_schema

    @property
    def kind(self) -> str:
        return self.facts.kind

    def input_schema_doc(self) -> dict[str, Any]:
        return load_schema(self.input_schema)

    def validate(self, body: Any) -> Validation:
        """The input as the app behind fal's queue judges it (the row's ``validation``)."""
        return VALIDATORS[self.facts.validation](self.input_schema).validate(body)

    def with_defaults(self, body: Any) -> dict[str, Any]:
        """The input as the model sees it: validated and coerced, defaults filled in.

        An invalid input (the queue accepts those; they fail when they run) still gets the
        schema's defaults under whatever fields it sent, so views and fault rules can read it.
        """
        validation = self.validate(body)
        if validation.arguments is not None:
            return validation.arguments
        properties = self.input_schema_doc()["properties"]
        filled = {k: v["default"] for k, v in properties.items() if "default" in v}
        if isinstance(body, Mapping):
            filled.update(body)
        return filled

    @property
    def label(self) -> str:
        return self.facts.label

    def validation_of(self, record: RequestRecord) -> Validation:
        """``validate`` of a record's input, from the arguments kept since its submit when it
        was valid (records stored before they were kept are validated again)."""
        if record.arguments is not None:
            return Validation(record.arguments, [])
        return self.validate(record.input)

    def arguments_of(self, record: RequestRecord) -> dict[str, Any]:
        """``with_defaults`` of a record's input, as kept since its submit when it was valid."""
        if record.arguments is not None:
            return record.arguments
        return self.with_defaults(record.input)

    def start_log(self, arguments: Mapping[str, Any]) -> str:
        """The model's first log line for these arguments (``endpoints.json``'s ``start_log``)."""
        return self.facts.start_log.format_map(_Blank(arguments))

    def progress_log(self, percent: int) -> str:
        """The model's progress line at ``percent`` of its run (the row's ``progress_log``)."""
        return self.facts.progress_log.format(percent=percent)

    def cost_units(self, validation: Validation, seconds: float | None = None) -> int:
        """What fal bills for it: nothing for input the app rejects (billable units 0).

        ``seconds``: the input video's duration, for a per-second price (None: not read yet)."""
        if validation.arguments is None:
            return 0
        return cost_units(self.endpoint_id, validation.arguments, seconds)


class _Blank(dict[str, Any]):
    """A field a log template names but the input lacks is left blank, not an error."""

    def __missing__(self, key: str) -> str:
        return ""


def _catalogue_endpoint(endpoint_id: str) -> Endpoint | None:
    facts = catalogue_facts(endpoint_id)
    return None if facts is None else Endpoint(facts)


ENDPOINTS: EndpointTable[Endpoint] = EndpointTable(
    {e: Endpoint(facts) for e, facts in ENDPOINT_FACTS.items()}, _catalogue_endpoint
)
"""Every exact row, and any endpoint of fal's catalogue on lookup (``EndpointTable``)."""


def register_endpoint_specs(paths: Iterable[Path]) -> list[str]:
    """Serve the endpoints these fal OpenAPI documents describe (``--endpoint-spec``), by
    their own models: they win over the catalogue's entries of the same ids."""
    from contracts.schemas.specs import register_specs

    specs = register_specs(paths)
    ENDPOINT_FACTS.forget_generic()
    ENDPOINTS.forget_generic()
    return [spec.endpoint_id for spec in specs]
