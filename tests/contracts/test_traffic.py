"""The one traffic model: a ray2-mock's journal read into exchanges, faults as its scenarios."""

from __future__ import annotations

import json

import httpx

from contracts.server.traffic import Fault, JournalTraffic, ScenarioFaults, mask_secret

ENTRY = {
    "id": 7,
    "at": 1700000000.5,
    "received_at": 1700000001.25,
    "method": "GET",
    "host": "127.0.0.1:8765",
    "path": "/fal-ai/luma-dream-machine/requests/abc/status",
    "query": "logs=1",
    "route": "status",
    "endpoint_id": "fal-ai/luma-dream-machine/ray-2",
    "request_id": "abc",
    "request_headers": {"authorization": "Key ****0001"},
    "request_body": None,
    "status": 202,
    "response_headers": {"content-type": "application/json"},
    "response_body": {"status": "IN_QUEUE", "queue_position": 0},
    "dropped": False,
    "faults": ["slow_queue"],
}


def test_journal_entries_become_exchanges() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            return httpx.Response(200, json={"cleared": 1})
        return httpx.Response(200, json={"entries": [ENTRY], "count": 1})

    journal = JournalTraffic(
        "http://mock", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    assert journal.available()
    [exchange] = journal.exchanges(request_id="abc")
    assert seen[-1].url.params["request_id"] == "abc"
    assert (exchange.route, exchange.request_id, exchange.status) == ("status", "abc", 202)
    assert exchange.endpoint_id == "fal-ai/luma-dream-machine/ray-2"
    assert exchange.response_body == {"status": "IN_QUEUE", "queue_position": 0}
    assert exchange.fault == "slow_queue"
    assert exchange.at == 1700000001.25  # wall clock: poll gaps are real seconds
    journal.clear()
    assert seen[-1].method == "DELETE"


def test_a_server_without_a_journal_is_not_a_traffic_source() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(404, json={"detail": "no"}))
    assert not JournalTraffic("http://mock", http=httpx.Client(transport=transport)).available()


def test_mask_matches_the_journals_form() -> None:
    from mockserver.observation.masking import mask_secret as journal_mask

    for value in ("Key abcdef0123", "short", "Bearer tok-12345678", "Key id:secret-9999"):
        assert mask_secret(value) == journal_mask(value)
    assert mask_secret("Key abcdef0123") == "Key ****0123"
    assert json.dumps(mask_secret("Bearer tok-12345678")) == '"Bearer ****5678"'


def test_faults_become_control_api_scenarios() -> None:
    """The documented /_mock/scenarios forms (docs/failures.md)."""
    posted: list[dict] = []
    deleted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posted.append(json.loads(request.content))
        elif request.method == "DELETE":
            deleted.append(request.url.path)
        return httpx.Response(200, json={"scenarios": []})

    faults = ScenarioFaults(
        "http://mock", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    assert faults.available()
    faults.inject(Fault.rate_limited("submit"), Fault.ingress_unavailable("submit", times=2))
    faults.inject(Fault.dropped("status", after=0), Fault.cut_stream())
    assert posted == [
        {
            "name": "contracts-1",
            "times": 1,
            "match": {"route": "submit"},
            "http_error": {"status": 429, "retry_after": 1.0},
        },
        {
            "name": "contracts-2",
            "times": 2,
            "match": {"route": "submit"},
            "http_error": {"status": 503, "ingress": True},
        },
        {"name": "contracts-3", "times": 1, "match": {"route": "status"}, "drop": True},
        {
            "name": "contracts-4",
            "times": 1,
            "match": {"route": "stream"},
            "stream": {"cut_after": 1},
        },
    ]
    faults.inject(Fault.dropped("status", after=2))
    assert posted[-1] == {
        "name": "contracts-5",
        "times": 1,
        "match": {"route": "status"},
        "after": 2,
        "drop": True,
    }
    faults.clear()
    assert deleted == [f"/_mock/scenarios/contracts-{n}" for n in range(1, 6)]
