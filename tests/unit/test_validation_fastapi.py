"""The emulator's input validation against the real thing: a FastAPI app, as fal's apps are.

fal's model servers are FastAPI apps (fal pins fastapi <0.137) with a pydantic input model.
Each body below goes to such an app, built around the model the emulator builds from
``contracts/schemas``, and to the emulator's own validation; status and the 422 bytes must
be identical. A second test shows the model is the schema: pydantic's own JSON Schema of it
has the schema's fields, types, enums, bounds, defaults and required list.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import load_schema
from contracts.strategies import ENDPOINT_IDS, INPUT_SCHEMAS, T2V, invalid_inputs, valid_inputs
from mockserver.fal.validation import BodyParseError, body_from_request, validator_for

ENDPOINTS = sorted({INPUT_SCHEMAS[e]: e for e in reversed(ENDPOINT_IDS)}.values())
"""One endpoint per input schema (Flash shares Ray 2's types): every shape fal's apps judge."""


def reference_app(endpoint: str) -> FastAPI:
    model = validator_for(INPUT_SCHEMAS[endpoint]).model
    app = FastAPI()

    def generate(body: Any) -> dict[str, Any]:
        return body.model_dump()

    generate.__annotations__ = {"body": model, "return": dict}  # a real class, not a string
    app.post("/")(generate)
    return app


APPS = {endpoint: reference_app(endpoint) for endpoint in ENDPOINTS}
LOOP = asyncio.new_event_loop()  # one loop for every call: the app is plain ASGI, in-process


async def _post(endpoint: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=APPS[endpoint])
    async with httpx.AsyncClient(transport=transport, base_url="http://fal.app") as client:
        return await client.post("/", content=raw, headers=headers)


def emulator_answer(endpoint: str, raw: bytes, content_type: str | None) -> tuple[int, Any]:
    try:
        body, not_json = body_from_request(content_type, raw)
    except BodyParseError as exc:
        return 400, {"detail": exc.detail}
    if not_json:
        return 422, {"detail": not_json}
    validation = validator_for(INPUT_SCHEMAS[endpoint]).validate(body)
    if validation.errors:
        return 422, {"detail": validation.errors}
    return 200, validation.arguments


def fastapi_answer(endpoint: str, raw: bytes, content_type: str | None) -> tuple[int, Any]:
    headers = {"content-type": content_type} if content_type else {}
    response = LOOP.run_until_complete(_post(endpoint, raw, headers))
    return response.status_code, response.json()


def same_answer(endpoint: str, raw: bytes, content_type: str | None = "application/json") -> None:
    ours, theirs = (
        emulator_answer(endpoint, raw, content_type),
        fastapi_answer(endpoint, raw, content_type),
    )
    assert ours == theirs, (raw[:200], content_type)
    if ours[0] == 422:  # byte for byte, as Starlette writes it
        assert json.dumps(ours[1], separators=(",", ":"), ensure_ascii=False) == json.dumps(
            theirs[1], separators=(",", ":"), ensure_ascii=False
        )


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # not JSON: a departure pinned below
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from(["true", "yes", "off", "1", 0, 1, 2, "16:9", "1:1", "540p", "9s", "", "ab"]),
)


@st.composite
def mixed_bodies(draw: st.DrawFn, endpoint: str) -> dict[str, Any]:
    """A valid input with a few fields replaced by anything: several errors at once, lax
    coercions, unknown fields."""
    body = draw(valid_inputs(endpoint, images=st.just("data:,x"), videos=st.just("data:,v")))
    names = list(load_schema(INPUT_SCHEMAS[endpoint])["properties"]) + ["extra"]
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        if draw(st.booleans()):
            body.pop(name, None)
        else:
            body[name] = draw(FIELD_VALUES)
    return body


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FUZZ
@given(data=st.data())
def test_json_bodies_get_fastapis_exact_answer(endpoint: str, data: st.DataObject) -> None:
    body = data.draw(
        st.one_of(
            mixed_bodies(endpoint),
            invalid_inputs(endpoint).map(lambda case: case.body),
            JSON_VALUES,
        )
    )
    same_answer(endpoint, json.dumps(body).encode())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"prompt": ', "application/json"),  # json_invalid, loc at the offset
        (b'{"prompt": "a fox",}', "application/json"),
        (b"", "application/json"),  # missing body
        (b'{"prompt": "a fox"}', "application/vnd.api+json"),  # *+json is JSON
        (b'{"prompt": "a fox"}', "text/plain"),  # other types: raw bytes, model_attributes_type
        (b"not json", "text/plain"),  # fal's own unit test: a 422
        (b'{"prompt": "\xff"}', "application/json"),  # undecodable: FastAPI's plain 400
        (b"[" * 5000 + b"]" * 5000, "application/json"),  # too deep for json.loads: 400
        (b'{"prompt": "a fox", "loop": ' + b"9" * 5000 + b"}", "application/json"),
    ],
)
def test_body_rules_match_fastapi(endpoint: str, raw: bytes, content_type: str) -> None:
    same_answer(endpoint, raw, content_type)


def test_where_the_emulator_departs_from_fastapi_on_purpose() -> None:
    """Each departure, pinned (docs/fidelity.md says why): fal's own curl examples send a
    JSON body with curl's form type or none, and they work; NaN is not JSON."""
    form = b'{"prompt": "a fox"}'
    assert emulator_answer(T2V, form, "application/x-www-form-urlencoded")[0] == 200
    assert fastapi_answer(T2V, form, "application/x-www-form-urlencoded")[0] == 422
    assert emulator_answer(T2V, form, None)[0] == 200
    assert fastapi_answer(T2V, form, None)[0] == 422  # strict_content_type (FastAPI 0.136)
    nan = b'{"prompt": NaN}'
    assert emulator_answer(T2V, nan, "application/json")[1]["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_pydantic_model_is_the_schema(endpoint: str) -> None:
    """pydantic's JSON Schema of the model built from the contract has the contract's rules."""
    contract = load_schema(INPUT_SCHEMAS[endpoint])
    model = validator_for(INPUT_SCHEMAS[endpoint]).model.model_json_schema()
    assert model["title"] == contract["title"]
    assert model.get("required", []) == contract.get("required", [])
    assert list(model["properties"]) == contract["x-fal-order-properties"]
    for name, rule in contract["properties"].items():
        built = model["properties"][name]
        choices = [built, *built.get("anyOf", [])]  # Optional[...] = None is anyOf with null
        assert any(c.get("type") == rule["type"] for c in choices), name
        for keyword in ("enum", "default", "minLength", "maxLength"):
            if keyword in rule:
                found = [c[keyword] for c in choices if keyword in c]
                assert found == [rule[keyword]], (name, keyword)
