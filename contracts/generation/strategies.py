"""Hypothesis strategies generated from the JSON Schemas: valid inputs, and inputs that break
exactly one rule together with the 422 ``loc`` and ``type`` fal answers for that rule.

Where fal answers it: sync run (``fal.run``) answers the 422 at once; a queue submit is
accepted, the request completes, and its result is the 422 (Python's ``handle.get()`` raises
``FalClientHTTPError``, JS ``queue.result`` throws ``ValidationError``). A test of your app
should expect the failure there, not at submit.

Every endpoint of the family is covered (``ENDPOINT_IDS``; ``SHORT_NAMES`` maps ``t2v``,
``flash-reframe``, ... to ids). Reframe and modify take a video: by default a small MP4 made
here, as a ``data:`` URI (``mp4_data_uri``), so no upload or network is needed.

Public: import these in your own tests to drive your app with every shape of Ray 2 input::

    from hypothesis import given
    from contracts.generation.strategies import T2V, valid_inputs, invalid_inputs

    @given(valid_inputs(T2V))
    def test_my_app_accepts_every_valid_input(arguments): ...

    @given(invalid_inputs(T2V))
    def test_my_app_reports_the_field(case):  # case.body, case.loc, case.type, case.rule
        ...

Strategies are built by walking the schema's top-level properties (the inputs are flat
objects); each property's own sub-schema goes through ``hypothesis-jsonschema``, so a new
field or enum value in ``contracts/schemas`` shows up here without code changes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from contracts.schemas import load_schema
from contracts.schemas.endpoints import ENDPOINT_FACTS, INPUT_SCHEMAS, SHORT_NAMES, input_fields

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
ENDPOINT_IDS: tuple[str, ...] = tuple(ENDPOINT_FACTS)
"""Every endpoint of the family, in the endpoint table's order."""
__all__ = [
    "ENDPOINT_IDS",
    "I2V",
    "INPUT_SCHEMAS",
    "SHORT_NAMES",
    "T2V",
    "InvalidCase",
    "covering_inputs",
    "every_rule",
    "image_urls",
    "invalid_inputs",
    "minimal_input",
    "mp4_data_uri",
    "png_data_uri",
    "valid_inputs",
    "video_urls",
]

# How fal (a FastAPI/pydantic model server) reports each broken rule. Kept here, apart from
# the emulator's own tables, so the emulator is judged by the contract and not by itself.
MISSING_TYPE = "missing"
ENUM_TYPE = "literal_error"
LENGTH_TYPES = {"minLength": "string_too_short", "maxLength": "string_too_long"}
ROOT_TYPE = "model_attributes_type"
TYPE_ERROR_TYPES: dict[str, str] = {
    "string": "string_type",
    "boolean": "bool_type",
    "integer": "int_type",
    "number": "float_type",
    "array": "list_type",
    "object": "dict_type",
}

# Values that break a ``type`` rule *for pydantic too*. Pydantic's lax mode coerces
# "yes"/"true"/1/0 to a boolean and "5"/5.0 to an integer, so those are valid at fal even
# though JSON Schema rejects them; containers are never coerced, and a string field accepts
# no number or boolean. Only values both sides reject are generated.
_CONTAINERS = st.one_of(
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers())
)
TYPE_BREAKERS: dict[str, st.SearchStrategy[Any]] = {
    "string": st.one_of(
        st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), _CONTAINERS
    ),
    "boolean": _CONTAINERS,
    "integer": _CONTAINERS,
    "number": _CONTAINERS,
    "array": st.one_of(st.integers(), st.text(max_size=5), st.dictionaries(st.text(), st.none())),
    "object": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers())),
}
# A JSON body that is not an object at all (``null`` is left out: FastAPI reports a null body
# as a missing body, not as a wrong type).
NON_OBJECT_BODIES = st.one_of(
    st.lists(st.integers(), max_size=3), st.text(max_size=10), st.integers(), st.booleans()
)


@dataclass(frozen=True)
class InvalidCase:
    """An input that breaks exactly one rule, and how a correct server reports it."""

    endpoint_id: str
    body: Any
    loc: tuple[str | int, ...]
    type: str
    rule: str
    """Human-readable: which rule is broken, e.g. ``aspect_ratio: value outside the enum``."""


def input_schema(endpoint_id: str) -> dict[str, Any]:
    try:
        return load_schema(INPUT_SCHEMAS[endpoint_id])
    except KeyError:
        known = sorted(INPUT_SCHEMAS)
        raise ValueError(f"unknown endpoint {endpoint_id!r}; known: {known}") from None


def _properties(endpoint_id: str) -> dict[str, dict[str, Any]]:
    return input_schema(endpoint_id).get("properties", {})


def _required(endpoint_id: str) -> list[str]:
    return list(input_schema(endpoint_id).get("required", []))


# -- images --------------------------------------------------------------------------------


def png_data_uri(
    width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 80, 40)
) -> str:
    """A small solid PNG as a ``data:`` URI: accepted by fal and the emulator, no upload needed."""
    from PIL import Image  # only image-to-video strategies need Pillow

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_urls() -> st.SearchStrategy[str]:
    """Default image inputs: small PNG data URIs of varied size and colour."""
    sizes = st.sampled_from([(64, 64), (96, 54), (54, 96), (128, 96)])
    colors = st.tuples(*[st.integers(0, 255)] * 3)
    return st.builds(lambda size, color: png_data_uri(*size, color), sizes, colors)


@cache
def mp4_data_uri(
    width: int = 192,
    height: int = 108,
    seconds: float = 1.0,
    color: tuple[int, int, int] = (40, 90, 200),
) -> str:
    """A small H.264 MP4 as a ``data:`` URI (24 fps, a bar sweeping across a solid colour):
    a reframe or modify input that needs no upload. The same arguments give the same bytes."""
    import av  # only video-to-video strategies need PyAV's encoder
    from PIL import Image, ImageDraw

    frames = max(1, round(seconds * 24))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "threads": "1"}
        for i in range(frames):
            image = Image.new("RGB", (width, height), color)
            bar = i * width // frames
            ImageDraw.Draw(image).rectangle([bar, 0, bar + max(2, width // 16), height], "white")
            container.mux(stream.encode(av.VideoFrame.from_image(image)))
        container.mux(stream.encode())
    return "data:video/mp4;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def video_urls() -> st.SearchStrategy[str]:
    """Default video inputs: short MP4 data URIs of a few sizes (cheap to render from)."""
    shapes = st.sampled_from([(192, 108, 1.0), (108, 192, 1.0), (160, 120, 2.0)])
    return shapes.map(lambda shape: mp4_data_uri(*shape))


# -- valid inputs ----------------------------------------------------------------------------


@cache
def _field_strategy(schema_name: str, field: str) -> st.SearchStrategy[Any]:
    sub = dict(load_schema(schema_name)["properties"][field])
    return from_schema(sub)


def valid_inputs(
    endpoint_id: str,
    *,
    prompts: st.SearchStrategy[str] | None = None,
    images: st.SearchStrategy[str] | None = None,
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
    videos: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Inputs the schema accepts: required fields always, each optional field present or not.

    ``prompts``, ``images`` and ``videos`` narrow the free-text, image and video fields (e.g. a
    few fixed prompts against a live target, to reuse renders and stay readable);
    ``overrides`` replaces the strategy of any field by name.
    """
    schema_name = INPUT_SCHEMAS[endpoint_id]
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name in _properties(endpoint_id):
        fields[name] = _field_strategy(schema_name, name)
    if prompts is not None:
        fields["prompt"] = prompts
    image_fields, video_fields = input_fields(endpoint_id)  # fetchable files, or no generation
    for name in image_fields:
        fields[name] = images if images is not None else image_urls()
    for name in video_fields:
        fields[name] = videos if videos is not None else video_urls()
    fields.update(overrides or {})
    required = {name: fields[name] for name in _required(endpoint_id)}
    optional = {name: s for name, s in fields.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)


def minimal_input(
    endpoint_id: str,
    *,
    prompt: str = "contract check",
    image_url: str | None = None,
    video_url: str | None = None,
) -> dict[str, Any]:
    """The prompt and every required field (an enum's first value, a small image or video):
    the smallest input each endpoint accepts."""
    properties = _properties(endpoint_id)
    image_fields, video_fields = input_fields(endpoint_id)
    body: dict[str, Any] = {"prompt": prompt} if "prompt" in properties else {}
    for name in _required(endpoint_id):
        prop = properties[name]
        if name in body:
            continue
        if "enum" in prop:
            body[name] = prop["enum"][0]
        elif name in video_fields:
            body[name] = video_url or mp4_data_uri()
        elif name in image_fields:
            body[name] = image_url or png_data_uri()
        else:
            body[name] = prompt
    return body


def covering_inputs(
    endpoint_id: str,
    *,
    prompt: str = "contract check",
    image_url: str | None = None,
    video_url: str | None = None,
) -> list[dict[str, Any]]:
    """A short fixed list in which every enum value (and both booleans) appears at least once.

    As many rows as the largest enum; that enum takes one value per row. The other fields
    keep their default (first) value except on the row each other value is assigned to, and
    those rows are spread, so costly values (1080p, 9s) never pile onto one clip.
    Rows of an endpoint with image fields cycle through no image, start image, end image and
    both (those it has); every row carries the required fields (``minimal_input``).
    """
    properties = _properties(endpoint_id)
    base = minimal_input(endpoint_id, prompt=prompt, image_url=image_url, video_url=video_url)
    choices = {
        name: list(p["enum"]) if "enum" in p else [p.get("default", False), not p.get("default")]
        for name, p in properties.items()
        if "enum" in p or p.get("type") == "boolean"
    }
    rows = max((len(values) for values in choices.values()), default=1)
    table: list[dict[str, Any]] = [dict(base) for _ in range(rows)]
    widest = max(choices, key=lambda name: len(choices[name]), default=None)
    next_row = 1
    for name, values in choices.items():
        if name == widest:
            for row, value in zip(table, values, strict=False):
                row[name] = value
            continue
        for row in table:
            row[name] = values[0]
        for value in values[1:]:
            table[next_row % rows][name] = value
            next_row += 1
    image = image_url or png_data_uri()
    image_sets = [(), ("image_url",), ("end_image_url",), ("image_url", "end_image_url")]
    for i, row in enumerate(table):
        for name in image_sets[i % len(image_sets)]:
            if name in properties:
                row[name] = image
    return table


# -- invalid inputs --------------------------------------------------------------------------

ENUM_CANONICAL = "not-an-option"
CANONICAL_BREAKERS: dict[str, Any] = {
    "string": 0,
    "boolean": [],
    "integer": [],
    "number": [],
    "array": 0,
    "object": 0,
}
"""One fixed breaking value per JSON type, for the deterministic one-case-per-rule sweep."""


@dataclass(frozen=True)
class _Rule:
    """One schema rule: which field it guards, the 422 ``type`` and values that break it."""

    field: str | None
    """None: the rule is about the whole body."""
    type: str
    description: str
    values: st.SearchStrategy[Any] | None
    """None: the rule is broken by leaving the field out."""
    canonical: Any = None

    def case(self, endpoint_id: str, base: Mapping[str, Any], value: Any) -> InvalidCase:
        if self.field is None:
            return InvalidCase(endpoint_id, value, ("body",), self.type, self.description)
        if self.values is None:
            body = {k: v for k, v in base.items() if k != self.field}
        else:
            body = {**base, self.field: value}
        return InvalidCase(endpoint_id, body, ("body", self.field), self.type, self.description)


def schema_rules(endpoint_id: str) -> list[_Rule]:
    """Every rule of the input schema that a one-field change can break."""
    rules = [_Rule(f, MISSING_TYPE, f"{f}: missing", None) for f in _required(endpoint_id)]
    for name, prop in _properties(endpoint_id).items():
        if "enum" in prop:
            allowed = frozenset(prop["enum"])
            outside = st.one_of(
                st.text(max_size=8).filter(lambda s, allowed=allowed: s not in allowed),
                TYPE_BREAKERS["string"],
            )
            rules.append(
                _Rule(name, ENUM_TYPE, f"{name}: value outside the enum", outside, ENUM_CANONICAL)
            )
        elif prop.get("type") in TYPE_BREAKERS:
            kind = prop["type"]
            if "minLength" in prop and prop["minLength"] > 0:
                shortest = prop["minLength"]
                rules.append(
                    _Rule(
                        name,
                        LENGTH_TYPES["minLength"],
                        f"{name}: shorter than {shortest}",
                        st.text(max_size=shortest - 1),
                        "ab"[: shortest - 1],
                    )
                )
            if "maxLength" in prop:
                longest = prop["maxLength"]
                rules.append(
                    _Rule(
                        name,
                        LENGTH_TYPES["maxLength"],
                        f"{name}: longer than {longest}",
                        st.text(min_size=longest + 1, max_size=longest + 20),
                        "x" * (longest + 1),
                    )
                )
            rules.append(
                _Rule(
                    name,
                    TYPE_ERROR_TYPES[kind],
                    f"{name}: not a {kind}",
                    TYPE_BREAKERS[kind],
                    CANONICAL_BREAKERS[kind],
                )
            )
    rules.append(_Rule(None, ROOT_TYPE, "body: not an object", NON_OBJECT_BODIES, []))
    return rules


def invalid_inputs(endpoint_id: str) -> st.SearchStrategy[InvalidCase]:
    """Inputs that break exactly one schema rule, each with the 422 ``loc`` and ``type``.

    The other fields come from ``valid_inputs``, so a server that reports the wrong field,
    or more than one, is caught. Image fields hold a tiny data URI (their content is never
    reached: validation fails first).
    """
    base = valid_inputs(
        endpoint_id,
        images=st.just("data:image/png;base64,AA=="),
        videos=st.just("data:video/mp4;base64,AA=="),
    )

    def cases(body: dict[str, Any]) -> st.SearchStrategy[InvalidCase]:
        return st.one_of(
            [
                st.just(rule.case(endpoint_id, body, None))
                if rule.values is None
                else rule.values.map(lambda v, rule=rule: rule.case(endpoint_id, body, v))
                for rule in schema_rules(endpoint_id)
            ]
        )

    return base.flatmap(cases)


def every_rule(endpoint_id: str, base: Mapping[str, Any] | None = None) -> list[InvalidCase]:
    """One deterministic case per rule, from ``base`` (default: ``minimal_input``)."""
    body = dict(base or minimal_input(endpoint_id))
    return [rule.case(endpoint_id, body, rule.canonical) for rule in schema_rules(endpoint_id)]
