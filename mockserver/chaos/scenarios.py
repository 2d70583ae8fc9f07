"""Scenarios and random faults, as data: which requests to touch, and what to do to them.

A scenario is a *match* (route, endpoint, input fields, headers; optionally only the next N
requests) and *effects*. Effects at the gateway happen before fal's handler runs: an HTTP
error (429 with Retry-After; 5xx with or without ``x-fal-request-id``; nginx-style ingress
pages), a dropped connection, latency, a slow or stalled status stream. Effects on the
request's life are handed to the queue when it creates the request: a fal error at
completion (model errors with a ``detail`` list, request errors with ``error_type``),
progression, a slow queue, extra log lines, a given output file.

Scenarios load from YAML/JSON at start (errors are reported all at once, with their path in
the file) and through ``/_mock/scenarios``. Random faults fire each kind in
``RANDOM_FAULTS`` with a probability, from a seeded generator per route, so the same seed and
the same requests give the same faults. Applying effects is ``injection.py``'s job.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml  # PyYAML: scenario files are meant to be written by hand
from jsonschema import Draft202012Validator

from contracts.schemas import load_schema
from mockserver.fal.catalogue import GATEWAY_ERRORS, REASONS, DocPath, fal_error
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.operations import FAL_ROUTES, FalCall
from mockserver.records import RequestPlan, RequestRecord

CREATING_ROUTES = frozenset({"submit", "run"})
"""Routes that create a request: the only ones where effects on its life make sense."""


# -- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpError:
    """An answer from fal's gateway instead of the handler's."""

    status: int
    request_id: bool = True
    """Send ``x-fal-request-id`` (the Python client never retries a 5xx that has one)."""
    ingress: bool = False
    """An nginx HTML page without fal headers: what the Python client retries on 502-504."""
    retry_after: float | None = None
    error_type: str | None = None
    message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def response_parts(self) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers of the answer."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["retry-after"] = f"{self.retry_after:g}"
        if self.ingress:
            reason = REASONS.get(self.status, "Error")
            page = (
                f"<html>\r\n<head><title>{self.status} {reason}</title></head>\r\n<body>\r\n"
                f"<center><h1>{self.status} {reason}</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            headers["content-type"] = "text/html"
            return self.status, page.encode(), headers
        default_type, default_message = GATEWAY_ERRORS.get(
            self.status, ("http_error", f"HTTP {self.status}")
        )
        error_type = self.error_type or default_type
        body = {"detail": self.message or default_message, "error_type": error_type}
        headers.setdefault("content-type", "application/json")
        headers["x-fal-error-type"] = error_type
        if self.request_id:
            headers["x-fal-request-id"] = str(uuid.uuid4())
        return self.status, json.dumps(body).encode(), headers


@dataclass(frozen=True)
class StreamFault:
    delay: float = 0.0
    """Seconds before each chunk of the status stream (events and keep-alives alike)."""
    stall_after: int | None = None
    """After this many chunks the stream goes silent ..."""
    stall_seconds: float | None = None
    """... for this long (None: until the client gives up)."""


@dataclass(frozen=True)
class Effects:
    http_error: HttpError | None = None
    drop: bool = False
    latency: float = 0.0
    stream: StreamFault | None = None
    error: dict[str, Any] | None = None
    """A fal error at completion: ``{"type", "status"?, "message"?, "retryable"?, "loc"?}``."""
    progression: str | None = None
    hold_seconds: float = 0.0
    hold_position: int | None = None
    logs: tuple[dict[str, Any], ...] = ()
    output: dict[str, Any] | None = None

    @property
    def shapes_the_request(self) -> bool:
        return bool(
            self.error
            or self.progression
            or self.hold_seconds
            or self.hold_position is not None
            or self.logs
            or self.output
        )


@dataclass(frozen=True)
class Match:
    routes: frozenset[str]
    endpoints: frozenset[str] | None = None
    input: tuple[tuple[str, Any], ...] = ()
    """(field, compiled regex for strings | exact value) pairs."""
    headers: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @property
    def needs_record(self) -> bool:
        return self.endpoints is not None or bool(self.input)

    def matches(
        self, route: str, endpoint_id: str | None, payload: Any, headers: Mapping[str, str]
    ) -> bool:
        if route not in self.routes:
            return False
        if self.endpoints is not None and endpoint_id not in self.endpoints:
            return False
        for name, pattern in self.headers:
            value = headers.get(name)
            if value is None or not pattern.search(value):
                return False
        if self.input:
            if not isinstance(payload, dict) or endpoint_id not in ENDPOINTS:
                return False
            arguments = ENDPOINTS[endpoint_id].with_defaults(payload)
            for name, wanted in self.input:
                value = arguments.get(name)
                if isinstance(wanted, re.Pattern):
                    if not isinstance(value, str) or not wanted.search(value):
                        return False
                elif value != wanted or type(value) is not type(wanted):
                    return False
        return True


@dataclass
class Scenario:
    name: str
    match: Match
    effects: Effects
    spec: dict[str, Any]
    """As written (normalised), for ``GET /_mock/scenarios``."""
    times: int | None = None
    hits: int = 0

    @property
    def active(self) -> bool:
        return self.times is None or self.hits < self.times

    def to_json(self) -> dict[str, Any]:
        remaining = None if self.times is None else max(self.times - self.hits, 0)
        return {**self.spec, "name": self.name, "hits": self.hits, "remaining": remaining}


# -- loading and validation -------------------------------------------------------------------

SCENARIO_FILE = "scenarios.json"
"""The schema of scenario files and API bodies, beside the other schemas (``contracts/schemas``)."""
SCENARIO_SCHEMA: dict[str, Any] = load_schema(SCENARIO_FILE)["$defs"]["scenario"]
EFFECT_KEYS = (
    "http_error",
    "drop",
    "latency",
    "stream",
    "error",
    "progression",
    "slow_queue",
    "logs",
    "output",
)
REQUEST_EFFECTS = ("error", "progression", "slow_queue", "logs", "output")


class ScenarioError(ValueError):
    """Every problem found in a scenario document, each with its path."""

    def __init__(self, problems: list[tuple[DocPath, str]], source: str = "scenarios") -> None:
        self.problems = problems
        self.source = source
        lines = [f"  {render_path(path) or '(top level)'}: {msg}" for path, msg in problems]
        super().__init__(f"invalid {source}:\n" + "\n".join(lines))

    def detail(self, prefix: DocPath = ("body",)) -> list[dict[str, Any]]:
        """fal-shaped 422 entries for the control API."""
        return [
            {"loc": [*prefix, *path], "msg": msg, "type": "scenario_invalid"}
            for path, msg in self.problems
        ]


def render_path(path: DocPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _normalise(raw: Any) -> Any:
    """Accept the short forms (``error: content_policy_violation``, ``route: status``, ...)."""
    if not isinstance(raw, dict):
        return raw
    spec = dict(raw)
    if isinstance(spec.get("error"), str):
        spec["error"] = {"type": spec["error"]}
    if isinstance(spec.get("match"), dict):
        match = dict(spec["match"])
        for key in ("route", "endpoint"):
            if key in match:
                match[key] = _as_list(match[key])
        spec["match"] = match
    if isinstance(spec.get("logs"), list):
        spec["logs"] = [{"message": x} if isinstance(x, str) else x for x in spec["logs"]]
    return spec


def _schema_problems(schema: dict[str, Any], data: Any, at: DocPath) -> list[tuple[DocPath, str]]:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [(at + tuple(error.absolute_path), error.message) for error in errors]


def _compile(pattern: str, where: DocPath, problems: list[tuple[DocPath, str]]) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append((where, f"invalid regular expression {pattern!r}: {exc}"))
        return re.compile("(?!)")


def _existing_file(name: str, base_dir: Path | None) -> Path | None:
    """The resolved path of an existing file, or None (also for names no filesystem takes:
    a NUL byte, an unknown ``~user``, a name too long)."""
    try:
        path = Path(name).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path.resolve() if path.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


def parse_scenario(
    raw: Any, at: DocPath = (), *, base_dir: Path | None = None, default_name: str = "scenario"
) -> Scenario:
    """One scenario from its document form; ScenarioError lists every problem found."""
    spec = _normalise(raw)
    problems = _schema_problems(SCENARIO_SCHEMA, spec, at)
    if problems:
        raise ScenarioError(problems)
    match_spec = spec.get("match", {})
    present = [key for key in EFFECT_KEYS if key in spec and spec[key] not in (False, None)]
    if not present:
        problems.append((at, f"no effect given: name at least one of {', '.join(EFFECT_KEYS)}"))
    if spec.get("http_error") and spec.get("drop"):
        problems.append((at, "http_error and drop both end the request: choose one"))
    if spec.get("error") and spec.get("output"):
        problems.append((at, "error and output exclude each other: choose one"))
    default_routes = ["stream"] if "stream" in spec else sorted(CREATING_ROUTES)
    routes = match_spec.get("route", default_routes)
    route_set = frozenset(FAL_ROUTES if "*" in routes else routes)
    for key in REQUEST_EFFECTS:
        if key in spec and not route_set <= CREATING_ROUTES:
            others = ", ".join(sorted(route_set - CREATING_ROUTES))
            problems.append(
                (
                    at + (key,),
                    f"shapes a new request, so match.route must be submit/run, not {others}",
                )
            )
    if "stream" in spec and route_set != {"stream"}:
        problems.append((at + ("stream",), "applies to status streams: match.route must be stream"))
    input_rules: list[tuple[str, Any]] = []
    for name, wanted in match_spec.get("input", {}).items():
        if isinstance(wanted, str):
            wanted = _compile(wanted, at + ("match", "input", name), problems)
        input_rules.append((name, wanted))
    header_rules = [
        (name.lower(), _compile(pattern, at + ("match", "headers", name), problems))
        for name, pattern in match_spec.get("headers", {}).items()
    ]
    output = spec.get("output")
    if output is not None:
        video = _existing_file(output["video"], base_dir)
        if video is None:
            problems.append((at + ("output", "video"), f"no such file: {output['video']!r}"))
        else:
            output = {**output, "video": str(video)}
    if problems:
        raise ScenarioError(problems)
    http = spec.get("http_error")
    stream = spec.get("stream")
    slow = spec.get("slow_queue", {})
    effects = Effects(
        http_error=None
        if http is None
        else HttpError(
            status=http["status"],
            request_id=http.get("request_id", not http.get("ingress", False)),
            ingress=http.get("ingress", False),
            retry_after=http.get("retry_after", 1 if http["status"] == 429 else None),
            error_type=http.get("error_type"),
            message=http.get("message"),
            headers=tuple((k.lower(), v) for k, v in http.get("headers", {}).items()),
        ),
        drop=bool(spec.get("drop")),
        latency=float(spec.get("latency", 0.0)),
        stream=None if stream is None else StreamFault(**stream),
        error=spec.get("error"),
        progression=spec.get("progression"),
        hold_seconds=float(slow.get("seconds", 0.0)),
        hold_position=slow.get("position"),
        logs=tuple({"message": x["message"], "at": x.get("at", 0.5)} for x in spec.get("logs", ())),
        output=output,
    )
    match = Match(
        routes=route_set,
        endpoints=frozenset(match_spec["endpoint"]) if "endpoint" in match_spec else None,
        input=tuple(input_rules),
        headers=tuple(header_rules),
    )
    name = spec.get("name") or default_name
    if output is not None:
        spec = {**spec, "output": output}
    return Scenario(name, match, effects, spec, times=spec.get("times"))


# -- random faults ----------------------------------------------------------------------------

RANDOM_FAULTS: dict[str, dict[str, Any]] = {
    "submit_429": {"match": {"route": ["submit", "run"]}, "http_error": {"status": 429}},
    "submit_503_ingress": {
        "match": {"route": ["submit", "run"]},
        "http_error": {"status": 503, "ingress": True},
    },
    "submit_500": {"match": {"route": ["submit"]}, "http_error": {"status": 500}},
    "poll_502_ingress": {
        "match": {"route": ["status", "result"]},
        "http_error": {"status": 502, "ingress": True},
    },
    "drop": {"match": {"route": ["submit", "status", "result"]}, "drop": True},
    "latency": {"match": {"route": ["*"]}, "latency": 0.2},
    "internal_server_error": {"error": "internal_server_error"},
    "content_policy_violation": {"error": "content_policy_violation"},
    "generation_timeout": {"error": "generation_timeout"},
}
"""Kinds a chaos run draws from; each fires with its own rate, checked in this order."""
RANDOM_SCENARIOS = {
    kind: parse_scenario(spec, default_name=f"random:{kind}")
    for kind, spec in RANDOM_FAULTS.items()
}


@dataclass(frozen=True)
class RandomFaults:
    seed: int
    rates: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "rates": dict(self.rates)}


def random_faults(
    seed: int | None, rate: float | None, rates: Mapping[str, float] | None
) -> RandomFaults | None:
    table = {kind: rate for kind in RANDOM_FAULTS} if rate else {}
    table.update(rates or {})
    table = {kind: r for kind, r in table.items() if r > 0}
    if not table:
        return None
    chosen_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    return RandomFaults(chosen_seed, tuple((k, table[k]) for k in RANDOM_FAULTS if k in table))


# -- documents (files and API bodies) ---------------------------------------------------------

DOCUMENT_SCHEMA: dict[str, Any] = {
    **{k: v for k, v in load_schema(SCENARIO_FILE).items() if k != "$defs"},
    "properties": {
        **load_schema(SCENARIO_FILE)["properties"],
        "scenarios": {"type": "array"},  # each one is checked alone, so problems carry its index
    },
}


@dataclass(frozen=True)
class FaultDocument:
    scenarios: tuple[Scenario, ...] = ()
    seed: int | None = None
    fault_rate: float | None = None
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    progression: str | None = None


def parse_document(
    data: Any, *, base_dir: Path | None = None, source: str = "scenarios"
) -> FaultDocument:
    """A whole document: ``{scenarios: [...], seed, fault_rate, fault_rates, progression}``,
    or a bare list of scenarios."""
    if isinstance(data, list):
        data = {"scenarios": data}
    if data is None:
        data = {}
    problems = _schema_problems(DOCUMENT_SCHEMA, data, ())
    scenarios: list[Scenario] = []
    if not problems:
        names: dict[str, int] = {}
        for index, raw in enumerate(data.get("scenarios", [])):
            at: DocPath = ("scenarios", index)
            try:
                scenario = parse_scenario(
                    raw, at, base_dir=base_dir, default_name=f"scenario-{index + 1}"
                )
            except ScenarioError as exc:
                problems.extend(exc.problems)
                continue
            if scenario.name in names:
                problems.append(
                    (
                        at + ("name",),
                        f"duplicate name {scenario.name!r} (also scenarios"
                        f"[{names[scenario.name]}])",
                    )
                )
            names[scenario.name] = index
            scenarios.append(scenario)
    if problems:
        raise ScenarioError(problems, source)
    return FaultDocument(
        scenarios=tuple(scenarios),
        seed=data.get("seed"),
        fault_rate=data.get("fault_rate"),
        fault_rates=dict(data.get("fault_rates", {})),
        progression=data.get("progression"),
    )


def load_file(path: Path) -> FaultDocument:
    """Read a scenario file (``.json``, else YAML); ScenarioError says what is wrong, where."""
    source = f"scenario file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([((), f"cannot read it: {exc.strerror or exc}")], source) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(
            [((), f"not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}")], source
        ) from exc
    return parse_document(data, base_dir=path.parent.resolve(), source=source)


# -- deciding ---------------------------------------------------------------------------------


@dataclass
class Decision:
    """What happens to one request: the merged effects of every scenario that fired."""

    fired: list[str] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)

    def plan(self, payload: Any) -> RequestPlan | None:
        e = self.effects
        if not e.shapes_the_request:
            return None
        error = None
        if e.error:
            spec = e.error
            error = fal_error(
                spec["type"],
                status=spec.get("status"),
                message=spec.get("message"),
                retryable=spec.get("retryable"),
                loc=spec.get("loc"),
                payload=payload,
            )
        return RequestPlan(
            scenario=", ".join(self.fired) or None,
            progression=e.progression,
            hold_seconds=e.hold_seconds,
            hold_position=e.hold_position,
            error=error,
            output=e.output,
            logs=e.logs,
        )


def _merge(base: Effects, extra: Effects) -> Effects:
    """First scenario wins per effect; latencies add up."""
    changes: dict[str, Any] = {"latency": base.latency + extra.latency}
    for name in ("http_error", "stream", "error", "progression", "hold_position", "output"):
        if getattr(base, name) is None and getattr(extra, name) is not None:
            changes[name] = getattr(extra, name)
    changes["drop"] = base.drop or extra.drop
    changes["hold_seconds"] = base.hold_seconds or extra.hold_seconds
    changes["logs"] = base.logs + extra.logs
    return replace(base, **changes)


class FaultEngine:
    """The scenarios in force, the random faults, and the one place that decides."""

    def __init__(
        self,
        document: FaultDocument | None = None,
        *,
        seed: int | None = None,
        fault_rate: float | None = None,
    ) -> None:
        self._initial = document or FaultDocument()
        self._seed = seed
        self._rate = fault_rate
        self.reset()

    def reset(self) -> None:
        """Back to the start: the file's scenarios with fresh counts, reseeded random faults."""
        doc = self._initial
        self.scenarios: list[Scenario] = [replace(s, hits=0) for s in doc.scenarios]
        self.configure_random(
            self._seed if self._seed is not None else doc.seed,
            self._rate if self._rate is not None else doc.fault_rate,
            doc.fault_rates,
        )

    def configure_random(
        self, seed: int | None, rate: float | None, rates: Mapping[str, float] | None
    ) -> None:
        self.random = random_faults(seed, rate, rates)
        self._rngs: dict[str, random.Random] = {}

    def add(self, scenarios: Iterable[Scenario]) -> list[str]:
        """Add scenarios; one with the name of an existing one replaces it (counts reset)."""
        names = []
        for scenario in scenarios:
            index = next((i for i, s in enumerate(self.scenarios) if s.name == scenario.name), None)
            if index is None:
                self.scenarios.append(scenario)
            else:
                self.scenarios[index] = scenario
            names.append(scenario.name)
        return names

    def remove(self, name: str) -> bool:
        before = len(self.scenarios)
        self.scenarios = [s for s in self.scenarios if s.name != name]
        return len(self.scenarios) != before

    def clear(self) -> None:
        self.scenarios = []
        self.random = None

    def unique_name(self, stem: str = "scenario") -> str:
        taken = {s.name for s in self.scenarios}
        return next(f"{stem}-{n}" for n in range(1, len(taken) + 2) if f"{stem}-{n}" not in taken)

    def needs_input(self, call: FalCall) -> bool:
        """Whether deciding on this request needs its body (input conditions on submit/run)."""
        return call.route in CREATING_ROUTES and any(
            s.active and s.match.input and call.route in s.match.routes for s in self.scenarios
        )

    def decide(
        self,
        call: FalCall,
        headers: Mapping[str, str],
        payload: Any = None,
        lookup: Callable[[str], RequestRecord | None] | None = None,
    ) -> Decision | None:
        if call.route not in FAL_ROUTES:
            return None
        decision = Decision()
        endpoint_id, record_loaded = call.endpoint_id, call.route in CREATING_ROUTES
        for scenario in self.scenarios:
            if not scenario.active or call.route not in scenario.match.routes:
                continue
            if scenario.match.needs_record and not record_loaded:
                record = lookup(call.request_id) if lookup and call.request_id else None
                endpoint_id = record.endpoint_id if record else None
                payload = record.input if record else None
                record_loaded = True
            if scenario.match.matches(call.route, endpoint_id, payload, headers):
                scenario.hits += 1
                decision.fired.append(scenario.name)
                decision.effects = _merge(decision.effects, scenario.effects)
        self._roll(call.route, decision)
        return decision if decision.fired else None

    def _roll(self, route: str, decision: Decision) -> None:
        """Random faults: a fixed number of draws per request from the route's own generator;
        they add to what scenarios decided (a scenario's effect wins where both set one)."""
        if self.random is None:
            return
        rng = self._rngs.get(route)
        if rng is None:
            rng = self._rngs[route] = random.Random(f"{self.random.seed}:{route}")
        struck = False
        for kind, rate in self.random.rates:
            scenario = RANDOM_SCENARIOS[kind]
            if route not in scenario.match.routes:
                continue
            if rng.random() < rate and not struck:  # at most one kind per request
                struck = True
                decision.fired.append(scenario.name)
                decision.effects = _merge(decision.effects, scenario.effects)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenarios": [s.to_json() for s in self.scenarios],
            "random": None if self.random is None else self.random.to_json(),
        }
