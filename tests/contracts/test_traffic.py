"""Traffic sources: the journal of a running ray2-mock reads into the same records as the tap."""

from __future__ import annotations

import json

import httpx
import pytest

from contracts.traffic import Fault, JournalTraffic, ScenarioFaults, classify, mask_secret

ENTRY = {
    "id": 7,
    "at": 1700000000.5,
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
    assert exchange.fault == "slow_queue" and exchange.at == 1700000000.5
    journal.clear()
    assert seen[-1].method == "DELETE"


def test_a_server_without_a_journal_is_not_a_traffic_source() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(404, json={"detail": "no"}))
    assert not JournalTraffic("http://mock", http=httpx.Client(transport=transport)).available()


def test_classify_and_mask() -> None:
    app = "/fal-ai/luma-dream-machine"
    assert classify("POST", f"{app}/ray-2") == ("submit", f"{app[1:]}/ray-2", None)
    assert classify("POST", f"/run{app}/ray-2/image-to-video")[0] == "run"
    assert classify("GET", f"{app}/requests/r1/status/stream") == ("stream", None, "r1")
    assert classify("PUT", f"{app}/ray-2/requests/r1/cancel") == ("cancel", None, "r1")
    assert classify("GET", f"{app}/requests/r1") == ("result", None, "r1")
    assert classify("GET", "/files/mock/k.mp4")[0] == "media"
    assert mask_secret("Key abcdef0123") == "Key ****0123"
    assert mask_secret("short") == "****"
    assert json.dumps(mask_secret("Bearer tok-12345678")) == '"Bearer ****5678"'


def test_faults_become_control_api_scenarios() -> None:
    """The documented /_mock/scenarios forms (README "Simulate failures")."""
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
        {"name": "contracts-4", "times": 1, "match": {"route": "stream"}, "drop": True},
    ]
    faults.clear()
    assert deleted == [f"/_mock/scenarios/contracts-{n}" for n in range(1, 5)]
    with pytest.raises(ValueError, match="cannot skip calls"):
        faults.inject(Fault.dropped("status", after=1))


def test_injecting_a_fault_never_spends_the_callers_copy() -> None:
    """The client checks inject faults from one module-level table: a tap counting down the
    table's own objects left later runs with ``times`` at zero or below."""
    from contracts.traffic import Fault, TrafficTap

    fault = Fault.rate_limited("submit", times=2)
    tap = TrafficTap(app=None)  # type: ignore[arg-type]
    tap.inject(fault)
    assert tap._take_fault("submit") is not None
    assert tap._take_fault("submit") is not None
    assert tap._take_fault("submit") is None
    assert (fault.times, fault.after) == (2, 0)
