"""A long run keeps a flat footprint: the memory store forgets completed requests when fal
would (or past a count), and the journal can be turned off.

fal's docs (2026), queue result: "fal keeps the result for 1 hour after the request completes.
If the result is 10 KB or larger, fal keeps it for 6 minutes. If payload storage is on, the
result stays available for the storage period." Platform headers: payloads "are stored for 30
days by default"; `X-Fal-Store-IO: "0"` disables that. What an expired id answers is not
captured: here exactly what an id never seen answers (INF)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config, wait_until

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
UNKNOWN = "0190d9b5-0000-7000-8000-000000000000"


STORAGE_PERIOD = 30 * 24 * 3600  # "stored for 30 days by default"
UNSTORED = 3600  # "1 hour after the request completes"
UNSTORED_LARGE = 6 * 60  # "If the result is 10 KB or larger, fal keeps it for 6 minutes"
STORE_IO_OFF = {"X-Fal-Store-IO": "0"}  # '"0" to disable storage'


def _completed(client: httpx.Client, prompt: str, headers: dict[str, str] | None = None) -> str:
    submitted = client.post(f"{APP}/ray-2", json={"prompt": prompt}, headers=headers)
    request_id = submitted.json()["request_id"]
    wait_until(
        lambda: client.get(f"{APP}/requests/{request_id}/status").status_code == 200,
        timeout=60,
    )
    return str(request_id)


def _answers(client: httpx.Client, request_id: str) -> list[tuple[int, object]]:
    calls = [
        client.get(f"{APP}/requests/{request_id}/status"),
        client.get(f"{APP}/requests/{request_id}"),
        client.put(f"{APP}/requests/{request_id}/cancel"),
    ]
    return [(r.status_code, r.json()) for r in calls]


@contextlib.contextmanager
def _serving(tmp_path: Path, **overrides: Any) -> Iterator[tuple[Any, ManualClock, Any]]:
    clock = ManualClock()
    settings = {"store": "memory", "progression": "immediate", **overrides}
    config = make_config(tmp_path, **settings)
    with (
        BackgroundEmulator(config, create_app(config, clock=clock)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client,
    ):
        yield emulator, clock, client


def _kept_for(
    emulator: BackgroundEmulator, clock: ManualClock, client: httpx.Client, request_id: str
) -> Callable[[float], bool]:
    """Moves the clock ``seconds`` on and says whether the request is still known (its
    status 200; once forgotten, every answer is the unknown id's)."""

    def readable_after(seconds: float) -> bool:
        emulator.call(clock.advance, seconds)
        status = client.get(f"{APP}/requests/{request_id}/status")
        if status.status_code == 404:
            assert _answers(client, request_id) == _answers(client, UNKNOWN)
            assert _answers(client, request_id)[0] == (404, {"status": "NOT_FOUND"})
        return status.status_code == 200

    return readable_after


def test_a_result_stays_readable_for_fals_payload_storage_period(tmp_path: Path) -> None:
    with _serving(tmp_path) as (emulator, clock, client):
        request_id = _completed(client, "kept for thirty days")
        readable_after = _kept_for(emulator, clock, client, request_id)
        assert readable_after(UNSTORED + 1)  # the hour applies only with storage off
        assert readable_after(STORAGE_PERIOD - UNSTORED - 2)
        assert not readable_after(1.0)


def test_with_payload_storage_off_a_result_stays_an_hour(tmp_path: Path) -> None:
    with _serving(tmp_path) as (emulator, clock, client):
        request_id = _completed(client, "kept for an hour", STORE_IO_OFF)
        record = client.get(f"/_mock/requests/{request_id}").json()
        assert record["headers"]["x-fal-store-io"] == "0"  # kept on the request
        readable_after = _kept_for(emulator, clock, client, request_id)
        assert readable_after(UNSTORED - 1)
        assert not readable_after(1.0)


def test_with_payload_storage_off_a_result_of_10_kb_stays_six_minutes(tmp_path: Path) -> None:
    with _serving(tmp_path) as (emulator, clock, client):
        long_prompt = "x" * 20_000  # its 422 echoes the prompt: a result of 20 KB
        request_id = _completed(client, long_prompt, STORE_IO_OFF)
        result = client.get(f"{APP}/requests/{request_id}")
        assert result.status_code == 422 and len(result.content) >= 10 * 1024
        readable_after = _kept_for(emulator, clock, client, request_id)
        assert readable_after(UNSTORED_LARGE - 1)
        assert not readable_after(1.0)


def test_the_sqlite_store_keeps_every_request(tmp_path: Path) -> None:
    """The emulator's departure: the SQLite store exists to survive restarts and be read."""
    with _serving(tmp_path, store="sqlite") as (emulator, clock, client):
        request_id = _completed(client, "kept on disk", STORE_IO_OFF)
        assert _kept_for(emulator, clock, client, request_id)(STORAGE_PERIOD + 1)


def test_past_the_count_the_oldest_completed_request_is_forgotten_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, store="memory", progression="immediate", retention_count=2)
    with (
        BackgroundEmulator(config, create_app(config)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client,
    ):
        ids = [_completed(client, f"prompt number {n}") for n in range(3)]
        assert _answers(client, ids[0]) == _answers(client, UNKNOWN)
        for kept in ids[1:]:
            assert client.get(f"{APP}/requests/{kept}").status_code == 200


def test_journal_size_zero_keeps_no_entry_and_still_counts_requests(tmp_path: Path) -> None:
    config = make_config(tmp_path, journal_size=0, progression="immediate")
    with (
        BackgroundEmulator(config, create_app(config)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client,
    ):
        _completed(client, "not journaled")
        journal = client.get("/_mock/journal").json()
        metrics = client.get("/_mock/metrics").json()
    assert journal["entries"] == [] and journal["size"] == 0
    counted = {(m["route"], m["status"]): m["count"] for m in metrics["requests"]}
    assert counted[("submit", "200")] == 1
    assert counted[("status", "200")] >= 1
