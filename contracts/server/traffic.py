"""What a client really sent: the HTTP exchanges the server saw, and faults injected there.

Client checks judge traffic, not the client's own account of it. One traffic model serves
every target that is a ray2-mock, the in-process ``mock`` target included: ``JournalTraffic``
reads the emulator's request journal (``GET /_mock/journal``) into ``Exchange`` records, and
``ScenarioFaults`` injects faults as scenarios (``POST /_mock/scenarios``): a 429, an
ingress-style 503, a dropped connection (after N calls), a status stream cut after its first
event.

Credentials are never kept: the journal stores ``Authorization`` as ``<scheme> ****<last 4>``;
``mask_secret`` writes an expected header the same way, to compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx


def mask_secret(value: str) -> str:
    """Enough of a credential to compare two, nothing more (same form as the journal's)."""
    scheme, sep, credentials = value.strip().partition(" ")
    if not sep:
        scheme, credentials = "", scheme
    tail = credentials[-4:] if len(credentials) >= 8 else ""
    return f"{scheme} ****{tail}" if scheme else f"****{tail}"


@dataclass
class Exchange:
    """One request and its answer, as the server saw them."""

    at: float
    """Wall-clock seconds when the request arrived (the journal's ``received_at``)."""
    method: str
    path: str
    query: str
    route: str
    endpoint_id: str | None
    request_id: str | None
    request_headers: dict[str, str]
    request_body: Any = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    dropped: bool = False
    fault: str | None = None

    def line(self) -> str:
        query = f"?{self.query}" if self.query else ""
        outcome = "dropped" if self.dropped else str(self.status)
        note = f"  [injected: {self.fault}]" if self.fault else ""
        return f"{self.method} {self.path}{query} -> {outcome}{note}"


@dataclass(frozen=True)
class Fault:
    """A failure for the next matching calls of one route, instead of the emulator's reply.

    ``after`` matching calls pass first; the next ``times`` get the fault. ``kind``: ``http``
    answers ``status`` (``retry_after`` seconds, ``ingress``: nginx's page without fal's
    headers); ``drop`` closes the connection before any response; ``cut`` lets a status
    stream send one event, then closes the connection.
    """

    route: str
    kind: Literal["http", "drop", "cut"] = "http"
    status: int = 503
    retry_after: float | None = None
    ingress: bool = False
    times: int = 1
    after: int = 0
    name: str = ""

    @classmethod
    def rate_limited(cls, route: str = "submit", times: int = 1) -> Fault:
        return cls(route, "http", 429, retry_after=1.0, times=times, name="429 rate limited")

    @classmethod
    def ingress_unavailable(cls, route: str = "submit", times: int = 1) -> Fault:
        return cls(route, "http", 503, ingress=True, times=times, name="503 ingress")

    @classmethod
    def dropped(cls, route: str = "status", after: int = 1) -> Fault:
        return cls(route, "drop", after=after, name=f"dropped {route} connection")

    @classmethod
    def cut_stream(cls, after: int = 0) -> Fault:
        return cls("stream", "cut", after=after, name="status stream cut after one event")


class JournalTraffic:
    """Reads ``GET /_mock/journal`` of a running emulator into ``Exchange`` records."""

    def __init__(self, base_url: str, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=30)

    def available(self) -> bool:
        try:
            response = self.http.get(f"{self.base_url}/_mock/journal", params={"limit": 1})
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "entries" in response.json()

    def exchanges(self, *, request_id: str | None = None) -> list[Exchange]:
        params = {"request_id": request_id} if request_id else {}
        response = self.http.get(f"{self.base_url}/_mock/journal", params=params)
        response.raise_for_status()
        return [self._exchange(entry) for entry in response.json()["entries"]]

    def clear(self) -> None:
        self.http.delete(f"{self.base_url}/_mock/journal").raise_for_status()

    @staticmethod
    def _exchange(entry: dict[str, Any]) -> Exchange:
        return Exchange(
            at=float(entry.get("received_at") or entry.get("at") or 0.0),
            method=entry["method"],
            path=entry["path"],
            query=entry.get("query") or "",
            route=entry.get("route") or "other",
            endpoint_id=entry.get("endpoint_id"),
            request_id=entry.get("request_id"),
            request_headers=dict(entry.get("request_headers") or {}),
            request_body=entry.get("request_body"),
            status=entry.get("status"),
            response_headers=dict(entry.get("response_headers") or {}),
            response_body=entry.get("response_body"),
            dropped=bool(entry.get("dropped")),
            fault=", ".join(entry.get("faults") or []) or None,
        )


class ScenarioFaults:
    """Injects ``Fault``s into a running ray2-mock as ``/_mock/scenarios`` rules."""

    def __init__(self, base_url: str, *, http: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=30)
        self._names: list[str] = []

    def available(self) -> bool:
        try:
            response = self.http.get(f"{self.base_url}/_mock/scenarios")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    @staticmethod
    def scenario(fault: Fault, name: str) -> dict[str, Any]:
        rule: dict[str, Any] = {"name": name, "times": fault.times, "match": {"route": fault.route}}
        if fault.after:
            rule["after"] = fault.after
        if fault.kind == "drop":
            rule["drop"] = True
        elif fault.kind == "cut":
            rule["stream"] = {"cut_after": 1}
        else:
            error: dict[str, Any] = {"status": fault.status}
            if fault.ingress:
                error["ingress"] = True
            if fault.retry_after is not None:
                error["retry_after"] = fault.retry_after
            rule["http_error"] = error
        return rule

    def inject(self, *faults: Fault) -> None:
        for fault in faults:
            name = f"contracts-{len(self._names) + 1}"
            url = f"{self.base_url}/_mock/scenarios"
            self.http.post(url, json=self.scenario(fault, name)).raise_for_status()
            self._names.append(name)

    def clear(self) -> None:
        for name in self._names:
            self.http.delete(f"{self.base_url}/_mock/scenarios/{name}")
        self._names.clear()
