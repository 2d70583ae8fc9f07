"""The emulator's own OpenAPI document, with the input/output schemas inlined.

``schemas/openapi.json`` is hand-written data that names the JSON Schema files by file name
(``{"$ref": "ray-2.input.json"}``), so the inputs stay declared once; the scenario schemas
come from ``scenarios.json``, the file the emulator validates scenarios with. The submit and
sync-run operations are written once, as templates (``x-endpoint-operations``), and expanded
for every row of the endpoint table, so a new endpoint needs no edit here. Tools that want one
self-contained document (schemathesis, Prism) get ``load_openapi()``: each referenced file
becomes ``#/components/schemas/<stem>`` and every reference points there.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from contracts.schemas import load_schema
from contracts.schemas.endpoints import APP_ID, ENDPOINT_FACTS

OPENAPI_FILE = "openapi.json"
DROPPED_KEYWORDS = ("$schema", "$id")  # meaningful in a file, noise inside components
TEMPLATES = "x-endpoint-operations"


def operation_name(endpoint_id: str) -> str:
    """``fal-ai/luma-dream-machine/ray-2-flash/reframe`` -> ``Ray2FlashReframe``."""
    words = re.split(r"[^A-Za-z0-9]+", endpoint_id.removeprefix(APP_ID + "/"))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return node.format_map(values) if "{" in node else node
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    return node


def _expand_endpoints(document: dict[str, Any]) -> dict[str, Any]:
    """One submit and one run operation per endpoint, placed where the templates say."""
    templates = document.pop(TEMPLATES)
    expanded: dict[str, dict[str, Any]] = {}
    for kind in ("submit", "run"):
        template = templates[kind]
        expanded[kind] = {}
        for endpoint_id, facts in ENDPOINT_FACTS.items():
            values = {
                "endpoint_id": endpoint_id,
                "name": operation_name(endpoint_id),
                "label": facts.label,
                "input": facts.input_schema,
                "output": facts.output_schema,
            }
            path = template["path"].format_map(values)
            expanded[kind][path] = _fill(template["item"], values)
    paths: dict[str, Any] = {}
    for kind, template in templates.items():
        if kind in expanded and template.get("after") is None:
            paths.update(expanded[kind])
    for path, item in document["paths"].items():
        paths[path] = item
        for kind, template in templates.items():
            if kind in expanded and template.get("after") == path:
                paths.update(expanded[kind])
    document["paths"] = paths
    return document


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
    document = _inline(_expand_endpoints(copy.deepcopy(load_schema(OPENAPI_FILE))), found)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for file_name, name in sorted(found.items()):
        schema = {k: v for k, v in load_schema(file_name).items() if k not in DROPPED_KEYWORDS}
        schemas[name] = schema
    schemas.update(_scenario_schemas())
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    return document
