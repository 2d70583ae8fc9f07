"""Manual steps and ``polls:N`` on replicas: a step or a poll through one replica moves a request
another replica drives, as it would on one emulator (``docs/behaviour.md``: manual progression
moves one state per step, ``polls:N`` one state per N status polls)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.redis.replicas import AUTH, T2V, Replicas, control, running_replicas, status
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    with running_replicas(tmp_path_factory.mktemp("steps"), 2, "--progression", "manual") as r:
        yield r


def submit(url: str, **headers: str) -> str:
    answer = httpx.post(
        f"{url}/{T2V}", json={"prompt": "one step at a time"}, headers=AUTH | headers
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["request_id"])


def test_each_step_through_the_other_replica_moves_one_state(replicas: Replicas) -> None:
    a, b = replicas.urls
    request_id = submit(a)
    first = control(b, "POST", f"/requests/{request_id}/advance").json()
    assert (first["previous_status"], first["status"]) == ("IN_QUEUE", "IN_PROGRESS")
    assert status(a, request_id).json()["status"] == "IN_PROGRESS"
    second = control(b, "POST", f"/requests/{request_id}/advance").json()
    assert (second["previous_status"], second["status"]) == ("IN_PROGRESS", "COMPLETED")
    assert status(a, request_id).json()["status"] == "COMPLETED"


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    with running_replicas(tmp_path_factory.mktemp("polls"), 2, "--progression", "polls:2") as r:
        yield r


def test_polls_through_both_replicas_count_together(polled: Replicas) -> None:
    """polls:2: the second poll moves the request one state, whichever replicas the two polls
    reached (read back through the control API, which is not a poll)."""
    a, b = polled.urls
    request_id = submit(a)

    def state() -> str:
        return str(control(a, "GET", f"/requests/{request_id}").json()["status"])

    status(b, request_id)
    assert state() == "IN_QUEUE"
    status(b, request_id)  # the second poll, through the replica that does not drive it
    wait_until(lambda: state() == "IN_PROGRESS", what="the second poll to start the request")
    status(a, request_id)
    assert state() == "IN_PROGRESS"
    status(b, request_id)
    wait_until(lambda: state() == "COMPLETED", what="the fourth poll to finish the request")
