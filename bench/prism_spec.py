"""The OpenAPI document Prism mocks in the queue benchmark: just the four operations under test.

A user mocking fal with Prism writes a document of the calls they make, not the emulator's 49
operations (Prism's routing cost grows with the document). So this one is cut from the
emulator's own document (`contracts.openapi`): the same paths, parameters, request schemas and
security, only the responses the benchmark expects, each with an example of the body the
emulator and the ceiling send (bench/ceiling.py). Prism validates the request body against the
schema and answers the 422 example itself when it is invalid, as the emulator's sync run does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from bench import ceiling
from contracts.openapi import load_openapi

APP = ceiling.APP
EXAMPLE_ID = "01a2316d-4f4e-7abb-a881-5aa0fc0480c0"

# (path, method) -> {status code: example body}: the operations and the answers under test.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    (f"{APP}/ray-2", "post"): {"200": ceiling.submitted(EXAMPLE_ID)},
    (f"{APP}/requests/{{request_id}}/status", "get"): {"200": ceiling.completed(EXAMPLE_ID)},
    (f"{APP}/requests/{{request_id}}", "get"): {"200": ceiling.video()},
    (f"/run{APP}/ray-2", "post"): {"200": ceiling.video(), "422": ceiling.invalid_prompt(7)},
}


def _refs(node: Any) -> Iterator[str]:
    """Every local `$ref` in a document fragment."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A response object with its top-level `$ref` followed, so an example can be attached."""
    ref = node.get("$ref")
    if ref is None:
        return copy.deepcopy(node)
    _, _, kind, name = ref.split("/")
    return copy.deepcopy(document["components"][kind][name])


def _with_example(response: dict[str, Any], body: Any) -> dict[str, Any]:
    media = response["content"]["application/json"]
    return {**response, "content": {"application/json": {**media, "example": body}}}


def _reachable_components(document: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """The components the paths use, directly or through one another, and the security schemes."""
    components = full["components"]
    kept: dict[str, dict[str, Any]] = {
        "securitySchemes": {
            name: components["securitySchemes"][name]
            for requirement in document["security"]
            for name in requirement
        }
    }
    frontier = list(_refs(document["paths"]))
    while frontier:
        _, _, kind, name = frontier.pop().split("/")
        if name not in kept.setdefault(kind, {}):
            kept[kind][name] = components[kind][name]
            frontier += _refs(kept[kind][name])
    return kept


def minimal_openapi() -> dict[str, Any]:
    """The emulator's document cut to the benchmark's operations, with example answers."""
    full = load_openapi()
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), examples in EXAMPLES.items():
        operation = copy.deepcopy(full["paths"][path][method])
        operation["responses"] = {
            code: _with_example(_resolve(full, operation["responses"][code]), body)
            for code, body in examples.items()
        }
        paths.setdefault(path, {})[method] = operation
    info = {**full["info"], "title": f"{full['info']['title']}: queue benchmark operations"}
    document = {"openapi": full["openapi"], "info": info, "security": full["security"]}
    document["paths"] = paths
    document["components"] = _reachable_components(document, full)
    return document
