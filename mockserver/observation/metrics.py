"""Counters the control API reports: requests by route and status, latency, renders, faults.

Fed by the journal middleware (one ``observe`` per finished request: a dict increment and a
bucket search) and read as JSON or Prometheus text, so a dashboard or a scraper can watch a
long chaos run without parsing the journal.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.observation.journal import JournalEntry

LATENCY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds; Prometheus ``le`` bounds (a ``+Inf`` bucket is implied)."""
DROPPED = "dropped"


@dataclass
class Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
        running, out = 0, []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class Metrics:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.faults: Counter[str] = Counter()
        self.productions = 0
        """Outputs the model was asked for (renders started + cache hits)."""

    def observe(self, entry: JournalEntry) -> None:
        status = DROPPED if entry.dropped or entry.status is None else str(entry.status)
        self.requests[(entry.route, status)] += 1
        if entry.duration_ms is not None:
            self.latency.setdefault(entry.route, Histogram()).add(entry.duration_ms / 1000)
        for name in entry.faults:
            self.faults[name] += 1

    def snapshot(self, renders_started: int, extra: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "requests": [
                {"route": route, "status": status, "count": count}
                for (route, status), count in sorted(self.requests.items())
            ],
            "latency_seconds": {
                route: {
                    "buckets": dict(histogram.cumulative()),
                    "sum": round(histogram.total, 6),
                    "count": histogram.count,
                }
                for route, histogram in sorted(self.latency.items())
            },
            "renders": {
                "requested": self.productions,
                "started": renders_started,
                "cache_hits": max(self.productions - renders_started, 0),
            },
            "faults": dict(sorted(self.faults.items())),
            **extra,
        }


def summed(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Several processes' snapshots (without ``extra``) as one: what one process would show
    had it answered every request (replicas sharing a Redis, ``shared/metrics.py``)."""
    requests: Counter[tuple[str, str]] = Counter()
    latency: dict[str, dict[str, Any]] = {}
    faults: Counter[str] = Counter()
    requested = started = 0
    for snapshot in snapshots:
        for row in snapshot["requests"]:
            requests[(row["route"], row["status"])] += row["count"]
        for route, histogram in snapshot["latency_seconds"].items():
            total = latency.setdefault(route, {"buckets": Counter(), "sum": 0.0, "count": 0})
            total["buckets"].update(histogram["buckets"])
            total["sum"] += histogram["sum"]
            total["count"] += histogram["count"]
        requested += snapshot["renders"]["requested"]
        started += snapshot["renders"]["started"]
        faults.update(snapshot["faults"])
    bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
    return {
        "requests": [
            {"route": route, "status": status, "count": count}
            for (route, status), count in sorted(requests.items())
        ],
        "latency_seconds": {
            route: {
                "buckets": {bound: total["buckets"][bound] for bound in bounds},
                "sum": round(total["sum"], 6),
                "count": total["count"],
            }
            for route, total in sorted(latency.items())
        },
        "renders": {
            "requested": requested,
            "started": started,
            "cache_hits": max(requested - started, 0),
        },
        "faults": dict(sorted(faults.items())),
    }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def prometheus_text(snapshot: Mapping[str, Any]) -> str:
    """The JSON snapshot in Prometheus' text exposition format (version 0.0.4)."""
    lines = [
        "# HELP ray2_mock_http_requests_total fal API requests by route and status.",
        "# TYPE ray2_mock_http_requests_total counter",
    ]
    for row in snapshot["requests"]:
        labels = _labels(route=row["route"], status=row["status"])
        lines.append(f"ray2_mock_http_requests_total{labels} {row['count']}")
    lines += [
        "# HELP ray2_mock_http_request_duration_seconds Time to answer, by route.",
        "# TYPE ray2_mock_http_request_duration_seconds histogram",
    ]
    for route, histogram in snapshot["latency_seconds"].items():
        for bound, count in histogram["buckets"].items():
            labels = _labels(route=route, le=bound)
            lines.append(f"ray2_mock_http_request_duration_seconds_bucket{labels} {count}")
        labels = _labels(route=route)
        lines.append(f"ray2_mock_http_request_duration_seconds_sum{labels} {histogram['sum']}")
        lines.append(f"ray2_mock_http_request_duration_seconds_count{labels} {histogram['count']}")
    renders = snapshot["renders"]
    lines += [
        "# HELP ray2_mock_outputs_requested_total Outputs the model was asked for.",
        "# TYPE ray2_mock_outputs_requested_total counter",
        f"ray2_mock_outputs_requested_total {renders['requested']}",
        "# HELP ray2_mock_renders_total ffmpeg renders started.",
        "# TYPE ray2_mock_renders_total counter",
        f"ray2_mock_renders_total {renders['started']}",
        "# HELP ray2_mock_render_cache_hits_total Outputs served from the render cache.",
        "# TYPE ray2_mock_render_cache_hits_total counter",
        f"ray2_mock_render_cache_hits_total {renders['cache_hits']}",
        "# HELP ray2_mock_faults_total Faults injected, by scenario or random kind.",
        "# TYPE ray2_mock_faults_total counter",
    ]
    for name, count in snapshot["faults"].items():
        lines.append(f"ray2_mock_faults_total{_labels(fault=name)} {count}")
    for name, value in snapshot.get("gauges", {}).items():
        lines += [f"# TYPE ray2_mock_{name} gauge", f"ray2_mock_{name} {value}"]
    return "\n".join(lines) + "\n"
