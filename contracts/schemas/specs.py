"""Endpoints a user describes with fal's own OpenAPI document (``serve --endpoint-spec``).

fal publishes one OpenAPI document per endpoint (``https://fal.ai/api/openapi/queue/
openapi.json?endpoint_id=<id>``, what ``ray2-mock fetch-spec`` saves). Unlike the types the
client ships, it carries the app's bounds, integer types, enums and defaults, and its input's
field order (``x-fal-order-properties``). A document dropped in here makes its endpoint known,
validated by that input model and answered by rule from that output model.

The registry is process-wide: ``serve`` registers its documents once at start, before any
request, and a document's endpoint then wins over the catalogue's entry of the same id.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMPONENTS = "#/components/schemas/"
DEFINITIONS = "#/definitions/"


class SpecError(ValueError):
    """A file that is not one endpoint's fal OpenAPI document."""


@dataclass(frozen=True)
class EndpointSpec:
    endpoint_id: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    category: str
    source: str


_SPECS: dict[str, EndpointSpec] = {}


def _retarget(node: Any) -> Any:
    """Component references become references into the schema's own ``definitions``."""
    if isinstance(node, dict):
        return {
            key: (
                value.replace(COMPONENTS, DEFINITIONS, 1)
                if key == "$ref" and isinstance(value, str)
                else _retarget(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_retarget(item) for item in node]
    return node


def _self_contained(ref: str, components: dict[str, Any]) -> dict[str, Any]:
    name = ref.removeprefix(COMPONENTS)
    if name not in components:
        raise SpecError(f"{ref} is not among the document's components")
    schema = copy.deepcopy(_retarget(components[name]))
    schema["definitions"] = _retarget(components)
    return schema


def parse_spec(document: Any, source: str = "") -> EndpointSpec:
    """The endpoint a fal queue OpenAPI document describes: the POST body of its submit path
    and the 200 body of its result path."""
    try:
        endpoint_id = document["info"]["x-fal-metadata"]["endpointId"]
        components = document["components"]["schemas"]
        submit = document["paths"][f"/{endpoint_id}"]["post"]
        input_ref = submit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        result = next(
            item["get"]
            for path, item in document["paths"].items()
            if path.endswith("/requests/{request_id}") and "get" in item
        )
        output_ref = result["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    except (KeyError, TypeError, StopIteration) as exc:
        message = f"{source or 'document'}: not a fal queue OpenAPI document ({exc!r})"
        raise SpecError(message) from exc
    return EndpointSpec(
        endpoint_id=endpoint_id,
        input_schema=_self_contained(input_ref, components),
        output_schema=_self_contained(output_ref, components),
        category=str(document["info"]["x-fal-metadata"].get("category", "")),
        source=source,
    )


def spec_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the ``*.json`` files of each folder named, in order."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return found


def register_specs(paths: Iterable[Path]) -> list[EndpointSpec]:
    """Read and register every document; a bad one raises ``SpecError`` naming its file."""
    specs = []
    for path in spec_files(paths):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"{path}: {exc}") from exc
        specs.append(parse_spec(document, str(path)))
    for spec in specs:
        _SPECS[spec.endpoint_id] = spec
    return specs


def registered_spec(endpoint_id: str) -> EndpointSpec | None:
    return _SPECS.get(endpoint_id)


def registered_ids() -> list[str]:
    """The endpoint ids of every registered document."""
    return list(_SPECS)
