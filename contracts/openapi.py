"""The emulator's own OpenAPI document, with the input/output schemas inlined.

``schemas/openapi.json`` is hand-written data that names the JSON Schema files by file name
(``{"$ref": "ray-2.input.json"}``), so the inputs stay declared once; the scenario schemas
come from ``scenarios.json``, the file the emulator validates scenarios with. Tools that want one
self-contained document (schemathesis, Prism) get ``load_openapi()``: each referenced file
becomes ``#/components/schemas/<stem>`` and every reference points there.
"""

from __future__ import annotations

import copy
from typing import Any

from contracts.schemas import load_schema

OPENAPI_FILE = "openapi.json"
DROPPED_KEYWORDS = ("$schema", "$id")  # meaningful in a file, noise inside components


def _component_name(file_name: str) -> str:
    return file_name.removesuffix(".json").replace(".", "-")


def _inline(node: Any, found: dict[str, str]) -> Any:
    """Rewrite ``$ref``s to schema files as component refs, recording which files were used."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.endswith(".json") and not ref.startswith("#"):
            found[ref] = _component_name(ref)
            return {**node, "$ref": f"#/components/schemas/{found[ref]}"}
        return {key: _inline(value, found) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, found) for item in node]
    return node


def _scenario_schemas() -> dict[str, Any]:
    """The scenario schemas the control API validates with (``scenarios.json``)."""
    document = copy.deepcopy(load_schema("scenarios.json"))
    scenario = document.pop("$defs")["scenario"]
    document["properties"]["scenarios"]["items"] = {"$ref": "#/components/schemas/Scenario"}
    return {
        "Scenario": scenario,
        "ScenarioDocument": {k: v for k, v in document.items() if k not in DROPPED_KEYWORDS},
    }


def load_openapi(server_url: str | None = None) -> dict[str, Any]:
    """A self-contained copy of the document, optionally pointed at a running emulator."""
    found: dict[str, str] = {}
    document = _inline(copy.deepcopy(load_schema(OPENAPI_FILE)), found)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for file_name, name in sorted(found.items()):
        schema = {k: v for k, v in load_schema(file_name).items() if k not in DROPPED_KEYWORDS}
        schemas[name] = schema
    schemas.update(_scenario_schemas())
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document
