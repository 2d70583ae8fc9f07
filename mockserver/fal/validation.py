"""Input validation exactly as the FastAPI/pydantic app behind fal's queue does it.

fal's model servers are FastAPI apps whose input is a pydantic v2 model. The model is built
here from ``contracts/schemas/*.input.json`` (the schemas stay the single declaration) and
pydantic itself validates, so each error's ``type``, ``loc``, ``msg``, ``input`` and ``ctx``,
their order, and pydantic's lax coercions (``"true"``, ``1`` and ``"yes"`` are booleans; ``1``
is not a string) are pydantic's by construction. FastAPI's request-body rules decide what
reaches the model (``body_from_request``) and how errors are serialised (``fastapi_errors``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from functools import cache, lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from contracts.schemas import load_schema

Detail = dict[str, Any]

JSON_TYPES: dict[str, Any] = {"string": str, "boolean": bool, "integer": int, "number": int | float}
"""``number`` keeps an integer an integer (pydantic's smart union), as fal's int fields do; the
generated types of fal's catalogue say ``number`` for both."""
CONSTRAINTS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
}
"""JSON Schema keyword -> pydantic ``Field`` argument (what pydantic itself emits, reversed)."""
FORM_AS_JSON = "application/x-www-form-urlencoded"
"""What ``curl -d`` sends when no type is given: fal's curl examples do so and succeed, so a
JSON body under this type is read as JSON (FastAPI alone would hand the model raw bytes)."""
NO_BODY: Any = object()
"""An empty request body: FastAPI reports the whole body ``missing``."""


class _Models:
    """Builds the pydantic types of one schema: nested objects become models of their own,
    ``$ref``s resolve into the schema's ``definitions`` (or ``$defs``) once each."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.definitions: Mapping[str, Any] = {
            **schema.get("$defs", {}),
            **schema.get("definitions", {}),
        }
        self.named: dict[str, Any] = {}

    def annotation(self, prop: Mapping[str, Any]) -> Any:
        if "$ref" in prop:
            return self.reference(prop["$ref"])
        if "enum" in prop:
            return Literal[tuple(prop["enum"])]  # pydantic: literal_error, "Input should be ..."
        if "const" in prop:
            return Literal[prop["const"]]
        options = prop.get("anyOf") or prop.get("oneOf")
        if options:  # string literals of a union are one Literal, as an app declares them
            values = [
                v for o in options for v in o.get("enum", [o["const"]] if "const" in o else [])
            ]
            others = [o for o in options if "enum" not in o and "const" not in o]
            literal = [Literal[tuple(values)]] if values else []
            return self.union([*(self.annotation(o) for o in others), *literal])
        kind = prop.get("type")
        if isinstance(kind, list):
            return self.union([self.annotation({**prop, "type": one}) for one in kind])
        if kind == "null":
            return type(None)
        if kind == "array":
            return list[self.annotation(prop.get("items", {}))]  # type: ignore[misc]
        if kind == "object" and "properties" in prop:
            return self.model(prop, prop.get("title", "Object"))
        if kind == "object":
            return dict[str, Any]
        return JSON_TYPES.get(kind, Any) if isinstance(kind, str) else Any

    @staticmethod
    def union(options: list[Any]) -> Any:
        union = options[0]
        for option in options[1:]:
            union = union | option
        return union

    def reference(self, ref: str) -> Any:
        name = ref.rsplit("/", 1)[-1]
        if name not in self.named:
            self.named[name] = Any  # a type that contains itself: not judged below this point
            self.named[name] = self.annotation({"title": name, **self.definitions.get(name, {})})
        return self.named[name]

    def model(self, schema: Mapping[str, Any], title: str) -> type[BaseModel]:
        """The pydantic model a fal app declares for this object (fields in fal's order)."""
        properties: Mapping[str, Any] = schema["properties"]
        required = set(schema.get("required", ()))
        order = [*schema.get("x-fal-order-properties", ()), *properties]
        fields: dict[str, Any] = {}
        for name in dict.fromkeys(order):
            prop = properties[name]
            annotation = self.annotation(prop)
            constraints = {arg: prop[key] for key, arg in CONSTRAINTS.items() if key in prop}
            if name in required:
                default: Any = ...
            elif "default" in prop:
                default = prop["default"]
            else:  # optional without a default: pydantic's Optional[...] = None
                annotation, default = annotation | None, None
            fields[name] = (annotation, Field(default, **constraints))
        return create_model(title, **fields)


def input_model(schema: Mapping[str, Any]) -> type[BaseModel]:
    """The pydantic model a fal app declares for this input schema (fields in fal's order)."""
    return _Models(schema).model(schema, schema.get("title", "Input"))


@dataclass(frozen=True)
class Validation:
    """The input as the model sees it (defaults filled, coerced), or why there is none."""

    arguments: dict[str, Any] | None
    errors: list[Detail]

    @property
    def ok(self) -> bool:
        return not self.errors


class InputValidator:
    """Validates one endpoint's input; built once per schema (building the model is slow)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.model = input_model(schema)
        self._adapter: TypeAdapter[Any] = TypeAdapter(self.model)

    def validate(self, body: Any) -> Validation:
        if body is NO_BODY or body is None:  # FastAPI: a JSON null body is a missing body too
            return Validation(None, [missing_body_detail()])
        try:
            # FastAPI validates a body parameter with from_attributes=True (``ModelField.validate``)
            model = self._adapter.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            return Validation(None, fastapi_errors(exc))
        return Validation(model.model_dump(), [])

    def errors(self, body: Any) -> list[Detail]:
        return self.validate(body).errors


@cache
def validator_for(schema_name: str) -> InputValidator:
    return InputValidator(load_schema(schema_name))


def _jsonable(value: Any) -> Any:
    """FastAPI's ``jsonable_encoder`` for what pydantic puts in ``ctx``: exceptions and other
    objects become their text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def fastapi_errors(exc: ValidationError) -> list[Detail]:
    """``{"detail": ...}`` entries as FastAPI serialises them: no ``url``, loc under ``body``.

    ``input`` is the body (or part of it) as received, so it is JSON already (or the text of a
    non-JSON body) and is passed through untouched: it may be nested hundreds deep."""
    details = []
    for error in exc.errors(include_url=False):
        detail: Detail = {**error, "loc": ["body", *error["loc"]]}
        if "ctx" in detail:
            detail["ctx"] = _jsonable(detail["ctx"])
        details.append(detail)
    return details


def missing_body_detail() -> Detail:
    """FastAPI's ``get_missing_field_error(("body",))``: what an empty body gets."""
    return {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}


def json_invalid_detail(error: str, position: int) -> list[Detail]:
    """What FastAPI answers for a JSON body that does not parse (``loc`` ends at the offset)."""
    return [
        {
            "type": "json_invalid",
            "loc": ["body", position],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": error},
        }
    ]


class BodyParseError(Exception):
    """A body FastAPI cannot decode at all (bad UTF-8, nesting too deep, a 10,000-digit
    number): it answers a plain 400 for these, not a 422."""

    detail = "There was an error parsing the body"


class _NotJsonConstant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJsonConstant(f"Out of range float values are not JSON compliant: {name}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
"""Built once: ``json.loads`` with a keyword argument builds a decoder per call."""


def parse_json(raw: bytes) -> tuple[Any, list[Detail]]:
    """The body as JSON, or FastAPI's ``json_invalid`` detail; ``BodyParseError`` if undecodable.

    Stricter than FastAPI in one way: NaN and Infinity are not JSON, and echoing them back in
    a 422 would make the error itself invalid JSON, so they are ``json_invalid`` here."""
    try:
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass")), []
    except json.JSONDecodeError as exc:
        return None, json_invalid_detail(exc.msg, exc.pos)
    except _NotJsonConstant as exc:
        return None, json_invalid_detail(str(exc), 0)
    except (ValueError, RecursionError) as exc:  # bad UTF-8, huge numbers, deep nesting
        raise BodyParseError() from exc


@lru_cache(maxsize=256)  # bounded: the header is the client's to choose
def is_json_media_type(content_type: str | None) -> bool:
    """FastAPI reads JSON for no type, ``application/json`` and ``application/*+json``.

    Cached: clients send a handful of distinct values, and parsing one costs a submit ~10%."""
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return (
        subtype == "json" or subtype.endswith("+json") or f"application/{subtype}" == FORM_AS_JSON
    )


def body_from_request(content_type: str | None, raw: bytes) -> tuple[Any, list[Detail]]:
    """What the app's model is handed: JSON, the raw text for other types, or ``NO_BODY``.

    Returns the body and, for JSON that does not parse, FastAPI's ``json_invalid`` detail."""
    if not raw:
        return NO_BODY, []
    if is_json_media_type(content_type):
        return parse_json(raw)
    return raw.decode("utf-8", "replace"), []  # the model sees bytes; FastAPI echoes them decoded
