"""``SharedFaultEngine``: one scenario set for every replica, with counts kept in Redis.

The definitions (each scenario as written, with its name and an id of its own, the random
faults' seed and rates, a document's default progression) are one JSON document under a version
key. Every fal request first asks whether the version moved (one script, one round trip) and
reads the document again only when it did, so a scenario added, replaced or removed through
any replica is in force for every replica's next request: no event has to arrive first.

The counts (``after`` passes, ``times`` hits) live in one hash, field ``<id>:p`` and ``<id>:h``,
and a matching call takes its count in one Lua script: "the next two submits fail" fails
exactly two, however the submits spread over replicas and however they race. A replaced
scenario gets a new id, so its counts start afresh, as they do in one process.

Random faults (``--fault-rate``, seeded) share their configuration, but each replica draws
from its own generators: the same seed gives each replica the same sequence of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mockserver.chaos.engine import FaultEngine, random_faults
from mockserver.chaos.model import FaultDocument, RandomFaults, Scenario
from mockserver.chaos.parse import ScenarioError, parse_scenario

if TYPE_CHECKING:
    import redis

    from mockserver.shared.connection import SharedRedis

log = logging.getLogger(__name__)

SYNC = """
local version = redis.call('GET', KEYS[1])
local counts = {}
if ARGV[2] == '1' then counts = redis.call('HGETALL', KEYS[3]) end
if version and version == ARGV[1] then return {version, false, counts} end
return {version or '', redis.call('GET', KEYS[2]) or '', counts}
"""
"""KEYS: version, document, counts. ARGV: the version this replica holds, '1' for the counts.
Returns the version ('' when no replica installed one yet), the document when it moved
(else false), and the counts when asked."""

FIRE = """
local hits = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':h') or '0')
local passed = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':p') or '0')
local after, times, extra = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if times >= 0 and hits >= times then return {-1, hits, passed} end
if passed < after then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':p', 1)
  return {-1, hits, passed + 1}
end
local taken = 0
if times >= 0 then taken = math.min(times - hits - 1, extra) end
redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':h', 1 + taken)
return {taken, hits + 1 + taken, passed}
"""
"""KEYS: counts. ARGV: the scenario's id, after, times (-1: no limit), extra calls wanted.
Returns the extra calls taken (-1: it did not fire), then the hits and passes now."""

UNLIMITED = -1


class SharedFaultEngine(FaultEngine):
    local = False

    def __init__(
        self,
        shared: SharedRedis,
        document: FaultDocument | None = None,
        *,
        seed: int | None = None,
        fault_rate: float | None = None,
    ) -> None:
        self._shared = shared
        keys = shared.keys
        self._version_key = keys.of("scenarios", "version")
        self._document_key = keys.of("scenarios", "document")
        self._counts_key = keys.of("scenarios", "counts")
        self._version = ""
        self._ids: dict[str, str] = {}
        """Scenario name -> its id (where its counts are)."""
        self._scripts: tuple[Any, Any] | None = None
        self._async_sync: Any = None
        self.on_progression: Callable[[str | None], None] | None = None
        """Called when the shared default progression changes (None: back to the start's)."""
        self._progression: str | None = None
        self._draws = ""
        """The version whose random faults this replica draws from (new generators when the
        shared one moves on: a reset, a new seed or rate)."""
        self._sharing = False
        super().__init__(document, seed=seed, fault_rate=fault_rate)
        self._sharing = True

    @property
    def _redis(self) -> redis.Redis:
        return self._shared.sync

    def _script(self, index: int) -> Any:
        if self._scripts is None:
            self._scripts = (
                self._redis.register_script(SYNC),
                self._redis.register_script(FIRE),
            )
        return self._scripts[index]

    # -- reading what the replicas share ------------------------------------------------------

    async def refresh_without_blocking(self) -> None:
        """The per-request check on the asyncio client (the same script): the definitions
        are taken only when their version moved, which is rare."""
        if self._async_sync is None:
            self._async_sync = self._shared.aio.register_script(SYNC)
        version, document, _ = await self._async_sync(
            keys=[self._version_key, self._document_key, self._counts_key],
            args=[self._version, "0"],
        )
        if version and not document:
            return  # unchanged: the common case
        self.refresh()  # new definitions (or none yet): the blocking path handles every case

    def refresh(self, counts: bool = False) -> None:
        """Take the shared definitions if their version moved (and every count, if asked)."""
        version, document, found = self._script(0)(
            keys=[self._version_key, self._document_key, self._counts_key],
            args=[self._version, "1" if counts else "0"],
        )
        if not version:  # the first replica to ask installs its own start
            self._change(lambda doc: None)
            if counts:
                self.refresh(counts=True)
            return
        if document:
            self._load(version.decode(), json.loads(document))
        if counts:
            table = {found[i].decode(): int(found[i + 1]) for i in range(0, len(found), 2)}
            for scenario in self.scenarios:
                sid = self._ids.get(scenario.name, "")
                scenario.hits = table.get(f"{sid}:h", 0)
                scenario.passed = table.get(f"{sid}:p", 0)

    def _load(self, version: str, doc: dict[str, Any]) -> None:
        scenarios, ids = [], {}
        for row in doc["scenarios"]:
            try:
                scenario = parse_scenario(row["spec"], default_name=row["name"])
            except ScenarioError as exc:  # e.g. an output file that only another host has
                log.warning("scenario %r not in force on this replica: %s", row["name"], exc)
                continue
            scenario.name = row["name"]
            scenarios.append(scenario)
            ids[scenario.name] = row["id"]
        self.scenarios, self._ids, self._version = scenarios, ids, version
        if doc["draws"] != self._draws:  # configured or reset: every replica draws afresh
            chosen, self._draws = doc["random"], doc["draws"]
            self._set_random(
                None
                if chosen is None
                else RandomFaults(int(chosen["seed"]), tuple(chosen["rates"].items()))
            )
        if doc["progression"] != self._progression:
            self._progression = doc["progression"]
            if self.on_progression is not None:
                self.on_progression(self._progression)

    def _set_random(self, random_faults: RandomFaults | None) -> None:
        self.random = random_faults
        self._rngs = {}

    # -- changing them (a transaction on the version: two replicas at once both count) ---------

    def _initial_document(self) -> dict[str, Any]:
        start = FaultEngine(self._initial, seed=self._seed, fault_rate=self._rate)
        return {
            "scenarios": [{"name": s.name, "spec": s.spec, "id": ""} for s in start.scenarios],
            "random": None if start.random is None else start.random.to_json(),
            "progression": None,
            "draws": "",
        }

    def _change(self, edit: Callable[[dict[str, Any]], Any], *, afresh: bool = False) -> Any:
        """Apply ``edit`` to the shared document (the start's when ``afresh`` or none yet) and
        store it under the next version; scenarios without an id get one (fresh counts)."""
        outcome: list[Any] = []

        def attempt(pipe: redis.client.Pipeline) -> None:
            outcome.clear()
            stored = pipe.get(self._document_key)
            version = int(pipe.get(self._version_key) or 0) + 1
            doc = self._initial_document() if afresh or not stored else json.loads(stored)
            before = {row["id"] for row in doc["scenarios"]}
            outcome.append(edit(doc))
            if afresh or doc["draws"] == "":
                doc["draws"] = str(version)
            for index, row in enumerate(doc["scenarios"]):
                row["id"] = row["id"] or f"{version}.{index}"
            gone = before - {row["id"] for row in doc["scenarios"]} - {""}
            pipe.multi()
            pipe.set(self._document_key, json.dumps(doc))
            pipe.set(self._version_key, version)
            if afresh:
                pipe.delete(self._counts_key)
            elif gone:
                pipe.hdel(self._counts_key, *(f"{i}:{c}" for i in gone for c in "hp"))
            outcome.append((str(version), doc))

        self._redis.transaction(attempt, self._version_key, self._document_key)
        result, (version, doc) = outcome
        self._load(version, doc)
        return result

    def reset(self) -> None:
        """Every replica back to the start: this replica's file, fresh counts."""
        self._change(lambda doc: None, afresh=True)

    def configure_random(
        self, seed: int | None, rate: float | None, rates: Mapping[str, float] | None
    ) -> None:
        if not self._sharing:  # the base constructor: the start, until the shared one is read
            super().configure_random(seed, rate, rates)
            return
        chosen = random_faults(seed, rate, rates)  # an unseeded run draws its seed once, here

        def edit(doc: dict[str, Any]) -> None:
            doc["random"] = None if chosen is None else chosen.to_json()
            doc["draws"] = ""  # the generators start afresh

        self._change(edit)

    def add(self, scenarios: Iterable[Scenario]) -> list[str]:
        """Add or replace (by name) scenarios; one added without a name gets a free one."""
        given = list(scenarios)

        def edit(doc: dict[str, Any]) -> list[str]:
            rows = doc["scenarios"]
            names = []
            for scenario in given:
                name = scenario.name
                if "name" not in scenario.spec:
                    taken = {row["name"] for row in rows}
                    name = next(
                        f"scenario-{n}"
                        for n in range(1, len(taken) + 2)
                        if f"scenario-{n}" not in taken
                    )
                row = {"name": name, "spec": scenario.spec, "id": ""}
                index = next((i for i, r in enumerate(rows) if r["name"] == name), None)
                if index is None:
                    rows.append(row)
                else:
                    rows[index] = row
                names.append(name)
            return names

        names: list[str] = self._change(edit)
        return names

    def remove(self, name: str) -> bool:
        def edit(doc: dict[str, Any]) -> bool:
            before = len(doc["scenarios"])
            doc["scenarios"] = [row for row in doc["scenarios"] if row["name"] != name]
            return len(doc["scenarios"]) != before

        removed: bool = self._change(edit)
        return removed

    def clear(self) -> int:
        def edit(doc: dict[str, Any]) -> int:
            count = len(doc["scenarios"])
            doc["scenarios"], doc["random"], doc["draws"] = [], None, ""
            return count

        cleared: int = self._change(edit)
        return cleared

    def share_progression(self, progression: str) -> None:
        def edit(doc: dict[str, Any]) -> None:
            doc["progression"] = progression

        self._change(edit)

    def unique_name(self, stem: str = "scenario") -> str:
        self.refresh()
        return super().unique_name(stem)

    def to_json(self) -> dict[str, Any]:
        self.refresh(counts=True)
        return super().to_json()

    # -- counting, atomically across replicas -------------------------------------------------

    def fire(self, scenario: Scenario, extra: int) -> int | None:
        taken, hits, passed = self._script(1)(
            keys=[self._counts_key],
            args=[
                self._ids.get(scenario.name, ""),
                scenario.after,
                UNLIMITED if scenario.times is None else scenario.times,
                extra,
            ],
        )
        scenario.hits, scenario.passed = int(hits), int(passed)
        return None if int(taken) < 0 else int(taken)
