"""Replicas on one Redis observe as one emulator: one journal, summed metrics, shared scenarios.

Two in-process emulators (two ``serve`` processes in the last test), each with its own state
directory, share a real ``redis-server`` of the test's own (every replica uses the default key
prefix). The rule each test holds them to: what one replica did, the others show, as one
process would have shown it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.redis.replicas import control, running_replicas
from tests.redis_server import RedisServer
from tests.support import TEST_KEY, make_config, route_fal_client, wait_until

T2V = "fal-ai/luma-dream-machine/ray-2"
APP = "fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
PROMPT = {"prompt": "a fox in the snow"}
FAIL_TWO_SUBMITS = {
    "name": "two-submits",
    "match": {"route": "submit"},
    "times": 2,
    "http_error": {"status": 500},
}


@dataclass
class Replica:
    emulator: BackgroundEmulator
    http: httpx.Client

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.http.get("/_mock/journal", params=filters)
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    def submit(self) -> httpx.Response:
        return self.http.post(f"/{T2V}", json=PROMPT)


@contextlib.contextmanager
def replicas(
    tmp_path: Path, redis: RedisServer | None = None, **overrides: Any
) -> Iterator[tuple[Replica, Replica]]:
    """Replicas A and B on one Redis of their own, each with its own state directory."""
    redis = redis or RedisServer(tmp_path / "redis").start()
    try:
        with contextlib.ExitStack() as stack:
            pair = []
            for name in "ab":
                config = make_config(tmp_path / name, store=redis.url, **overrides)
                emulator = stack.enter_context(BackgroundEmulator(config))
                http = stack.enter_context(
                    httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30)
                )
                pair.append(Replica(emulator, http))
            yield pair[0], pair[1]
    finally:
        redis.stop()


def submit_statuses(replica: Replica) -> list[int]:
    return [entry["status"] for entry in replica.journal(route="submit")]


# -- the journal ------------------------------------------------------------------------------


def test_a_journal_entry_made_through_one_replica_is_read_through_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with replicas(tmp_path) as (a, b):
        route_fal_client(monkeypatch, a.emulator.url)
        handle = fal_client.SyncClient(key=TEST_KEY).submit(
            T2V, arguments=PROMPT, webhook_url="ftp://127.0.0.1/hook"
        )
        assert "video" in handle.get()
        made = a.journal()
        assert made and all(entry["request_id"] == handle.request_id for entry in made)
        # B reads what A journaled, byte for byte (the write is off A's request path)
        wait_until(lambda: len(b.journal()) == len(made), what="A's entries on B")
        assert b.http.get("/_mock/journal").content == a.http.get("/_mock/journal").content

        # a poll of A's request through B: B never saw the submit, yet the entry names the
        # endpoint the client submitted to and carries the request's notes, as one process's
        status = b.http.get(f"/{APP}/requests/{handle.request_id}/status")
        assert status.status_code == 200, status.text
        last = made[-1]["id"]
        [poll] = wait_until(lambda: a.journal(since=last), what="B's poll on A")
        assert poll["id"] > last and poll["route"] == "status"
        assert poll["endpoint_id"] == T2V
        assert poll["emulator_notes"] == made[0]["emulator_notes"] != []
        assert any("not an http(s) URL" in note for note in poll["emulator_notes"])
        assert [e["id"] for e in a.journal(endpoint=T2V)] == [*(e["id"] for e in made), poll["id"]]
        assert b.journal(since=poll["id"]) == []


def test_entries_made_at_once_on_both_replicas_get_one_increasing_id_each(tmp_path: Path) -> None:
    with replicas(tmp_path) as (a, b):
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: (a, b)[i % 2].submit().status_code, range(24)))
        assert codes == [200] * 24
        wait_until(lambda: len(a.journal()) == 24, what="24 entries")
        ids = [entry["id"] for entry in b.journal()]
        assert ids == list(range(1, 25))
        assert [e["id"] for e in a.journal(since=20)] == [21, 22, 23, 24]
        assert [e["id"] for e in b.journal(limit=2)] == [23, 24]


def test_deleting_the_journal_through_one_replica_empties_every_replicas(tmp_path: Path) -> None:
    with replicas(tmp_path) as (a, b):
        assert a.submit().status_code == 200 and b.submit().status_code == 200
        wait_until(lambda: len(b.journal()) == 2, what="both entries")
        assert b.http.delete("/_mock/journal").json() == {"cleared": 2}
        assert a.journal() == [] and b.journal() == []
        assert a.submit().status_code == 200
        [entry] = b.journal() or wait_until(b.journal, what="the new entry")
        assert entry["id"] == 3, "ids go on after a clear, as in one process"


# -- the metrics ------------------------------------------------------------------------------


def requests_by_route(snapshot: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(row["route"], row["status"]): row["count"] for row in snapshot["requests"]}


def test_metrics_of_both_replicas_are_summed_on_either(tmp_path: Path) -> None:
    with replicas(tmp_path) as (a, b):
        for _ in range(3):
            assert a.submit().status_code == 200
        for _ in range(2):
            assert b.submit().status_code == 200
        assert b.http.get(f"/{APP}/requests/nope/status").status_code == 404
        wanted = {("submit", "200"): 5, ("status", "404"): 1}

        def summed(replica: Replica) -> dict[str, Any] | None:
            snapshot: dict[str, Any] = replica.http.get("/_mock/metrics").json()
            return snapshot if requests_by_route(snapshot) == wanted else None

        on_a = wait_until(lambda: summed(a), what="B's counts on A")
        on_b = wait_until(lambda: summed(b), what="A's counts on B")
        for snapshot in (on_a, on_b):
            assert snapshot["latency_seconds"]["submit"]["count"] == 5
            assert snapshot["latency_seconds"]["submit"]["buckets"]["+Inf"] == 5
            assert snapshot["latency_seconds"]["status"]["count"] == 1
            assert snapshot["gauges"]["journal_entries"] == 6
        text = a.http.get("/_mock/metrics", params={"format": "prometheus"}).text
        assert 'ray2_mock_http_requests_total{route="submit",status="200"} 5\n' in text
        assert 'ray2_mock_http_request_duration_seconds_count{route="submit"} 5\n' in text


def test_a_reset_through_one_replica_clears_what_every_replica_shows(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(json.dumps({"scenarios": [FAIL_TWO_SUBMITS]}))
    with replicas(tmp_path, scenarios_path=scenarios) as (a, b):
        assert [a.submit().status_code, b.submit().status_code, a.submit().status_code] == [
            500,
            500,
            200,
        ], "the file's scenario counts for both replicas"
        a.http.post("/_mock/scenarios", json={"name": "slow", "latency": 0.01})
        wait_until(lambda: len(b.journal()) == 3, what="three entries")
        wait_until(
            lambda: requests_by_route(b.http.get("/_mock/metrics").json()).get(("submit", "500")),
            what="A's counts on B",
        )

        assert b.http.post("/_mock/reset").json()["journal_entries_cleared"] == 3
        # A shows the reset at once, whether or not it has heard of it yet
        assert a.journal() == []
        assert a.http.get("/_mock/metrics").json()["requests"] == []
        listed = a.http.get("/_mock/scenarios").json()["scenarios"]
        assert [(s["name"], s["hits"], s["remaining"]) for s in listed] == [("two-submits", 0, 2)]
        assert [b.submit().status_code, a.submit().status_code, b.submit().status_code] == [
            500,
            500,
            200,
        ], "fresh counts for every replica"


# -- the scenarios ----------------------------------------------------------------------------


def test_a_scenario_added_through_one_replica_fails_exactly_its_times_across_both(
    tmp_path: Path,
) -> None:
    with replicas(tmp_path) as (a, b):
        added = a.http.post("/_mock/scenarios", json={**FAIL_TWO_SUBMITS, "after": 1})
        assert added.status_code == 200, added.text
        codes = [(b, a)[i % 2].submit().status_code for i in range(6)]
        assert codes == [200, 500, 500, 200, 200, 200]
        [shown] = b.http.get("/_mock/scenarios").json()["scenarios"]
        assert (shown["hits"], shown["remaining"]) == (2, 0)
        assert b.http.get("/_mock/scenarios").content == a.http.get("/_mock/scenarios").content


def test_racing_submits_on_both_replicas_fail_exactly_two(tmp_path: Path) -> None:
    with replicas(tmp_path) as (a, b):
        assert b.http.post("/_mock/scenarios", json=FAIL_TWO_SUBMITS).status_code == 200
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda i: (a, b)[i % 2].submit().status_code, range(30)))
        assert sorted(codes) == [200] * 28 + [500] * 2
        [shown] = a.http.get("/_mock/scenarios").json()["scenarios"]
        assert (shown["hits"], shown["remaining"]) == (2, 0)


def test_removing_and_clearing_scenarios_through_one_replica_holds_for_both(
    tmp_path: Path,
) -> None:
    with replicas(tmp_path) as (a, b):
        fail_all = {"name": "always", "match": {"route": "submit"}, "http_error": {"status": 503}}
        a.http.post("/_mock/scenarios", json=[fail_all, {"latency": 0.01}])
        assert b.submit().status_code == 503
        assert b.http.delete("/_mock/scenarios/always").json() == {"deleted": "always"}
        assert a.submit().status_code == 200
        assert [s["name"] for s in a.http.get("/_mock/scenarios").json()["scenarios"]] == [
            "scenario-1"
        ]
        assert a.http.delete("/_mock/scenarios").json() == {"cleared": 1}
        assert b.http.get("/_mock/scenarios").json() == {"scenarios": [], "random": None}


def test_a_documents_progression_and_random_faults_reach_the_other_replica(
    tmp_path: Path,
) -> None:
    with replicas(tmp_path) as (a, b):
        document = {
            "scenarios": [],
            "progression": "manual",
            "seed": 7,
            "fault_rates": {"run_429": 1.0},
        }
        assert a.http.post("/_mock/scenarios", json=document).status_code == 200
        assert b.http.get("/_mock/scenarios").json()["random"] == {
            "seed": 7,
            "rates": {"run_429": 1.0},
        }
        submitted = b.submit()
        assert submitted.status_code == 200, submitted.text
        record = b.http.get(f"/_mock/requests/{submitted.json()['request_id']}").json()
        assert (record["progression"], record["status"]) == ("manual", "IN_QUEUE")
        assert b.http.post(f"/run/{T2V}", json=PROMPT).status_code == 429


# -- Redis away and back ----------------------------------------------------------------------


def test_the_shared_observers_carry_on_after_redis_was_away(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    with replicas(tmp_path, redis) as (a, b):
        assert a.submit().status_code == 200
        redis.stop()
        assert a.submit().status_code == 503
        for path in ("/_mock/journal", "/_mock/metrics", "/_mock/scenarios"):
            assert b.http.get(path).status_code == 503, path
        redis.start()  # empty: it kept nothing on disk
        wait_until(lambda: a.submit().status_code == 200, what="A serving again")
        fail_two = {**FAIL_TWO_SUBMITS, "http_error": {"status": 502}}
        assert b.http.post("/_mock/scenarios", json=fail_two).status_code == 200
        assert [a.submit().status_code, b.submit().status_code, a.submit().status_code] == [
            502,
            502,
            200,
        ]

        def failed_twice(replica: Replica) -> bool:
            counts = requests_by_route(replica.http.get("/_mock/metrics").json())
            return counts.get(("submit", "502")) == 2 and submit_statuses(replica).count(502) == 2

        wait_until(lambda: failed_twice(a) and failed_twice(b), what="both journals and metrics")


# -- real serve processes ---------------------------------------------------------------------


def test_serve_processes_share_one_scenario_journal_and_metrics(tmp_path: Path) -> None:
    with running_replicas(tmp_path, 2, "--timing", "instant") as running:
        a, b = running.urls
        control(a, "POST", "/scenarios", json=FAIL_TWO_SUBMITS)
        codes = [
            httpx.post(f"{url}/{T2V}", json=PROMPT, headers=AUTH, timeout=10).status_code
            for url in (b, a, b, a, b, a)
        ]
        assert codes == [500, 500, 200, 200, 200, 200]

        def journaled(url: str) -> list[int]:
            entries = control(url, "GET", "/journal", params={"route": "submit"}).json()
            return [entry["status"] for entry in entries["entries"]]

        wait_until(lambda: journaled(a) == codes, what="every submit in a's journal")
        assert journaled(b) == codes

        def counted(url: str) -> dict[tuple[str, str], int]:
            return requests_by_route(control(url, "GET", "/metrics").json())

        wanted = {("submit", "500"): 2, ("submit", "200"): 4}
        for url in (a, b):
            wait_until(lambda url=url: counted(url) == wanted, what=f"the sum on {url}")
