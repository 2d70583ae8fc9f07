"""Spec drift: fal's published OpenAPI for every family endpoint against ``contracts/schemas``.

Only what a client can observe is compared (types, enums, defaults, required fields, bounds,
nullability); titles, descriptions and examples are ignored. pydantic's ways of writing the
same thing are undone first (``$ref`` inlined, a single-item ``allOf`` unwrapped,
``anyOf: [X, null]`` read as X plus ``nullable``), so only real differences are reported, as a
unified diff of the two normalised schemas.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from contracts.generation.strategies import INPUT_SCHEMAS
from contracts.schemas import load_schema
from contracts.schemas.endpoints import ENDPOINT_FACTS

OPENAPI_URL = "https://fal.ai/api/openapi/queue/openapi.json?endpoint_id={endpoint_id}"
"""Where fal publishes each endpoint's OpenAPI (each model page links it as "OpenAPI Schema")."""
OUTPUT_SCHEMAS = {e: facts.output_schema for e, facts in ENDPOINT_FACTS.items()}
KEPT = (
    "type",
    "enum",
    "const",
    "default",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
    "nullable",
)
RESULT_PATH = re.compile(r"^/.+/requests/\{[^}]+\}/?$")
Fetch = Callable[[str], Mapping[str, Any]]


class OpenApiUnavailable(Exception):
    """fal answered, but not with the document (e.g. 404: the endpoint was renamed)."""


def fetch_openapi(endpoint_id: str, timeout: float | None = None) -> Mapping[str, Any]:
    """fal's OpenAPI for one endpoint (live network; only the live target calls this).

    Transport failures propagate as httpx errors (``contracts.server.netfail`` words them); an
    answer that is not the document is ``OpenApiUnavailable``, with the status it got."""
    url = OPENAPI_URL.format(endpoint_id=endpoint_id)
    response = httpx.get(url, timeout=timeout or 60)
    if response.status_code != 200:
        raise OpenApiUnavailable(
            f"fal.ai answered {response.status_code} for the OpenAPI of {endpoint_id} "
            f"({response.text[:120]!r})"
        )
    try:
        return response.json()
    except ValueError:
        raise OpenApiUnavailable(f"fal.ai's OpenAPI of {endpoint_id} is not JSON") from None


def _resolve(node: Any, doc: Mapping[str, Any], depth: int = 0) -> Any:
    """Inline every local ``$ref`` (siblings of a ``$ref`` win over the target's keys)."""
    if depth > 32:
        raise ValueError("$ref nesting too deep (a cycle?)")
    if isinstance(node, list):
        return [_resolve(item, doc, depth + 1) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, doc, depth + 1)
    return {k: _resolve(v, doc, depth + 1) for k, v in node.items()}


def _json_schema(operation: Mapping[str, Any], *where: str) -> Any:
    node: Any = operation
    for key in where:
        node = node.get(key, {}) if isinstance(node, Mapping) else {}
    return node or None


def extract(openapi: Mapping[str, Any], endpoint_id: str) -> tuple[Any, Any]:
    """(input schema, result schema) of ``endpoint_id`` in fal's queue OpenAPI, refs inlined."""
    paths = openapi.get("paths", {})
    submit = paths.get("/" + endpoint_id, {}).get("post", {})
    json_body = ("content", "application/json", "schema")
    input_schema = _json_schema(submit, "requestBody", *json_body)
    output_schema = None
    for path, item in paths.items():
        if RESULT_PATH.match(path) and "get" in item:
            output_schema = _json_schema(item["get"], "responses", "200", *json_body)
            break
    return _resolve(input_schema, openapi), _resolve(output_schema, openapi)


def normalize(schema: Any) -> Any:
    """Only the keywords a client can observe, in one canonical spelling."""
    if not isinstance(schema, Mapping):
        return schema
    node = dict(schema)
    all_of = node.pop("allOf", None)
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
        node = {**all_of[0], **node}
    any_of = node.pop("anyOf", None)
    if isinstance(any_of, list):
        non_null = [s for s in any_of if s != {"type": "null"}]
        if len(non_null) < len(any_of):
            node["nullable"] = True
        if len(non_null) == 1:
            node = {**non_null[0], **node}
        else:
            node["anyOf"] = [normalize(s) for s in non_null]
    if isinstance(node.get("type"), list) and "null" in node["type"]:
        rest = [t for t in node["type"] if t != "null"]
        node["type"] = rest[0] if len(rest) == 1 else rest
        node["nullable"] = True
    out: dict[str, Any] = {k: node[k] for k in KEPT if k in node}
    if "anyOf" in node:
        out["anyOf"] = node["anyOf"]
    if "properties" in out:
        out["properties"] = {k: normalize(v) for k, v in sorted(out["properties"].items())}
    if isinstance(out.get("items"), Mapping):
        out["items"] = normalize(out["items"])
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = normalize(out["additionalProperties"])
    if "required" in out:
        out["required"] = sorted(out["required"])
    return out


def diff_schemas(label: str, ours: Any, theirs: Any) -> str:
    """A unified diff of the normalised schemas ('' when they agree)."""
    if theirs is None:
        return f"{label}: not found in fal's OpenAPI\n"
    left = json.dumps(normalize(ours), indent=2, sort_keys=True).splitlines()
    right = json.dumps(normalize(theirs), indent=2, sort_keys=True).splitlines()
    lines = difflib.unified_diff(
        left, right, f"{label} (contracts/schemas)", f"{label} (fal OpenAPI)", lineterm=""
    )
    return "\n".join(lines) + "\n" if left != right else ""


def drift_report(fetch: Fetch = fetch_openapi) -> str:
    """Every difference for every endpoint's input and output ('' when none)."""
    parts = []
    for endpoint_id, input_name in INPUT_SCHEMAS.items():
        fal_input, fal_output = extract(fetch(endpoint_id), endpoint_id)
        parts.append(diff_schemas(f"{endpoint_id} input", load_schema(input_name), fal_input))
        output = load_schema(OUTPUT_SCHEMAS[endpoint_id])
        parts.append(diff_schemas(f"{endpoint_id} output", output, fal_output))
    return "".join(parts)
