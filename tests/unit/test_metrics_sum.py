"""Replicas' metrics summed (``observation.metrics.summed``) read as one process's would, had it
answered every request itself: the expected value is that process's own snapshot."""

from __future__ import annotations

from mockserver.observation.journal import JournalEntry
from mockserver.observation.metrics import Metrics, prometheus_text, summed


def entry(route: str, status: int | None, ms: float, faults: tuple[str, ...] = ()) -> JournalEntry:
    return JournalEntry(
        id=0,
        at=0.0,
        method="POST",
        host="127.0.0.1",
        path="/",
        query="",
        route=route,
        endpoint_id=None,
        request_id=None,
        raw_request_headers=[],
        status=status,
        duration_ms=ms,
        faults=list(faults),
    )


TRAFFIC = [
    entry("submit", 200, 1.25),
    entry("submit", 200, 30.5),
    entry("submit", 500, 0.75, ("two-submits",)),
    entry("status", 202, 0.5),
    entry("status", None, 7000.0, ("random:drop",)),
    entry("result", 200, 120.125),
    entry("stream", 200, 65000.0),
]


def test_the_sum_of_split_traffic_is_what_one_process_shows() -> None:
    one, left, right = Metrics(), Metrics(), Metrics()
    for index, seen in enumerate(TRAFFIC):
        one.observe(seen)
        (left if index % 3 else right).observe(seen)
    one.productions, left.productions, right.productions = 5, 2, 3
    whole = one.snapshot(4, {})
    parts = [left.snapshot(1, {}), right.snapshot(3, {})]
    assert summed(parts) == whole
    assert prometheus_text({**summed(parts), "gauges": {}}) == prometheus_text(
        {**whole, "gauges": {}}
    )


def test_nothing_summed_is_an_empty_snapshot() -> None:
    assert summed([]) == Metrics().snapshot(0, {})
    assert summed([Metrics().snapshot(0, {})] * 2) == Metrics().snapshot(0, {})
