"""The fault engine: the scenarios in force and a chaos run's random faults, deciding for each
request which fire and what they do (``Decision``). Same seed, same requests: same faults.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from mockserver.chaos.model import CREATING_ROUTES, Effects, FaultDocument, RandomFaults, Scenario
from mockserver.chaos.parse import parse_scenario
from mockserver.fal.catalogue import fal_error
from mockserver.fal.operations import FAL_ROUTES, FalCall
from mockserver.records import RequestPlan, RequestRecord
from mockserver.retries import MAX_ATTEMPTS, retried, retries_wanted

RANDOM_FAULTS: dict[str, dict[str, Any]] = {
    # fal refuses a sync run over the concurrency limit; queued requests wait, never refused
    "run_429": {"match": {"route": ["run"]}, "http_error": {"status": 429}},
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


@cache
def random_scenario(kind: str) -> Scenario:
    """A random fault kind as a scenario, parsed on first draw (most servers never draw one)."""
    return parse_scenario(RANDOM_FAULTS[kind], default_name=f"random:{kind}")


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


@dataclass
class Decision:
    """What happens to one request: the merged effects of every scenario that fired."""

    fired: list[str] = field(default_factory=list)
    effects: Effects = field(default_factory=Effects)
    error_attempts: int | None = None
    """Attempts of the new request its error fails (None: every one, see ``_attempts``)."""

    def plan(self, payload: Any) -> RequestPlan | None:
        e = self.effects
        if not e.shapes_the_request:
            return None
        return RequestPlan(
            scenario=", ".join(self.fired) or None,
            progression=e.progression,
            hold_seconds=e.hold_seconds,
            hold_position=e.hold_position,
            error=None if e.error is None else scenario_error(e.error, payload),
            output=e.output,
            logs=e.logs,
            error_attempts=self.error_attempts,
        )


def scenario_error(spec: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The error record a scenario's ``error`` effect gives the request."""
    error = fal_error(
        spec["type"],
        status=spec.get("status"),
        message=spec.get("message"),
        retryable=spec.get("retryable"),
        loc=spec.get("loc"),
        payload=payload,
    )
    if "body" in spec:  # the app answered text, not fal's JSON
        error = {**error, "body": spec["body"]}
    return error


def _extra_wanted(scenario: Scenario, route: str, headers: Mapping[str, str]) -> int | None:
    """How many more of the scenario's calls its error may use up on this one request.

    An error fal retries (``retries.py``: a runner's 503/504 on a queue submit without
    ``X-Fal-No-Retry``) is one failed attempt, and each retry is another matching call: the
    request uses up to ``times`` of the scenario's calls at once (None: no limit, so every
    attempt fails and the last one's error is final). Any other error fails the one attempt
    there is (0)."""
    assert scenario.effects.error is not None
    error = scenario_error(scenario.effects.error, None)
    if route != "submit" or not retries_wanted(headers) or not retried(error):
        return 0
    return None if scenario.times is None else MAX_ATTEMPTS - 1


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

    local = True
    """This process's own scenarios and counts; False where replicas share them
    (``shared/scenarios.py``: the middleware then refreshes the engine per fal request)."""

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
        self.start_over()

    def reset(self) -> None:
        """Back to the start: the file's scenarios with fresh counts, reseeded random faults."""
        self.start_over()

    def start_over(self) -> None:
        """The file's scenarios with fresh counts and reseeded random faults, in this engine."""
        doc = self._initial
        self.scenarios: list[Scenario] = [replace(s, hits=0, passed=0) for s in doc.scenarios]
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

    def clear(self) -> int:
        """No scenario, no random fault; returns how many scenarios there were."""
        count = len(self.scenarios)
        self.scenarios = []
        self.random = None
        return count

    def share_progression(self, progression: str) -> None:
        """A document set the default progression: replicas sharing scenarios tell the others;
        one process has nothing more to do."""

    def refresh(self) -> None:
        """Take what other replicas changed (``local`` engines have nothing to take)."""

    async def refresh_without_blocking(self) -> None:
        """``refresh`` for the per-request path: a shared engine asks without blocking the
        event loop, so concurrent requests wait for Redis together, not in turn."""
        self.refresh()

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
                counts_attempts = (
                    scenario.effects.error is not None and decision.effects.error is None
                )
                wanted = _extra_wanted(scenario, call.route, headers) if counts_attempts else 0
                extra = self.fire(scenario, wanted or 0)
                if extra is None:
                    continue
                decision.fired.append(scenario.name)
                if counts_attempts:
                    decision.error_attempts = None if wanted is None else 1 + extra
                decision.effects = _merge(decision.effects, scenario.effects)
        self._roll(call.route, decision)
        return decision if decision.fired else None

    def fire(self, scenario: Scenario, extra: int) -> int | None:
        """Count one matching call: None while the first ``after`` pass, else how many more of
        the scenario's ``times`` (up to ``extra``) the request's retries use up with it."""
        if not scenario.fires():
            return None
        taken = 0 if scenario.times is None else min(scenario.times - scenario.hits, extra)
        scenario.hits += taken
        return taken

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
            scenario = random_scenario(kind)
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
