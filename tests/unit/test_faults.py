"""Scenario documents, matching, fal's error shapes and seeded random faults, without a server."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mockserver.chaos.engine import RANDOM_FAULTS, FaultEngine
from mockserver.chaos.model import FaultDocument, HttpError
from mockserver.chaos.parse import (
    ScenarioError,
    load_file,
    parse_document,
    parse_scenario,
    render_path,
)
from mockserver.fal.catalogue import fal_error
from mockserver.fal.operations import FalCall, classify
from mockserver.records import RequestRecord

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
SUBMIT = FalCall("submit", T2V)
RUN = FalCall("run", T2V)
STATUS = FalCall("status", "fal-ai/luma-dream-machine", "req-1")


def problems_of(data: object) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        parse_document(data)
    return {render_path(path): msg for path, msg in info.value.problems}


# -- documents --------------------------------------------------------------------------------


def test_short_forms_and_defaults() -> None:
    scenario = parse_scenario(
        {"error": "content_policy_violation", "match": {"route": "submit", "endpoint": T2V}}
    )
    assert scenario.effects.error == {"type": "content_policy_violation"}
    assert scenario.match.routes == {"submit"} and scenario.match.endpoints == {T2V}
    assert parse_scenario({"latency": 1}).match.routes == {"submit", "run"}
    assert parse_scenario({"stream": {"delay": 1}}).match.routes == {"stream"}
    everywhere = parse_scenario({"latency": 0.1, "match": {"route": "*"}})
    assert everywhere.match.routes == {"submit", "run", "status", "stream", "result", "cancel"}
    http = parse_scenario({"http_error": {"status": 429}}).effects.http_error
    assert http == HttpError(429), "no Retry-After unless asked for: fal documents none"
    ingress = parse_scenario({"http_error": {"status": 502, "ingress": True}}).effects.http_error
    assert ingress is not None and ingress.request_id is False
    bare = parse_scenario({"http_error": {"status": 418, "error_type": None}}).effects.http_error
    assert bare == HttpError(418, bare=True)
    logs = parse_scenario({"logs": ["plain", {"message": "late", "at": 0.9}]})
    assert logs.effects.logs == (
        {"message": "plain", "at": 0.5},
        {"message": "late", "at": 0.9},
    )


def test_every_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    found = problems_of({"fault_rate": 2, "fault_rates": {"meteor": 0.1}, "scenarios": {}})
    assert "greater than the maximum of 1" in found["fault_rate"]
    assert "'meteor' is not one of" in found["fault_rates"]
    assert "is not of type 'array'" in found["scenarios"]
    found = problems_of(
        {
            "scenarios": [
                {"http_error": {"status": 700}},
                {"match": {"route": "statuss"}, "drop": True},
                {"error": "no_such_error"},
                {"latency": 1, "stauts": 3},
                {"match": {"input": {"prompt": "(unclosed"}}, "latency": 1},
                {"error": "internal_server_error", "match": {"route": "status"}},
                {"stream": {"delay": 1}, "match": {"route": "submit"}},
                {"output": {"video": str(tmp_path / "missing.mp4")}},
                {"name": "twice", "drop": True},
                {"name": "twice", "drop": True},
                {"match": {"route": "submit"}},
                {"http_error": {"status": 500}, "drop": True},
            ]
        }
    )
    assert "700 is greater than the maximum of 599" in found["scenarios[0].http_error.status"]
    assert "'statuss' is not one of" in found["scenarios[1].match.route[0]"]
    assert "'no_such_error' is not one of" in found["scenarios[2].error.type"]
    assert "'stauts' was unexpected" in found["scenarios[3]"]
    assert "invalid regular expression" in found["scenarios[4].match.input.prompt"]
    assert "match.route must be submit/run, not status" in found["scenarios[5].error"]
    assert "match.route must be stream" in found["scenarios[6].stream"]
    assert "no such file" in found["scenarios[7].output.video"]
    assert "duplicate name 'twice'" in found["scenarios[9].name"]
    assert "no effect given" in found["scenarios[10]"]
    assert "choose one" in found["scenarios[11]"]
    assert len(found) == 11
    renamed = problems_of({"fault_rates": {"submit_429": 0.1}})
    assert "renamed: write run_429" in renamed["fault_rates.submit_429"]


def test_files_load_as_yaml_or_json_and_say_where_they_are_wrong(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    good = tmp_path / "good.yaml"
    good.write_text(
        "seed: 7\nfault_rate: 0.05\nprogression: manual\nscenarios:\n"
        "  - name: moderated\n    match: {input: {prompt: '(?i)forbidden'}}\n"
        "    error: content_policy_violation\n"
        "  - output: {video: clip.mp4}\n"
    )
    document = load_file(good)
    assert (document.seed, document.fault_rate, document.progression) == (7, 0.05, "manual")
    assert [s.name for s in document.scenarios] == ["moderated", "scenario-2"]
    assert document.scenarios[1].effects.output == {"video": str(video.resolve())}
    as_json = tmp_path / "good.json"
    as_json.write_text(json.dumps([{"drop": True, "times": 1}]))
    assert load_file(as_json).scenarios[0].times == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("scenarios: [\n")
    with pytest.raises(ScenarioError, match=r"(?s)scenario file .*broken\.yaml.*not valid yaml"):
        load_file(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("scenarios:\n  - http_error: {status: 99}\n")
    with pytest.raises(ScenarioError) as info:
        load_file(wrong)
    message = str(info.value)
    assert "wrong.yaml" in message and "scenarios[0].http_error.status" in message
    assert "99 is less than the minimum of 400" in message
    with pytest.raises(ScenarioError, match="cannot read it"):
        load_file(tmp_path / "absent.yaml")


# -- matching ---------------------------------------------------------------------------------


def engine_with(*specs: dict) -> FaultEngine:
    return FaultEngine(parse_document({"scenarios": list(specs)}))


def test_input_header_endpoint_and_times() -> None:
    engine = engine_with(
        {"name": "i2v", "match": {"endpoint": I2V, "input": {"resolution": "720p"}}, "drop": True},
        {"name": "fox", "match": {"input": {"prompt": "(?i)fox", "loop": True}}, "latency": 1},
        {"name": "default-540", "match": {"input": {"resolution": "^540p$"}}, "latency": 2},
        {"name": "tagged", "match": {"headers": {"X-Test": "^flaky$"}}, "times": 2, "drop": True},
    )

    def fired(call: FalCall, payload: object, headers: dict | None = None) -> list[str]:
        decision = engine.decide(call, headers or {}, payload)
        return decision.fired if decision else []

    assert fired(FalCall("submit", I2V), {"prompt": "x prompt", "resolution": "720p"}) == ["i2v"]
    assert fired(SUBMIT, {"prompt": "x prompt", "resolution": "720p"}) == []
    assert fired(SUBMIT, {"prompt": "A FOX", "loop": True, "resolution": "1080p"}) == ["fox"]
    # rules see the input as the model does: pydantic reads "yes" as True, "no" as False
    assert fired(SUBMIT, {"prompt": "a fox", "loop": "yes", "resolution": "1080p"}) == ["fox"]
    assert fired(SUBMIT, {"prompt": "a fox", "loop": "no", "resolution": "1080p"}) == []
    assert fired(SUBMIT, {"prompt": "schema default applies"}) == ["default-540"]
    assert fired(SUBMIT, "not an object") == []
    tagged = {"x-test": "flaky"}
    late = {"prompt": "x prompt", "resolution": "720p"}
    assert [fired(SUBMIT, late, tagged) for _ in range(3)] == [["tagged"], ["tagged"], []]
    listed = {s["name"]: s for s in engine.to_json()["scenarios"]}
    assert (listed["tagged"]["hits"], listed["tagged"]["remaining"]) == (2, 0)
    assert listed["fox"]["remaining"] is None


def test_request_routes_match_on_the_stored_record() -> None:
    engine = engine_with(
        {"match": {"route": "status", "input": {"prompt": "slow"}}, "latency": 0.5},
        {"match": {"route": "result"}, "http_error": {"status": 502, "ingress": True}},
    )
    record = RequestRecord("req-1", T2V, {"prompt": "slow please"}, 0.0, 0.0, 1.0)
    seen: list[str] = []

    def lookup(request_id: str) -> RequestRecord | None:
        seen.append(request_id)
        return record if request_id == "req-1" else None

    decision = engine.decide(STATUS, {}, None, lookup)
    assert decision is not None and decision.effects.latency == 0.5 and seen == ["req-1"]
    assert engine.decide(FalCall("status", "x", "other"), {}, None, lookup) is None
    result = engine.decide(FalCall("result", "x", "req-1"), {}, None, lookup)
    assert result is not None and result.effects.http_error is not None
    assert engine.decide(FalCall("media"), {}, None, lookup) is None


def test_effects_of_several_scenarios_merge_first_wins() -> None:
    engine = engine_with(
        {"name": "a", "latency": 0.1, "error": "generation_timeout", "logs": ["one"]},
        {"name": "b", "latency": 0.2, "error": "internal_server_error", "logs": ["two"]},
        {"name": "c", "progression": "manual", "slow_queue": {"seconds": 5, "position": 3}},
    )
    decision = engine.decide(SUBMIT, {}, {"prompt": "p prompt"})
    assert decision is not None and decision.fired == ["a", "b", "c"]
    assert decision.effects.latency == pytest.approx(0.3)
    plan = decision.plan({"prompt": "p prompt"})
    assert plan is not None and plan.error is not None
    assert plan.error["error_type"] == "generation_timeout" and plan.error["status_code"] == 504
    assert [line["message"] for line in plan.logs] == ["one", "two"]
    assert (plan.progression, plan.hold_seconds, plan.hold_position) == ("manual", 5, 3)
    assert plan.scenario == "a, b, c"


def test_engine_add_replace_remove_reset() -> None:
    engine = FaultEngine(parse_document([{"name": "file", "drop": True, "times": 1}]))
    engine.decide(SUBMIT, {}, {})
    assert engine.to_json()["scenarios"][0]["remaining"] == 0
    engine.add([parse_scenario({"name": "api", "latency": 1})])
    engine.add([parse_scenario({"name": "api", "latency": 2})])
    assert [s.name for s in engine.scenarios] == ["file", "api"]
    assert engine.scenarios[1].effects.latency == 2
    assert engine.unique_name() == "scenario-1"
    assert engine.remove("api") and not engine.remove("api")
    engine.reset()
    assert [(s.name, s.hits) for s in engine.scenarios] == [("file", 0)]


# -- fal's shapes -----------------------------------------------------------------------------


def test_model_and_request_error_shapes() -> None:
    policy = fal_error("content_policy_violation", payload={"prompt": "bad words"})
    assert policy["status_code"] == 422
    assert policy["headers"] == {"x-fal-billable-units": "0", "x-fal-retryable": "false"}
    (entry,) = policy["body"]["detail"]
    # live: loc ["body", "prompt"] echoing the whole input object
    assert entry["loc"] == ["body", "prompt"] and entry["input"] == {"prompt": "bad words"}
    assert entry["type"] == "content_policy_violation" and entry["msg"]
    image = fal_error("image_load_error", payload={"prompt": "p prompt", "image_url": "data:,"})
    assert image["body"]["detail"][0]["loc"] == ["body", "image_url"]
    assert image["body"]["detail"][0]["input"] == "data:,"  # a file field echoes its own value
    crash = fal_error("internal_server_error", retryable=True)
    assert crash["status_code"] == 500
    assert crash["headers"] == {"x-fal-billable-units": "0", "x-fal-retryable": "true"}
    assert "input" not in crash["body"]["detail"][0]  # nothing to echo: left out, never null
    runner = fal_error("runner_disconnected")
    assert runner["status_code"] == 503
    assert runner["body"] == {
        "detail": "The runner disconnected unexpectedly",
        "error_type": "runner_disconnected",
    }
    assert "x-fal-retryable" not in runner["headers"]  # a model-error header only
    custom = fal_error("generation_timeout", status=500, message="took too long")
    assert custom["status_code"] == 500 and custom["body"]["detail"][0]["msg"] == "took too long"


def test_gateway_answers() -> None:
    page = HttpError(503, request_id=False, ingress=True).response("submit")
    assert page.status_code == 503 and b"nginx" in page.body
    assert page.headers["content-type"] == "text/html"
    assert "x-fal-request-id" not in page.headers
    answer = HttpError(503).response("submit")
    assert json.loads(answer.body) == {
        "detail": "No runner could be allocated",
        "error_type": "runner_scheduling_failure",
    }
    assert answer.headers["x-fal-error-type"] == "runner_scheduling_failure"
    assert answer.headers["x-fal-request-id"] and b"nginx" not in answer.body
    assert HttpError(429, retry_after=2.5).response("run").headers["retry-after"] == "2.5"
    timed_out = HttpError(
        504, error_type="request_timeout", headers=(("x-fal-request-timeout-type", "user"),)
    ).response("submit")
    assert timed_out.headers["x-fal-request-timeout-type"] == "user"
    bare = HttpError(418, bare=True, message="short and stout").response("submit")
    assert json.loads(bare.body) == {"detail": "short and stout"}
    assert "x-fal-error-type" not in bare.headers
    assert HttpError(404, message="gone").response("status").body == (
        b'{"detail": "gone", "error_type": "not_found"}'
    ), "a message of its own: the request-error shape, not the route's unknown-id body"


def test_classify_names_fal_routes() -> None:
    rid = "0f0e"
    base = "fal-ai/luma-dream-machine"
    cases = {
        ("POST", "127.0.0.1:1", f"/{T2V}"): FalCall("submit", T2V),
        ("POST", "127.0.0.1:1", f"/run/{I2V}"): FalCall("run", I2V),
        ("POST", "fal.run", f"/{T2V}"): FalCall("run", T2V),
        ("POST", "queue.fal.run:443", f"/{T2V}"): FalCall("submit", T2V),
        ("GET", "x", f"/{base}/requests/{rid}/status"): FalCall("status", base, rid),
        ("GET", "x", f"/{base}/requests/{rid}/status/stream"): FalCall("stream", base, rid),
        ("GET", "x", f"/{base}/requests/{rid}"): FalCall("result", base, rid),
        ("PUT", "x", f"/{base}/requests/{rid}/cancel"): FalCall("cancel", base, rid),
        # under the full endpoint id these paths are POST-only submit paths at fal (405)
        ("GET", "x", f"/{T2V}/requests/{rid}/status"): FalCall("other"),
        ("DELETE", "x", f"/{base}/requests/{rid}"): FalCall("other", base, rid),
        ("GET", "x", "/_mock/journal"): FalCall("control"),
        ("GET", "x", "/files/mock/abc.mp4"): FalCall("media"),
        ("GET", "v3.fal.media", "/files/mock/abc.mp4"): FalCall("media"),
        ("POST", "rest.fal.ai", "/storage/upload/initiate"): FalCall("rest"),
        ("GET", "x", "/unknown"): FalCall("other"),
        # fal.ai only publishes documents: an endpoint path there is no submit or run
        ("POST", "fal.ai", f"/{T2V}"): FalCall("other"),
        ("GET", "fal.ai:443", "/api/openapi/queue/openapi.json"): FalCall("other"),
    }
    for (method, host, path), expected in cases.items():
        assert classify(method, host, path) == expected, (method, host, path)
    proxied = classify("POST", "127.0.0.1:1", "/api/fal/proxy", f"https://queue.fal.run/{T2V}")
    assert proxied == FalCall("submit", T2V)


# -- random faults ----------------------------------------------------------------------------


def sequence(engine: FaultEngine, calls: list[FalCall]) -> list[str]:
    out = []
    for call in calls:
        decision = engine.decide(call, {}, {"prompt": "p prompt"})
        out.append(decision.fired[0] if decision else "-")
    return out


def test_same_seed_same_faults_other_seed_other_faults() -> None:
    def run(seed: int) -> list[str]:
        engine = FaultEngine(FaultDocument(), seed=seed, fault_rate=0.1)
        return sequence(engine, [SUBMIT] * 300)

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    kinds = Counter(first) - Counter({"-": 10**6})
    assert kinds, "a 10% rate per kind fires within 300 requests"
    assert set(kinds) <= {f"random:{k}" for k in RANDOM_FAULTS}
    assert "random:poll_502_ingress" not in kinds, "poll faults never hit a submit"


def test_polling_does_not_shift_the_submit_sequence() -> None:
    quiet = FaultEngine(FaultDocument(), seed=3, fault_rate=0.2)
    busy = FaultEngine(FaultDocument(), seed=3, fault_rate=0.2)
    calls_busy: list[FalCall] = []
    for n in range(100):
        calls_busy += [SUBMIT] + [STATUS] * (n % 4)
    busy_submits = [
        fired
        for call, fired in zip(calls_busy, sequence(busy, calls_busy), strict=True)
        if call is SUBMIT
    ]
    assert sequence(quiet, [SUBMIT] * 100) == busy_submits


def test_per_kind_rates_and_reset_reseeds() -> None:
    document = parse_document({"seed": 11, "fault_rates": {"run_429": 0.5}})
    engine = FaultEngine(document)
    assert engine.random is not None and engine.random.to_json() == {
        "seed": 11,
        "rates": {"run_429": 0.5},
    }
    first = sequence(engine, [RUN] * 50)
    assert set(first) == {"-", "random:run_429"}
    assert set(sequence(engine, [SUBMIT] * 50)) == {"-"}, "a queue submit is never refused"
    engine.reset()
    assert sequence(engine, [RUN] * 50) == first
    unseeded = FaultEngine(FaultDocument(), fault_rate=0.1)
    assert unseeded.random is not None and isinstance(unseeded.random.seed, int)
    assert FaultEngine(FaultDocument(), fault_rate=0).random is None


def test_the_scenario_schema_names_what_the_code_knows() -> None:
    """scenarios.json is data: its enums must list exactly the routes, endpoints, error types,
    random faults and progressions the emulator implements."""
    from contracts import load_schema
    from mockserver.chaos.engine import RANDOM_FAULTS
    from mockserver.fal.catalogue import ERROR_KINDS
    from mockserver.fal.endpoints import ENDPOINTS
    from mockserver.fal.operations import FAL_ROUTES
    from mockserver.queue import PROGRESSIONS

    document = load_schema("scenarios.json")
    scenario = document["$defs"]["scenario"]["properties"]
    assert scenario["match"]["properties"]["route"]["items"]["enum"] == [*FAL_ROUTES, "*"]
    assert scenario["match"]["properties"]["endpoint"]["items"]["type"] == "string"
    for endpoint_id in sorted(ENDPOINTS):  # every exact row, and a catalogue endpoint, parse
        assert parse_document({"scenarios": [_aimed_at(endpoint_id)]}).scenarios
    assert parse_document({"scenarios": [_aimed_at("fal-ai/flux/dev")]}).scenarios
    with pytest.raises(ScenarioError, match="no endpoint 'fal-ai/no-such/model'"):
        parse_document({"scenarios": [_aimed_at("fal-ai/no-such/model")]})
    assert scenario["error"]["properties"]["type"]["enum"] == sorted(ERROR_KINDS)
    assert document["properties"]["fault_rates"]["propertyNames"]["enum"] == list(RANDOM_FAULTS)
    for pattern in (scenario["progression"], document["properties"]["progression"]):
        assert pattern["pattern"] == PROGRESSIONS.pattern


def _aimed_at(endpoint_id: str) -> dict[str, object]:
    return {"match": {"endpoint": endpoint_id}, "error": "internal_server_error"}
