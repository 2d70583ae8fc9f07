"""The account's concurrency limit and the queue's length limit, over HTTP.

fal's concurrency-limits docs: queued requests (``submit``) over the limit wait and "are never
rejected due to concurrency limits"; for a direct request (``run``) "the gateway checks
concurrency at request time", answering 429 with the ``concurrent_requests_limit`` type and an
``X-Fal-needs-retry: 1`` header. ``fal_max_queue_length``: "Reject the request with 429 if the
endpoint's queue already has more than this many requests waiting". The emulator's capacity
(``--capacity``, the timing profile's) is the account's limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


@pytest.fixture
def one_slot(tmp_path: Path) -> Iterator[httpx.Client]:
    """An account allowed one request at a time; requests move only when stepped."""
    config = make_config(tmp_path, capacity=1, progression="manual")
    with (
        BackgroundEmulator(config) as running,
        httpx.Client(base_url=running.url, headers=AUTH, timeout=10) as http,
    ):
        yield http


def submit(http: httpx.Client, endpoint: str = T2V, **params: str) -> httpx.Response:
    return http.post(f"/{endpoint}", json={"prompt": "a fox"}, params=params)


def start(http: httpx.Client, request_id: str) -> None:
    assert http.post(f"/_mock/requests/{request_id}/advance").json()["status"] == "IN_PROGRESS"


def test_queue_submits_over_the_limit_wait_in_the_queue(one_slot: httpx.Client) -> None:
    http = one_slot
    running = submit(http).json()["request_id"]
    start(http, running)
    waiting = [submit(http) for _ in range(3)]
    assert [w.status_code for w in waiting] == [200, 200, 200], "never refused for concurrency"
    assert [w.json()["queue_position"] for w in waiting] == [0, 1, 2]
    assert all(w.json()["status"] == "IN_QUEUE" for w in waiting)


def test_a_sync_run_over_the_limit_is_refused_at_once(one_slot: httpx.Client) -> None:
    http = one_slot
    before = http.get("/_mock/requests").json()["requests"]
    start(http, submit(http).json()["request_id"])
    refused = http.post(f"/run/{T2V}", json={"prompt": "a fox"}, timeout=5)
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "concurrent_requests_limit"
    assert refused.headers["x-fal-error-type"] == "concurrent_requests_limit"
    assert refused.headers["x-fal-needs-retry"] == "1"
    assert "retry-after" not in refused.headers, "fal documents no Retry-After"
    assert len(http.get("/_mock/requests").json()["requests"]) == len(before) + 1, (
        "the refused run created no request"
    )


def test_a_scenario_429_is_the_gateways_own(one_slot: httpx.Client) -> None:
    """The default of ``http_error: {status: 429}`` is the answer a sync run over the limit
    gets: the same body and header lines (request ids aside)."""
    http = one_slot
    start(http, submit(http).json()["request_id"])
    own = http.post(f"/run/{T2V}", json={"prompt": "a fox"}, timeout=5)
    scenario = {"match": {"route": "run"}, "http_error": {"status": 429}, "times": 1}
    assert http.post("/_mock/scenarios", json=scenario).status_code == 200
    injected = http.post(f"/run/{T2V}", json={"prompt": "a fox"}, timeout=5)
    assert (injected.status_code, injected.content) == (own.status_code, own.content)

    def lines(response: httpx.Response) -> list[tuple[str, str]]:
        return [
            (k, "<id>" if k == "x-fal-request-id" else v)
            for k, v in response.headers.multi_items()
            if k != "date"
        ]

    assert sorted(lines(injected)) == sorted(lines(own))


def test_fal_max_queue_length_refuses_a_submit_when_more_already_wait(
    one_slot: httpx.Client,
) -> None:
    http = one_slot
    for _ in range(3):
        assert submit(http).status_code == 200
    accepted = submit(http, fal_max_queue_length="3")
    assert accepted.status_code == 200, "3 waiting is not more than 3"
    refused = submit(http, fal_max_queue_length="3")
    assert refused.status_code == 429, "4 waiting is more than 3"
    assert isinstance(refused.json()["detail"], str)
    assert submit(http, fal_max_queue_length="10").status_code == 200
    other = http.post(
        f"/{I2V}",
        json={"prompt": "a fox", "image_url": "https://fal.media/files/elephant/example.jpeg"},
        params={"fal_max_queue_length": "0"},
    )
    assert other.status_code == 200, "the limit counts the endpoint's own queue"
    malformed = submit(http, fal_max_queue_length="soon")
    assert malformed.status_code == 400 and malformed.json()["error_type"] == "bad_request"
