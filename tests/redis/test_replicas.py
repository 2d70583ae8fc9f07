"""Three ``serve`` replicas on one Redis act as one emulator (issue 27): whatever one replica
did, the others show. The rule each test holds is the single emulator's: a request's status,
stream and result do not depend on which process a client happens to reach."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest

from contracts.server.mp4probe import probe
from tests.redis.replicas import (
    AUTH,
    T2V,
    Replicas,
    client_at,
    control,
    running_replicas,
    status,
)
from tests.support import expected_video, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """realistic timing: a request waits 5 s in the queue and runs 90 s, so every state lasts
    until a test moves the (shared) clock."""
    with running_replicas(tmp_path_factory.mktemp("replicas"), 3, "--timing", "realistic") as r:
        yield r


@pytest.fixture(autouse=True)
def fresh(replicas: Replicas) -> Iterator[None]:
    saved = fal_client_module.QUEUE_URL_FORMAT, fal_client_module.RUN_URL_FORMAT
    control(replicas.urls[1], "POST", "/reset")
    yield
    fal_client_module.QUEUE_URL_FORMAT, fal_client_module.RUN_URL_FORMAT = saved


def test_submit_on_a_status_on_b_stream_on_c_result_on_a(
    replicas: Replicas, tmp_path: Path
) -> None:
    a, b, c = replicas.urls
    handle = client_at(a).submit(T2V, arguments={"prompt": "three replicas"})
    polled = client_at(b).status(T2V, handle.request_id, with_logs=True)
    assert isinstance(polled, fal_client.Queued)

    streamed = client_at(c).get_handle(T2V, handle.request_id)
    events: list[fal_client.Status] = []
    reader = threading.Thread(target=lambda: events.extend(streamed.iter_events(with_logs=True)))
    reader.start()
    wait_until(lambda: events, what="the stream through c to open")
    control(b, "POST", "/clock/advance", json={"seconds": 120})  # the clock all replicas share
    reader.join(30)
    assert isinstance(events[0], fal_client.Queued)
    assert isinstance(events[-1], fal_client.Completed)  # a transition replica a made

    result = client_at(a).get_handle(T2V, handle.request_id).get()
    video = tmp_path / "out.mp4"
    video.write_bytes(httpx.get(result["video"]["url"], timeout=30).content)
    facts = probe(video, decode=False)
    assert (facts.width, facts.height, facts.frames) == expected_video(T2V, {})


def test_queue_positions_count_every_replicas_requests(replicas: Replicas) -> None:
    """Nine requests submitted round the three replicas, all still in their 5 s queue wait: the
    n-th submitted has n-1 ahead of it, asked through any replica."""
    ids = []
    for n in range(9):
        url = replicas.urls[n % 3]
        answer = httpx.post(f"{url}/{T2V}", json={"prompt": f"queued {n}"}, headers=AUTH)
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["request_id"])
    for n, request_id in enumerate(ids):
        asked = status(replicas.urls[(n + 1) % 3], request_id).json()
        assert (asked["status"], asked["queue_position"]) == ("IN_QUEUE", n)


def test_a_cancel_through_one_replica_ends_the_request_everywhere(replicas: Replicas) -> None:
    a, b, c = replicas.urls
    queued = client_at(a).submit(T2V, arguments={"prompt": "cancel me while queued"})
    client_at(b).cancel(T2V, queued.request_id)
    for url in (a, b, c):
        assert status(url, queued.request_id).json()["status"] == "COMPLETED"

    running = client_at(a).submit(T2V, arguments={"prompt": "cancel me while running"})
    control(c, "POST", "/clock/advance", json={"seconds": 6})
    wait_until(lambda: status(b, running.request_id).json()["status"] == "IN_PROGRESS")
    client_at(c).cancel(T2V, running.request_id)  # replica a drives it: it must hear of this
    wait_until(
        lambda: status(b, running.request_id).json()["status"] == "COMPLETED",
        what="the running request to end after a cancel through another replica",
    )
    for url in (a, b, c):
        answer = httpx.get(
            f"{url}/{T2V.rsplit('/', 1)[0]}/requests/{running.request_id}", headers=AUTH
        )
        assert answer.status_code == 499  # fal's app answers a cancelled run with 499


def test_the_clock_moved_through_one_replica_moves_all(replicas: Replicas) -> None:
    before = [control(url, "GET", "/clock").json()["now"] for url in replicas.urls]
    control(replicas.urls[0], "POST", "/clock/advance", json={"seconds": 3600})
    after = [
        wait_until(
            lambda url=url: (
                (now := control(url, "GET", "/clock").json()["now"]) > max(before) + 3599 and now
            )
        )
        for url in replicas.urls
    ]
    assert max(after) - min(after) < 5  # one clock, read at slightly different wall times


def test_a_reset_through_one_replica_forgets_every_request(replicas: Replicas) -> None:
    a, b, c = replicas.urls
    handle = client_at(a).submit(T2V, arguments={"prompt": "forgotten"})
    control(b, "POST", "/reset")
    control(c, "POST", "/clock/advance", json={"seconds": 600})
    for url in (a, b, c):
        assert status(url, handle.request_id).status_code == 404
    assert control(a, "GET", "/requests").json() == {"requests": []}
