"""Chaos: the real fal_client against seeded random transport faults, nothing lost.

Every kind the client is built to survive fires at random (429 on sync runs, nginx-style
502/503 ingress pages, dropped connections, on submits, runs and polls alike). Every request
the client got an id for must complete with its video, and every sync run return one; every
5xx the journal saw must be one that was injected; and the store must hold exactly the
accepted requests, no more (a refused or dropped submit or run never creates one), no fewer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.reliability.budget import scaled
from tests.support import TEST_KEY, make_config, route_fal_client

T2V = "fal-ai/luma-dream-machine/ray-2"
REQUESTS = scaled(60, 600)
RETRIED_FAULTS = ("run_429", "submit_503_ingress", "poll_502_ingress", "drop")
RUN_EVERY = 4
"""One call in four is a sync run (the only route fal answers a concurrency 429 on)."""
RATE = 0.15


def test_random_transport_faults_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fal_client_module, "_get_retry_delay", lambda *args, **kwargs: 0.0)
    config = make_config(tmp_path, journal_size=REQUESTS * 50)
    with BackgroundEmulator(config) as emulator, httpx.Client(base_url=emulator.url) as control:
        chaos = {"scenarios": [], "seed": 7, "fault_rates": dict.fromkeys(RETRIED_FAULTS, RATE)}
        control.post("/_mock/scenarios", json=chaos).raise_for_status()
        route_fal_client(monkeypatch, emulator.url)
        client = fal_client.SyncClient(key=TEST_KEY)

        def one(index: int) -> tuple[str | None, str]:
            arguments = {"prompt": f"chaos {index % 4}"}
            if index % RUN_EVERY == 0:
                return None, client.run(T2V, arguments=arguments)["video"]["url"]
            handle = client.submit(T2V, arguments=arguments)
            return handle.request_id, handle.get()["video"]["url"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(one, range(REQUESTS)))

        entries = control.get("/_mock/journal").json()["entries"]
        stored = control.get("/_mock/requests", params={"limit": REQUESTS * 2}).json()["requests"]

    ids = [request_id for request_id, _ in outcomes if request_id is not None]
    assert len(set(ids)) == len(ids) and all(url.endswith(".mp4") for _, url in outcomes)
    assert len(stored) == REQUESTS, "one request per submit or run accepted: none lost or extra"
    assert set(ids) <= {r["request_id"] for r in stored}
    assert all(r["status"] == "COMPLETED" and r["outcome"] == "ok" for r in stored)
    injected = [e for e in entries if e["faults"]]
    server_errors = [e for e in entries if e["status"] is not None and e["status"] >= 500]
    assert len(injected) >= REQUESTS // 4, "the chaos run injected too little to mean anything"
    assert {kind for e in injected for kind in e["faults"]} >= {
        f"random:{k}" for k in RETRIED_FAULTS
    }
    assert all(e["faults"] for e in server_errors), "a 5xx that nobody injected"
    print(
        f"chaos: {REQUESTS} requests, {len(entries)} HTTP calls, {len(injected)} faults "
        f"injected, {len(server_errors)} 5xx (all injected), 0 requests lost"
    )
