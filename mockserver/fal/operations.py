"""What a request is, in fal's terms: its route (submit, status, ...), endpoint and request id.

The journal, the metrics and the fault rules all speak in these terms, so they are worked out
once per request here, from the host's role (``hosts.HOST_ROLES``) and the path. A JS client
behind fal's proxy convention names its real target in ``x-fal-target-url``; that wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from contracts.schemas.endpoints import ENDPOINT_FACTS, is_app_id
from mockserver.fal.hosts import HostRole, host_role

REQUEST_PATH = re.compile(
    r"^/(?P<target>.+?)/requests/(?P<request_id>[^/]+)(?P<op>/status/stream|/status|/cancel)?/?$"
)
# fal addresses requests by owner/alias only (``is_app_id``); under a full endpoint id the same
# paths are POST-only submit paths, so a GET there answers 405 (docs/fidelity.md, "Request paths").

Route = Literal[
    "submit", "run", "status", "stream", "result", "cancel", "media", "rest", "control", "other"
]
FAL_ROUTES: tuple[Route, ...] = ("submit", "run", "status", "stream", "result", "cancel")
"""Routes of fal's request API: the ones scenarios and random faults can target."""

REQUEST_OPS: dict[tuple[str, str], Route] = {
    ("GET", ""): "result",
    ("GET", "/status"): "status",
    ("GET", "/status/stream"): "stream",
    ("PUT", "/cancel"): "cancel",
}
"""fal's request operations: (method, path suffix) -> route. The one table of them."""
OP_METHODS: dict[str, str] = {suffix: method for method, suffix in REQUEST_OPS}
"""The one method each request path takes (a 405 lists it in ``Allow``, per RFC 9110)."""
CONTROL_PREFIX = "/_mock/"
MEDIA_PREFIX = "/files/"


@dataclass(frozen=True)
class FalCall:
    route: Route
    endpoint_id: str | None = None
    """The full endpoint id on submit/run; the path's owner/alias target on request ops."""
    request_id: str | None = None


def _on_role(role: HostRole, method: str, path: str) -> FalCall:
    if role == "cdn":
        return FalCall("media")
    if role == "rest":
        return FalCall("rest")
    if role == "web":  # fal.ai: the published OpenAPI documents, not part of the request API
        return FalCall("other")
    if role == "local":
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return FalCall("control")
        if path.startswith(MEDIA_PREFIX):
            return FalCall("media")
        if path.startswith("/run/"):
            return _on_role("run", method, path[len("/run") :])
        role = "queue"
    # A request operation first: its owner/alias is Ray 2's without reading the catalogue.
    # the literal first: a submit's path never holds it, and the pattern backtracks
    match = REQUEST_PATH.match(path) if role == "queue" and "/requests/" in path else None
    if match and is_app_id(match["target"]):
        route = REQUEST_OPS.get((method, match["op"] or ""), "other")
        return FalCall(route, match["target"], match["request_id"])
    stripped = path.strip("/")
    if stripped in ENDPOINT_FACTS:  # a row of the endpoint table or fal's catalogue
        return FalCall("submit" if role == "queue" else "run", stripped)
    return FalCall("other")


def classify(method: str, host: str, path: str, target_url: str | None = None) -> FalCall:
    """The fal call behind one HTTP request (``host`` is the Host header, port allowed)."""
    if target_url:
        parts = urlsplit(target_url)
        if parts.hostname:
            return _on_role(host_role(parts.hostname), method, parts.path or "/")
    return _on_role(host_role(host), method, path)
