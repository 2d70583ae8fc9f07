"""A long run keeps a flat footprint: the memory store forgets completed requests after fal's
retention window (or past a count), and the journal can be turned off.

fal keeps a result for an hour (docs.fal.ai, queue/result); a forgotten request is unknown, so
it answers exactly what an id never seen answers."""

from __future__ import annotations

from pathlib import Path

import httpx

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config, wait_until

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
UNKNOWN = "0190d9b5-0000-7000-8000-000000000000"


def _completed(client: httpx.Client, prompt: str) -> str:
    request_id = client.post(f"{APP}/ray-2", json={"prompt": prompt}).json()["request_id"]
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


def test_a_request_past_the_retention_window_is_unknown(tmp_path: Path) -> None:
    clock = ManualClock()
    config = make_config(tmp_path, store="memory", progression="immediate")
    with (
        BackgroundEmulator(config, create_app(config, clock=clock)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client,
    ):
        request_id = _completed(client, "kept for an hour")
        emulator.call(clock.advance, 3599.0)
        assert client.get(f"{APP}/requests/{request_id}").status_code == 200
        emulator.call(clock.advance, 1.0)
        assert _answers(client, request_id) == _answers(client, UNKNOWN)
        assert _answers(client, request_id)[0] == (404, {"status": "NOT_FOUND"})


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
