"""Prism's document in the queue benchmark: the four operations under test, nothing else, each
answer an example of what the emulator sends, and a request schema that makes Prism answer the
sync run's 422 itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from bench import ceiling, prism_spec
from mockserver.fal.validation import validator_for

APP = "/fal-ai/luma-dream-machine"
DOCUMENT = prism_spec.minimal_openapi()
URI = "urn:bench:prism"


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator resolving the document's component refs, as Prism does."""
    registry = Registry().with_resource(URI, DRAFT202012.create_resource(DOCUMENT))
    resolved = {"$ref": f"{URI}{schema['$ref']}"} if "$ref" in schema else schema
    return jsonschema.Draft202012Validator(resolved, registry=registry)


def _responses() -> Iterator[Any]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                media = response["content"]["application/json"]
                yield pytest.param(code, media, id=f"{method.upper()} {path} {code}")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from [node["$ref"]] if "$ref" in node else []
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_exactly_the_four_benchmarked_operations() -> None:
    operations = {(method, path) for path, ops in DOCUMENT["paths"].items() for method in ops}
    assert operations == {
        ("post", f"{APP}/ray-2"),
        ("get", f"{APP}/requests/{{request_id}}/status"),
        ("get", f"{APP}/requests/{{request_id}}"),
        ("post", f"/run{APP}/ray-2"),
    }
    assert DOCUMENT["openapi"].startswith("3.")


def test_the_document_is_self_contained_and_keeps_only_what_it_uses() -> None:
    refs = set(_refs(DOCUMENT))
    for ref in refs:
        _, _, kind, name = ref.split("/")
        assert name in DOCUMENT["components"][kind], ref
    used = {ref.split("/")[-1] for ref in refs} | {"falKey"}
    kept = {name for kind in DOCUMENT["components"].values() for name in kind}
    assert kept == used


@pytest.mark.parametrize(("code", "media"), list(_responses()))
def test_every_answer_has_an_example_its_schema_accepts(code: str, media: dict[str, Any]) -> None:
    assert code in ("200", "422")
    _validator(media["schema"]).validate(media["example"])


def test_the_sync_run_answers_an_invalid_body_with_the_emulators_422() -> None:
    run = DOCUMENT["paths"][f"/run{APP}/ray-2"]["post"]
    body_schema = _validator(run["requestBody"]["content"]["application/json"]["schema"])
    assert not body_schema.is_valid({"prompt": 7})  # so Prism validates and answers 422
    assert body_schema.is_valid({"prompt": "bench"})
    example = run["responses"]["422"]["content"]["application/json"]["example"]
    assert example == {"detail": validator_for("ray-2.input.json").errors({"prompt": 7})}


def test_examples_are_the_bodies_the_ceiling_sends() -> None:
    submit = DOCUMENT["paths"][f"{APP}/ray-2"]["post"]["responses"]["200"]
    assert submit["content"]["application/json"]["example"] == ceiling.submitted(
        prism_spec.EXAMPLE_ID
    )
