"""The emulator's 422s against the real thing, byte for byte over HTTP: a FastAPI app, as fal's
apps are, with input models written by hand from fal's published schema.

The reference (``tests/fal_reference_app.py``) shares no code with the emulator: its models are
typed in from fal's OpenAPI, and the first test checks them against the schema files the emulator
serves. Then each body goes, as raw bytes with its content type, to the reference app and to a
running emulator; status and body bytes must be identical. The emulator answers through its
queue with ``validate_at_submit`` (the 422 it would give on the result, at once) and manual
progression, so an accepted body is queued without rendering; three fixed bodies also go through
sync run and the queued result, which answer the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import load_schema
from contracts.generation.strategies import (
    ENDPOINT_IDS,
    INPUT_SCHEMAS,
    invalid_inputs,
    valid_inputs,
)
from mockserver.serving.background import BackgroundEmulator
from tests.fal_reference_app import MODELS, reference_app
from tests.support import TEST_KEY, make_config, wait_until

ENDPOINTS = sorted({INPUT_SCHEMAS[e]: e for e in reversed(ENDPOINT_IDS)}.values())
"""One endpoint per input schema (Flash shares Ray 2's types): every shape fal's apps judge."""
T2V = "fal-ai/luma-dream-machine/ray-2"
APPS: dict[str, FastAPI] = {e: reference_app(MODELS[INPUT_SCHEMAS[e]]) for e in ENDPOINTS}
LOOP = asyncio.new_event_loop()  # one loop for every call: the app is plain ASGI, in-process
AUTH = {"authorization": f"Key {TEST_KEY}"}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    config = make_config(
        Path(tmp_path_factory.mktemp("validation")), validate_at_submit=True, progression="manual"
    )
    with BackgroundEmulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as http:
        yield http


async def _post(endpoint: str, raw: bytes, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=APPS[endpoint])
    async with httpx.AsyncClient(transport=transport, base_url="http://fal.app") as http:
        return await http.post("/", content=raw, headers=headers)


def fastapi_answer(endpoint: str, raw: bytes, content_type: str | None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return LOOP.run_until_complete(_post(endpoint, raw, headers))


def emulator_answer(
    client: httpx.Client, path: str, raw: bytes, content_type: str | None
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return client.post(path, content=raw, headers=headers)


def arguments_of(emulator: BackgroundEmulator, request_id: str) -> Any:
    """What the emulator's model received for an accepted request (validated and coerced)."""
    record = emulator.call(emulator.services.queue.get, request_id)
    return record.arguments


def same_answer(
    emulator: BackgroundEmulator,
    client: httpx.Client,
    endpoint: str,
    raw: bytes,
    content_type: str | None = "application/json",
) -> None:
    theirs = fastapi_answer(endpoint, raw, content_type)
    ours = emulator_answer(client, f"/{endpoint}", raw, content_type)
    if theirs.status_code == 200:  # accepted: the model got what FastAPI's model got
        assert ours.status_code == 200, (raw[:200], ours.content[:300])
        assert arguments_of(emulator, ours.json()["request_id"]) == theirs.json()
        return
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), raw[:200]


def test_the_reference_models_are_fals_published_schemas() -> None:
    """The hand-written models have the schema files' fields, order, types, enums, bounds,
    defaults and required list: the oracle and the emulator read the same published contract."""
    for schema_name, model in MODELS.items():
        contract = load_schema(schema_name)
        built = model.model_json_schema()
        assert built.get("required", []) == contract.get("required", []), schema_name
        assert list(built["properties"]) == contract["x-fal-order-properties"], schema_name
        for name, rule in contract["properties"].items():
            prop = built["properties"][name]
            choices = [prop, *prop.get("anyOf", [])]
            assert any(c.get("type") == rule["type"] for c in choices), (schema_name, name)
            optional = name not in contract.get("required", [])
            for keyword in ("enum", "default", "minLength", "maxLength"):
                found = [c[keyword] for c in choices if keyword in c]
                if keyword in rule:
                    assert found == [rule[keyword]], (schema_name, name, keyword)
                elif keyword == "default" and optional:  # Optional[...] = None
                    assert found == [None], (schema_name, name)
                else:
                    assert found == [], (schema_name, name, keyword)


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


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FUZZ
@given(data=st.data())
def test_json_bodies_get_fastapis_exact_answer(
    emulator: BackgroundEmulator, client: httpx.Client, endpoint: str, data: st.DataObject
) -> None:
    body = data.draw(
        st.one_of(
            mixed_bodies(endpoint),
            invalid_inputs(endpoint).map(lambda case: case.body),
            JSON_VALUES,
        )
    )
    same_answer(emulator, client, endpoint, json.dumps(body).encode())


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"prompt": ', "application/json"),  # json_invalid, loc at the offset
        (b'{"prompt": "a fox",}', "application/json"),
        (b"", "application/json"),  # missing body
        (b"null", "application/json"),  # a JSON null body is a missing body too
        (b'{"prompt": "a fox"}', "application/vnd.api+json"),  # *+json is JSON
        (b'{"prompt": "a fox"}', "text/plain"),  # other types: raw bytes, model_attributes_type
        (b"not json", "text/plain"),  # fal's own unit test: a 422
        (b'{"prompt": "\xff"}', "application/json"),  # undecodable: FastAPI's plain 400
        (b"[" * 5000 + b"]" * 5000, "application/json"),  # too deep for json.loads: 400
        (b'{"prompt": "a fox", "loop": ' + b"9" * 5000 + b"}", "application/json"),
    ],
)
def test_body_rules_match_fastapi(
    emulator: BackgroundEmulator,
    client: httpx.Client,
    endpoint: str,
    raw: bytes,
    content_type: str,
) -> None:
    same_answer(emulator, client, endpoint, raw, content_type)


@pytest.mark.parametrize(
    "raw",
    [
        b"{}",
        b'{"prompt": "ab", "aspect_ratio": "1:1", "loop": "maybe", "duration": 9}',
        b'{"prompt": 5, "extra": true}',
    ],
)
def test_sync_run_and_the_queued_result_answer_the_same_bytes(tmp_path: Path, raw: bytes) -> None:
    """The fast path above is not a shortcut: sync run answers the app's 422 at once, and a
    queued request answers it from its result, with the same bytes as FastAPI."""
    expected = fastapi_answer(T2V, raw, "application/json")
    assert expected.status_code == 422
    config = make_config(tmp_path, timing="instant")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, headers=AUTH, timeout=30) as http,
    ):
        ran = http.post(f"/run/{T2V}", content=raw, headers={"content-type": "application/json"})
        assert (ran.status_code, ran.content) == (422, expected.content)
        assert http.get("/_mock/requests").json()["requests"] == []  # nothing was queued
        submitted = http.post(f"/{T2V}", content=raw, headers={"content-type": "application/json"})
        assert submitted.status_code == 200
        response_url = submitted.json()["response_url"]
        result = wait_until(
            lambda: (r := http.get(response_url)).status_code != 400 and r,
            what="the queued request's result",
        )
        assert (result.status_code, result.content) == (422, expected.content)


def test_where_the_emulator_departs_from_fastapi_on_purpose(client: httpx.Client) -> None:
    """Each departure, pinned (docs/fidelity.md says why): fal's own curl examples send a JSON
    body with curl's form type or none, and they work; NaN is not JSON."""
    form = b'{"prompt": "a fox"}'
    for content_type in ("application/x-www-form-urlencoded", None):
        assert fastapi_answer(T2V, form, content_type).status_code == 422
        assert emulator_answer(client, f"/{T2V}", form, content_type).status_code == 200
    nan = emulator_answer(client, f"/{T2V}", b'{"prompt": NaN}', "application/json")
    assert nan.status_code == 422
    assert nan.json()["detail"][0]["type"] == "json_invalid"


REFRAME = "fal-ai/luma-dream-machine/ray-2-flash/reframe"
MODIFY = "fal-ai/luma-dream-machine/ray-2-flash/modify"
SOURCE = {"video_url": "data:,v"}


@pytest.mark.parametrize(
    ("endpoint", "body", "loc", "kind", "ctx"),
    [
        (
            REFRAME,
            {**SOURCE, "aspect_ratio": "1:1", "prompt": ""},
            "prompt",
            "string_too_short",
            {"min_length": 1},
        ),
        (
            REFRAME,
            {**SOURCE, "aspect_ratio": "1:1", "prompt": "a" * 5001},
            "prompt",
            "string_too_long",
            {"max_length": 5000},
        ),
        (MODIFY, {**SOURCE, "prompt": "ab"}, "prompt", "string_too_short", {"min_length": 3}),
        (
            REFRAME,
            {**SOURCE, "aspect_ratio": "1:1", "grid_position_x": 1.5},
            "grid_position_x",
            "int_from_float",
            None,
        ),
        (REFRAME, {**SOURCE}, "aspect_ratio", "missing", None),
        (MODIFY, {"prompt": "paint it"}, "video_url", "missing", None),
    ],
)
def test_the_bounds_fals_types_drop_are_kept(
    client: httpx.Client, endpoint: str, body: dict, loc: str, kind: str, ctx: dict | None
) -> None:
    """fal-js PR #187's zod schemas, generated from fal's OpenAPI: reframe ``prompt`` 1 to 5000,
    modify ``prompt`` 3 to 5000, integer grid positions and bounds, reframe's ``aspect_ratio``
    required with no default; ``video_url`` required on both."""
    answer = client.post(f"/{endpoint}", json=body)
    assert answer.status_code == 422, answer.text
    (entry,) = answer.json()["detail"]
    assert (entry["loc"], entry["type"], entry.get("ctx")) == (["body", loc], kind, ctx)


def test_the_loosest_valid_inputs_are_accepted(
    emulator: BackgroundEmulator, client: httpx.Client
) -> None:
    """A one-character reframe prompt is valid; modify without ``mode`` runs as ``flex_1``
    (endpoints.d.ts: ``Default value: "flex_1"``)."""
    reframe = client.post(f"/{REFRAME}", json={**SOURCE, "aspect_ratio": "1:1", "prompt": "a"})
    assert reframe.status_code == 200, reframe.text
    modify = client.post(f"/{MODIFY}", json=SOURCE)
    assert modify.status_code == 200, modify.text
    assert arguments_of(emulator, modify.json()["request_id"])["mode"] == "flex_1"


def test_422_entries_follow_fals_field_order(client: httpx.Client) -> None:
    """fal's ``x-fal-order-properties`` (fal-js PR #212, generated from fal's OpenAPI; llms.txt
    lists the same): one entry per broken field, in that order."""
    broken = {
        "video_url": 1,
        "aspect_ratio": "2:7",
        "image_url": 2,
        "grid_position_x": "x",
        "grid_position_y": "y",
        "prompt": 3,
        "x_end": "a",
        "x_start": "b",
        "y_end": "c",
        "y_start": "d",
    }
    for endpoint, order in (
        (
            REFRAME,
            [
                "video_url",
                "aspect_ratio",
                "image_url",
                "grid_position_x",
                "grid_position_y",
                "prompt",
                "x_end",
                "x_start",
                "y_end",
                "y_start",
            ],
        ),
        (MODIFY, ["video_url", "image_url", "prompt", "mode"]),
    ):
        body = dict(reversed([(k, broken.get(k, 4)) for k in order]))  # sent in reverse
        detail = client.post(f"/{endpoint}", json=body).json()["detail"]
        assert [entry["loc"][1] for entry in detail] == order, endpoint
