"""Reading scenarios: YAML/JSON files at start and ``/_mock/scenarios`` bodies.

The schema is data (``contracts/schemas/scenarios.json``); the rules it cannot state (at least
one effect, effects that exclude each other, request effects only on routes that create a
request, an output file that exists) are checked here. Every problem is reported at once,
with its path in the document.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from contracts.schemas import load_schema
from mockserver.chaos.model import (
    CREATING_ROUTES,
    Effects,
    FaultDocument,
    HttpError,
    Match,
    Scenario,
    StreamFault,
)
from mockserver.fal.catalogue import DocPath
from mockserver.fal.endpoints import ENDPOINTS
from mockserver.fal.operations import FAL_ROUTES

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
RENAMED_FAULTS = {
    "submit_429": "run_429 (fal never refuses a queue submit for concurrency: queued requests"
    " wait; a sync run over the limit gets the 429)",
}
"""Random fault kinds that were renamed: old name -> what to write instead, and why."""


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
    from jsonschema import Draft202012Validator  # on first use: most servers load no scenario

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


Problems = list[tuple[DocPath, str]]


def parse_scenario(
    raw: Any, at: DocPath = (), *, base_dir: Path | None = None, default_name: str = "scenario"
) -> Scenario:
    """One scenario from its document form; ScenarioError lists every problem found."""
    spec = _normalise(raw)
    problems = _schema_problems(SCENARIO_SCHEMA, spec, at)
    if problems:
        raise ScenarioError(problems)
    routes = _routes(spec)
    problems += _effect_rules(spec, routes, at)
    match = _match(spec.get("match", {}), routes, at, problems)
    output = _output(spec.get("output"), base_dir, at, problems)
    if problems:
        raise ScenarioError(problems)
    if output is not None:
        spec = {**spec, "output": output}
    name = spec.get("name") or default_name
    return Scenario(
        name, match, _effects(spec), spec, times=spec.get("times"), after=spec.get("after", 0)
    )


def _routes(spec: dict[str, Any]) -> frozenset[str]:
    """The routes a scenario matches: given, or the creating routes (status streams for a
    stream effect)."""
    default = ["stream"] if "stream" in spec else sorted(CREATING_ROUTES)
    routes = spec.get("match", {}).get("route", default)
    return frozenset(FAL_ROUTES if "*" in routes else routes)


def _effect_rules(spec: dict[str, Any], routes: frozenset[str], at: DocPath) -> Problems:
    """What the schema cannot say: at least one effect, exclusive effects, the right routes."""
    problems: Problems = []
    if not any(key in spec and spec[key] not in (False, None) for key in EFFECT_KEYS):
        problems.append((at, f"no effect given: name at least one of {', '.join(EFFECT_KEYS)}"))
    if spec.get("http_error") and spec.get("drop"):
        problems.append((at, "http_error and drop both end the request: choose one"))
    if spec.get("error") and spec.get("output"):
        problems.append((at, "error and output exclude each other: choose one"))
    for key in REQUEST_EFFECTS:
        if key in spec and not routes <= CREATING_ROUTES:
            others = ", ".join(sorted(routes - CREATING_ROUTES))
            why = f"shapes a new request, so match.route must be submit/run, not {others}"
            problems.append((at + (key,), why))
    if "stream" in spec and routes != {"stream"}:
        problems.append((at + ("stream",), "applies to status streams: match.route must be stream"))
    return problems


def _match(
    match_spec: dict[str, Any], routes: frozenset[str], at: DocPath, problems: Problems
) -> Match:
    input_rules: list[tuple[str, Any]] = []
    for name, wanted in match_spec.get("input", {}).items():
        if isinstance(wanted, str):
            wanted = _compile(wanted, at + ("match", "input", name), problems)
        input_rules.append((name, wanted))
    header_rules = [
        (name.lower(), _compile(pattern, at + ("match", "headers", name), problems))
        for name, pattern in match_spec.get("headers", {}).items()
    ]
    for index, endpoint_id in enumerate(match_spec.get("endpoint", [])):
        if endpoint_id not in ENDPOINTS:  # the table's rows, then fal's catalogue
            why = f"no endpoint {endpoint_id!r} in the emulator's table or fal's catalogue"
            problems.append((at + ("match", "endpoint", index), why))
    return Match(
        routes=routes,
        endpoints=frozenset(match_spec["endpoint"]) if "endpoint" in match_spec else None,
        input=tuple(input_rules),
        headers=tuple(header_rules),
    )


def _output(
    output: dict[str, Any] | None, base_dir: Path | None, at: DocPath, problems: Problems
) -> dict[str, Any] | None:
    """The given output file, resolved (relative paths from the scenario file's folder)."""
    if output is None:
        return None
    video = _existing_file(output["video"], base_dir)
    if video is None:
        problems.append((at + ("output", "video"), f"no such file: {output['video']!r}"))
        return output
    return {**output, "video": str(video)}


def _http_error(http: dict[str, Any] | None) -> HttpError | None:
    if http is None:
        return None
    ingress = http.get("ingress", False)
    return HttpError(
        status=http["status"],
        request_id=http.get("request_id", False if ingress else None),
        ingress=ingress,
        retry_after=http.get("retry_after"),
        error_type=http.get("error_type"),
        bare="error_type" in http and http["error_type"] is None,
        message=http.get("message"),
        headers=tuple((k.lower(), v) for k, v in http.get("headers", {}).items()),
    )


def _effects(spec: dict[str, Any]) -> Effects:
    stream = spec.get("stream")
    slow = spec.get("slow_queue", {})
    return Effects(
        http_error=_http_error(spec.get("http_error")),
        drop=bool(spec.get("drop")),
        latency=float(spec.get("latency", 0.0)),
        stream=None if stream is None else StreamFault(**stream),
        error=spec.get("error"),
        progression=spec.get("progression"),
        hold_seconds=float(slow.get("seconds", 0.0)),
        hold_position=slow.get("position"),
        logs=tuple({"message": x["message"], "at": x.get("at", 0.5)} for x in spec.get("logs", ())),
        output=spec.get("output"),
    )


DOCUMENT_SCHEMA: dict[str, Any] = {
    **{k: v for k, v in load_schema(SCENARIO_FILE).items() if k != "$defs"},
    "properties": {
        **load_schema(SCENARIO_FILE)["properties"],
        "scenarios": {"type": "array"},  # each one is checked alone, so problems carry its index
    },
}


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
    rates = data.get("fault_rates") if isinstance(data, dict) else None
    if isinstance(rates, dict):
        problems += [
            (("fault_rates", old), f"renamed: write {new}")
            for old, new in RENAMED_FAULTS.items()
            if old in rates
        ]
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
    import yaml  # PyYAML, on first use: scenario files are meant to be written by hand

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
