"""JSON Schema validation turned into fal's (pydantic-style) 422 ``detail`` lists.

fal's model servers are FastAPI/pydantic apps, so a rejected input comes back as
``{"detail": [{"loc": ["body", field], "msg": ..., "type": ..., "input": ...}]}`` with one
entry per offending field. The schemas in ``contracts/schemas`` decide *what* is invalid;
the tables below only decide how each JSON Schema keyword is *reported*.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from contracts import load_schema

Detail = dict[str, Any]

# JSON Schema "type" -> pydantic error type and message for a value of the wrong type.
TYPE_ERRORS: dict[str, tuple[str, str]] = {
    "string": ("string_type", "Input should be a valid string"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
}
ROOT_OBJECT_ERROR = (
    "model_attributes_type",
    "Input should be a valid dictionary or object to extract fields from",
)

# When one field breaks several keywords (e.g. aspect_ratio=5 is neither a string nor an
# allowed value) pydantic reports it once; the lower number wins.
KEYWORD_PRIORITY = {"required": 0, "enum": 1, "type": 2}


def _quoted_choices(values: Sequence[Any]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _enum_detail(error: ValidationError) -> tuple[str, str, dict[str, Any]]:
    expected = _quoted_choices(error.validator_value)
    return "literal_error", f"Input should be {expected}", {"expected": expected}


def _type_detail(error: ValidationError) -> tuple[str, str, dict[str, Any]]:
    if not error.absolute_path:
        kind, msg = ROOT_OBJECT_ERROR
    else:
        kind, msg = TYPE_ERRORS.get(str(error.validator_value), ("type_error", error.message))
    return kind, msg, {}


KEYWORD_DETAILS: dict[str, Callable[[ValidationError], tuple[str, str, dict[str, Any]]]] = {
    "enum": _enum_detail,
    "type": _type_detail,
}


def _details_for(error: ValidationError) -> list[tuple[int, Detail]]:
    """One pydantic-style entry per offending field, tagged with its keyword priority."""
    path = ["body", *error.absolute_path]
    priority = KEYWORD_PRIORITY.get(str(error.validator), 9)
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, Mapping) else {}
        return [
            (
                priority,
                {
                    "loc": [*path, name],
                    "msg": "Field required",
                    "type": "missing",
                    "input": error.instance,
                },
            )
            for name in error.validator_value
            if name not in present
        ]
    describe = KEYWORD_DETAILS.get(str(error.validator))
    if describe is None:
        kind, msg, ctx = str(error.validator), error.message, {}
    else:
        kind, msg, ctx = describe(error)
    detail: Detail = {"loc": path, "msg": msg, "type": kind, "input": error.instance}
    if ctx:
        detail["ctx"] = ctx
    return [(priority, detail)]


class InputValidator:
    """Validates one endpoint's input; built once per schema (compiling is the slow part)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        Draft202012Validator.check_schema(schema)
        self._validator = Draft202012Validator(schema)
        order = schema.get("x-fal-order-properties") or list(schema.get("properties", {}))
        self._field_rank = {name: i for i, name in enumerate(order)}

    def errors(self, body: Any) -> list[Detail]:
        """Every violation, one per field, in the schema's field order (empty if valid)."""
        best: dict[tuple[Any, ...], tuple[int, Detail]] = {}
        for error in self._validator.iter_errors(body):
            for priority, detail in _details_for(error):
                loc = tuple(detail["loc"])
                if loc not in best or priority < best[loc][0]:
                    best[loc] = (priority, detail)

        def rank(loc: tuple[Any, ...]) -> tuple[int, str]:
            field = loc[1] if len(loc) > 1 else ""
            return (self._field_rank.get(str(field), len(self._field_rank)), str(loc))

        return [best[loc][1] for loc in sorted(best, key=rank)]


@cache
def validator_for(schema_name: str) -> InputValidator:
    return InputValidator(load_schema(schema_name))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name}")


def parse_json_body(raw: bytes) -> tuple[Any, list[Detail]]:
    """The body as JSON, or the ``json_invalid`` detail. Strict: NaN and Infinity are not
    JSON, and echoing them back in a 422 would make the error itself invalid JSON."""
    try:
        return json.loads(raw or b"{}", parse_constant=_reject_constant), []
    except (ValueError, RecursionError) as exc:  # also: nested too deep, a 10,000-digit number
        position = getattr(exc, "pos", getattr(exc, "start", 0))
        reason = getattr(exc, "msg", None) or str(exc)
        return None, json_invalid_detail(reason, position)


def json_invalid_detail(error: str, position: int) -> list[Detail]:
    """What FastAPI answers for a body that is not JSON at all."""
    return [
        {
            "loc": ["body", position],
            "msg": "JSON decode error",
            "type": "json_invalid",
            "input": {},
            "ctx": {"error": error},
        }
    ]
