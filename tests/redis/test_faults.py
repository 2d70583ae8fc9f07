"""Faults of replicas on one Redis (issue 27): a replica killed mid-render, Redis restarted or
unreachable, two replicas racing on one transition. The rule each test holds: an accepted
request is never lost, never completed twice, and never makes a client wait without an answer."""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from contracts.server.mp4probe import probe
from tests.integration.test_webhooks import fetch_keys, running_receiver, verified
from tests.redis.replicas import AUTH, T2V, control, running_replicas, status
from tests.support import expected_video, wait_until

pytestmark = pytest.mark.slow
APP = T2V.rsplit("/", 1)[0]
FAL_503_BODY = {"detail": "No runner could be allocated", "error_type": "runner_scheduling_failure"}
"""fal's request error for a 503 (fal's request-errors page: ``runner_scheduling_failure``,
"No runner could be allocated"), the answer when the emulator's own infrastructure is away."""


def submit(url: str, prompt: str, **extra: object) -> str:
    answer = httpx.post(f"{url}/{T2V}", json={"prompt": prompt}, headers=AUTH, timeout=10, **extra)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["request_id"])


def finished(url: str, request_id: str) -> bool:
    return status(url, request_id).json().get("status") == "COMPLETED"


def test_a_replica_killed_mid_render_loses_no_request(tmp_path: Path) -> None:
    with running_replicas(tmp_path, 2, "--timing", "realistic") as replicas:
        a, b = replicas.processes
        request_id = submit(a.url, "killed mid-render")  # a starts rendering at once
        a.kill9()
        control(b.url, "POST", "/clock/advance", json={"seconds": 600})
        wait_until(lambda: finished(b.url, request_id), what="b to finish a's request")
        result = httpx.get(f"{b.url}/{APP}/requests/{request_id}", headers=AUTH, timeout=30)
        assert result.status_code == 200, result.text
        video = tmp_path / "adopted.mp4"
        video.write_bytes(httpx.get(result.json()["video"]["url"], timeout=30).content)
        facts = probe(video, decode=False)
        assert (facts.width, facts.height, facts.frames) == expected_video(T2V, {})


def test_redis_restarted_loses_no_accepted_request(tmp_path: Path) -> None:
    """With ``appendfsync always`` every write Redis acknowledged is on disk: a submit answered
    200 survives Redis being killed (SIGKILL) and started again."""
    with running_replicas(tmp_path, 2, "--timing", "realistic", always_fsync=True) as replicas:
        urls = replicas.urls
        accepted = [submit(urls[n % 2], f"before the restart {n}") for n in range(6)]
        replicas.redis.kill()
        replicas.redis.start()

        def all_finished() -> bool:
            """A run starts once its slot is free and lasts 90 emulated s: move the clock on
            until every accepted request has run (a slow render delays the ones behind it)."""
            control(urls[0], "POST", "/clock/advance", json={"seconds": 900})
            return all(finished(url, r) for r in accepted for url in urls)

        wait_until(all_finished, every=0.5, what="every accepted request to finish")
        listed = control(urls[1], "GET", "/requests").json()["requests"]
        assert sorted(r["request_id"] for r in listed) == sorted(accepted)


DEADLINE = 3.0
"""Seconds a call may take while Redis is away: past it the client gives up and the test fails.
Not a measurement: a call that waits for Redis (a hang) would take as long as Redis is away."""


def during(url: str, known: str) -> Callable[[], httpx.Response]:
    """Four submits and four status polls at once, each with the deadline."""
    calls = itertools.cycle(
        [
            lambda: httpx.post(
                f"{url}/{T2V}", json={"prompt": "during"}, headers=AUTH, timeout=DEADLINE
            ),
            lambda: httpx.get(
                f"{url}/{APP}/requests/{known}/status", headers=AUTH, timeout=DEADLINE
            ),
        ]
    )
    return lambda: next(calls)()


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_redis_away_answers_fals_503_and_recovers(tmp_path: Path, outage: str) -> None:
    """Stopped (connections refused) or frozen (SIGSTOP: connections hang): eight calls at once
    each get fal's 503 body within the deadline (one waits out the client's timeout, the rest
    are refused at once), the server keeps running, and once Redis is back the calls succeed."""
    with running_replicas(tmp_path, 1, "--timing", "instant", always_fsync=True) as replicas:
        url, redis = replicas.urls[0], replicas.redis
        known = submit(url, "known before the outage")
        assert redis.proc is not None
        if outage == "stopped":
            redis.stop()
        else:
            os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda call: call(), [during(url, known)] * 8))
            for answer in answers:
                assert answer.status_code == 503
                assert json.loads(answer.content) == FAL_503_BODY
                assert "Redis" in answer.headers["x-ray2-mock-note"]
            assert httpx.get(f"{url}/_mock/health", timeout=DEADLINE).status_code == 200
        finally:
            if outage == "stopped":
                redis.start()
            else:
                os.kill(redis.proc.pid, signal.SIGCONT)
        # first, with no new request to wake the queue: the one accepted before finishes
        wait_until(lambda: finished(url, known), what="the request accepted before to finish")
        after = wait_until(
            lambda: (
                (
                    a := httpx.post(f"{url}/{T2V}", json={"prompt": "after"}, headers=AUTH)
                ).status_code
                == 200
                and a
            ),
            what="submits to succeed again",
        )
        wait_until(lambda: finished(url, after.json()["request_id"]))


def test_two_replicas_racing_on_one_request_complete_it_once(tmp_path: Path) -> None:
    """Replica a drives a request, then freezes (SIGSTOP) past its heartbeat; b adopts and
    completes it, and its webhook goes out. a thaws still holding the request and its own
    finish falls due: the compare-and-set refuses a's write, so the record keeps b's
    completion and the receiver gets exactly one delivery, signed with the key every replica
    publishes."""
    with (
        running_receiver() as receiver,
        running_replicas(tmp_path, 2, "--timing", "realistic") as replicas,
    ):
        a, b = replicas.processes
        request_id = submit(a.url, "raced", params={"fal_webhook": f"{receiver.url}/hook"})
        control(b.url, "POST", "/clock/advance", json={"seconds": 10})  # a starts it
        wait_until(lambda: status(b.url, request_id).json()["status"] == "IN_PROGRESS")
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            control(b.url, "POST", "/clock/advance", json={"seconds": 600})
            wait_until(lambda: finished(b.url, request_id), what="b to adopt and finish it")
            completed = control(b.url, "GET", f"/requests/{request_id}").json()
            receiver.wait_for("/hook", 1)
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        control(a.url, "POST", "/clock/advance", json={"seconds": 1})  # a replays its finish
        control(a.url, "GET", "/health")
        assert control(a.url, "GET", f"/requests/{request_id}").json() == completed
        deliveries = receiver.at("/hook")
        assert len(deliveries) == 1
        keys = fetch_keys(f"{a.url}/_mock/webhooks/jwks.json")
        assert verified(deliveries[0], keys)
