"""schemathesis against the emulator's own OpenAPI document: every operation, every check.

Positive and negative inputs, boundary cases and undeclared methods go to a real server over
a socket; each response must conform to the document (status code, content type, schema) and
no response may be a 5xx. Generation is derandomized in `make test` (the same cases every run);
`make soak` draws fresh, larger samples.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from starlette.routing import BaseRoute, Mount, Route

from contracts import load_schema
from contracts.openapi import load_openapi, operation_name
from contracts.schemas.endpoints import ENDPOINT_FACTS
from mockserver.app import ROLE_ROUTES
from mockserver.control.api import catch_all_routes
from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.browser_proxy import PROXY_METHODS, PROXY_PATH
from mockserver.serving.routing import MethodTableRoute
from tests.reliability.budget import SOAK, scaled
from tests.support import TEST_KEY, make_config

SCHEMA = schemathesis.openapi.from_dict(load_openapi())
# fal ignores query parameters it does not know (clients add their own), so an unexpected one
# is not an input error to reject.
SCHEMA.config.generation.update(allow_extra_parameters=False)
RUN_PATHS = r"^/run/"
SCENARIO_PATHS = r"^/_mock/scenarios"
# An event stream that never ends by design (the dashboard's live list): a fuzzer would wait
# on it forever. tests/integration/test_dashboard_api.py reads it event by event instead.
ENDLESS = "dashboardEvents"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
ADMIN_TOKEN = "fuzz-admin-token-0123456789"
"""The fuzzed emulators run with the control plane closed, so schemathesis also proves every
operation that declares the admin schemes refuses a request without the token or with another
(its ignored_auth check); the loopback default without a token is the rest of the suite's."""
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENDPOINT_OPERATIONS = {
    endpoint_id: (f"submit{operation_name(endpoint_id)}", f"run{operation_name(endpoint_id)}")
    for endpoint_id in ENDPOINT_FACTS
}
# image_url and video_url must be downloadable (and a video), which no schema can say: a
# schema-valid but unreachable URL is fal's 422 file_download_error, so "valid data is
# accepted" cannot hold on endpoints with file inputs.
FILE_OPERATIONS = tuple(
    operation
    for endpoint_id, operations in ENDPOINT_OPERATIONS.items()
    if {"image_url", "video_url"}
    & set(load_schema(ENDPOINT_FACTS[endpoint_id].input_schema)["properties"])
    for operation in operations
)
# Accepted inputs render (before a sync run answers, in the background after a submit), so each
# (input schema, render rule) is fuzzed once: Flash shares Ray 2's schemas and rules (the same
# code path end to end); its operations are still documented, and
# tests/integration/test_family.py drives every endpoint's submit and sync run.
_SHAPES: dict[tuple[str, str], str] = {}
for _endpoint, _facts in ENDPOINT_FACTS.items():
    _SHAPES.setdefault((_facts.input_schema, _facts.render), _endpoint)
REPEATED_OPERATIONS = [
    op for e in ENDPOINT_FACTS if e not in _SHAPES.values() for op in ENDPOINT_OPERATIONS[e]
]
# A scenario has rules beyond its schema (at least one effect, effects that exclude each other,
# output.video an existing file): schema-valid is not always accepted there either.
SEMANTIC_OPERATIONS = (*FILE_OPERATIONS, "scenariosAdd")
# fal's queue accepts any well-formed JSON: input the app rejects fails at its result, not at
# submit (docs/fidelity.md), so a schema-violating submit is rightly accepted. Sync run judges
# with pydantic, whose lax mode accepts what JSON Schema calls invalid (0, "yes" for a boolean);
# test_http_api and the contract suite check its 422s rule by rule instead.
LAX_OPERATIONS = tuple(op for operations in ENDPOINT_OPERATIONS.values() for op in operations)
# The browser proxy passes its target's answer through: what it accepts is the target's call.
PROXY_OPERATIONS = ("falProxyGet", "falProxyPost", "falProxyPut")
ONE_CLIP_SHAPE = {"resolution": "540p", "duration": "5s", "aspect_ratio": "16:9", "loop": False}
MISSING = object()
RUN_AND_QUEUE_SUBMITS = [
    f"{prefix}/{endpoint}" for prefix in ("", "/run") for endpoint in ENDPOINT_FACTS
]


def _is_valid(field: str, value: object) -> bool:
    rule = load_schema("ray-2.input.json")["properties"][field]
    if "enum" in rule:
        return value in rule["enum"]
    return isinstance(value, bool)  # loop


FUZZ = settings(
    deadline=None,
    derandomize=not SOAK,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    """SQLite store, so odd strings also make the round trip through the database."""
    config = make_config(tmp_path_factory.mktemp("fuzz"), store="sqlite", admin_token=ADMIN_TOKEN)
    with BackgroundEmulator(config) as running:
        yield running
        # after everything the fuzzer sent, the server still answers, and every request it
        # accepted completes without a server-side failure (a renderer crash on an odd prompt
        # would surface here as a 500 outcome)
        assert httpx.get(f"{running.url}/_mock/health", timeout=5).status_code == 200
        store = running.services.store
        deadline = time.monotonic() + 120
        while running.call(store.unfinished) and time.monotonic() < deadline:
            time.sleep(0.2)
        records = running.call(store.recent, 100_000)
        assert not running.call(store.unfinished)
        failed = [(r.input, r.error) for r in records if r.error and r.error["status_code"] >= 500]
        assert failed == []


# One server per test: queue submits render in the background, and a sync run queued behind
# that backlog of distinct renders would measure the backlog, not the operation.
queue_server = pytest.fixture(scope="module")(_server)
run_server = pytest.fixture(scope="module")(_server)
# Scenarios change what every later request gets (that is their job), so they get a server of
# their own and are cleared after each case.
scenario_server = pytest.fixture(scope="module")(_server)


@pytest.fixture(scope="module")
def cdn_token(queue_server: BackgroundEmulator) -> str:
    """A real CDN token, so the fuzzer gets past the upload routes' Bearer check."""
    response = httpx.post(f"{queue_server.url}/storage/auth/token", headers=AUTH, timeout=10)
    return str(response.raise_for_status().json()["token"])


# One connection pool for every case: a new session per call rebuilt its TLS context from the
# CA bundle each time, which was most of the fuzzers' run time.
SESSION = requests.Session()


def _call(case: schemathesis.Case, server: BackgroundEmulator, cdn_token: str = "") -> None:
    """Accepted inputs render a video (in the background for submits, before the answer for a
    sync run), so every case gets one clip shape: a valid resolution/duration/aspect ratio/loop
    is swapped for the cheapest valid one (the case stays exactly as valid or invalid as it was)
    and renders differ only by prompt and image. Every geometry is rendered by the media tests."""
    if isinstance(case.body, dict):
        for field, value in ONE_CLIP_SHAPE.items():
            if _is_valid(field, case.body.get(field, MISSING)):
                case.body[field] = value
    raw = case.operation.definition.raw
    lenient = (*SEMANTIC_OPERATIONS, *PROXY_OPERATIONS)
    excluded = [positive_data_acceptance] if raw.get("operationId") in lenient else []
    if raw.get("operationId") in LAX_OPERATIONS:
        excluded.append(negative_data_rejection)
    security = raw.get("security", [])
    if any("adminToken" in option for option in security):
        headers = ADMIN
    elif any("cdnToken" in option for option in security):
        headers = {"Authorization": f"Bearer {cdn_token}"}
    else:
        headers = AUTH
    case.call_and_validate(
        base_url=server.url,
        session=SESSION,
        headers=headers,
        timeout=30,
        excluded_checks=excluded,
    )


@(
    SCHEMA.exclude(path_regex=RUN_PATHS)
    .exclude(path_regex=SCENARIO_PATHS)
    .exclude(operation_id=ENDLESS)
    .exclude(operation_id=REPEATED_OPERATIONS)
    .parametrize()
)
@settings(FUZZ, max_examples=scaled(25, 400))
def test_fuzz_queue_files_and_mock_operations(
    case: schemathesis.Case, queue_server: BackgroundEmulator, cdn_token: str
) -> None:
    _call(case, queue_server, cdn_token)


@SCHEMA.include(path_regex=SCENARIO_PATHS).parametrize()
@settings(FUZZ, max_examples=scaled(25, 400))
def test_fuzz_scenario_operations(
    case: schemathesis.Case, scenario_server: BackgroundEmulator
) -> None:
    try:
        _call(case, scenario_server)
    finally:
        cleared = SESSION.delete(
            f"{scenario_server.url}/_mock/scenarios", headers=ADMIN, timeout=10
        )
        cleared.raise_for_status()


@SCHEMA.include(path_regex=RUN_PATHS).exclude(operation_id=REPEATED_OPERATIONS).parametrize()
@settings(FUZZ, max_examples=scaled(6, 60))
def test_fuzz_sync_run_operations(case: schemathesis.Case, run_server: BackgroundEmulator) -> None:
    """Each accepted input renders a video before the answer, hence fewer examples."""
    _call(case, run_server)


CATCH_ALLS = {"/fal-ai/{path:path}", "/run/{path:path}", "/{path:path}"} | {
    r.path for r in catch_all_routes()
}


def _operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path template) of every loopback route that is not a catch-all."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):  # static files: one documented {file} parameter
            found.add(("GET", f"{route.path}/{{file}}"))
            continue
        if not isinstance(route, Route) or route.path in CATCH_ALLS:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if isinstance(route, MethodTableRoute):
            methods = set(route.handlers)
        elif path == PROXY_PATH:
            methods = set(PROXY_METHODS)
        else:
            methods = set(route.methods or ())
        found |= {(method, path) for method in methods - {"HEAD"}}
    return found


def test_every_loopback_operation_is_in_the_openapi_document() -> None:
    """The fuzzer only reaches what the document declares: a new route must be added."""
    documented = {
        (method.upper(), path)
        for path, operations in load_openapi()["paths"].items()
        for method in operations
        if method != "head"
    }
    served = _operations(ROLE_ROUTES["local"])
    served |= {("POST", path) for path in RUN_AND_QUEUE_SUBMITS}
    assert len(served) > 40
    missing = served - documented
    assert not missing, f"undocumented operations: {sorted(missing)}"


def test_document_inlines_the_schema_files(tmp_path: Path) -> None:
    document = load_openapi("http://127.0.0.1:1")
    assert document["servers"] == [{"url": "http://127.0.0.1:1"}]
    refs = {r for r in _refs(document) if not r.startswith("#/")}
    assert refs == set()
    components = document["components"]["schemas"]
    assert components["ray-2-input"]["required"] == ["prompt"]
    assert "image_url" in components["ray-2-image-to-video-input"]["properties"]
    assert components["ray-2-reframe-input"]["required"] == ["video_url", "aspect_ratio"]
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert {op for ops in ENDPOINT_OPERATIONS.values() for op in ops} <= operations
    assert "Scenario" in components and "ScenarioDocument" in components
    assert len(list(SCHEMA.get_all_operations())) == sum(
        len(operations) for operations in document["paths"].values()
    )


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
