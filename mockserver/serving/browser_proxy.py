"""fal's server-proxy convention: ``/api/fal/proxy`` with the real URL in ``x-fal-target-url``.

``@fal-ai/client`` configured with ``proxyUrl`` sends every API call (submit, status, stream,
result, cancel, run, storage initiate) here unchanged but for the URL, and puts the original
``https://queue.fal.run/...`` URL in ``x-fal-target-url``. The request is dispatched in-process to
the routes that serve that fal host, so it behaves exactly as on the TLS listener, streaming
included. Only fal hosts are accepted: the proxy never forwards anything off this machine.

The ``Host`` header stays this server's own, so every URL a response carries (upload URLs the
client PUTs to without the proxy, video URLs a page loads) points back at this server and is
reachable from node or a browser as is. Request-ids and status URLs the JS client rebuilds from
the endpoint id itself, so it never needs fal-host URLs. CORS is open (``CORS_SETTINGS``, which
the gateway applies) so a page on another origin can use the proxy, the upload URLs and the videos;
never on the control plane (``control/access.py``: the own origin only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.fal.errors import request_error
from mockserver.fal.hosts import HOST_ROLES
from mockserver.services import services

PROXY_PATH = "/api/fal/proxy"
TARGET_URL_HEADER = "x-fal-target-url"
PROXY_METHODS = ["GET", "POST", "PUT"]
# Sent when the caller has no credentials (a browser): like fal's server-proxy, which adds the
# server's own key. An emulator started with --api-key uses that key instead (with only
# --api-keys, the file's first key: Config.own_key).
PROXY_KEY = "ray2-mock-proxy:browser-key"
# Response headers a cross-origin page may read (the JS client reads x-fal-request-id).
EXPOSED_HEADERS = [
    "x-fal-request-id",
    "x-fal-error-type",
    "x-fal-retryable",
    "x-fal-billable-units",
    "x-fal-needs-retry",
    "retry-after",
    "content-length",
    "content-range",
    "accept-ranges",
]
CORS_SETTINGS: dict[str, Any] = dict(
    allow_origins=["*"],
    allow_methods=["*"],
    allow_headers=["*"],
    expose_headers=EXPOSED_HEADERS,
    max_age=600,
)


def _target(request: Request) -> SplitResult | Response:
    """The parsed target URL, or the fal-shaped refusal explaining what is wrong with it."""
    raw = request.headers.get(TARGET_URL_HEADER)
    if not raw:
        return request_error(
            400,
            f"Missing the {TARGET_URL_HEADER} header: this route is fal's server proxy, "
            "for @fal-ai/client's proxyUrl setting",
            "invalid_proxy_target",
        )
    try:
        target = urlsplit(raw.strip())
        hostname = target.hostname
        target.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        hostname = None
    if target.scheme not in ("http", "https") or not hostname:
        return request_error(
            400,
            f"{TARGET_URL_HEADER} is not a valid absolute http(s) URL: {raw!r}",
            "invalid_proxy_target",
        )
    if hostname not in HOST_ROLES:
        return request_error(
            412,
            f"{TARGET_URL_HEADER} host {hostname!r} is not a fal host; the proxy only serves "
            f"{', '.join(sorted(HOST_ROLES))}",
            "proxy_target_not_allowed",
        )
    return target


def _host_app(request: Request, hostname: str) -> ASGIApp | None:
    """The router of ``hostname``'s role (queue, run, rest or cdn), or None if not fal's."""
    role = HOST_ROLES.get(hostname.lower())
    return None if role is None else services(request).routers[role]


def _forwarded_scope(scope: Scope, target: SplitResult, authorization: bytes) -> Scope:
    """Same request (method, headers, body), addressed to the target's path and query."""
    headers = [(k, v) for k, v in scope["headers"] if k != TARGET_URL_HEADER.encode()]
    if not any(k == b"authorization" for k, _ in headers):
        headers.append((b"authorization", authorization))
    path = target.path or "/"
    return {
        **scope,
        "path": scope.get("root_path", "") + unquote(path),
        "raw_path": path.encode(),
        "query_string": target.query.encode(),
        "headers": headers,
    }


class FalProxy:
    """A raw ASGI endpoint, so the target's response (an SSE stream too) passes straight through."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in PROXY_METHODS:  # answered here: the queue catch-all would 404
            allowed = ", ".join(PROXY_METHODS)
            await request_error(
                405,
                f"{request.method} is not proxied; fal's proxy convention uses {allowed}",
                "method_not_allowed",
                headers={"allow": allowed},
            )(scope, receive, send)
            return
        target = _target(request)
        app = _host_app(request, target.hostname or "") if isinstance(target, SplitResult) else None
        if isinstance(target, Response) or app is None:
            refusal = target if isinstance(target, Response) else _no_routes(target)
            await refusal(scope, receive, send)
            return
        key = services(request).config.own_key or PROXY_KEY
        await app(_forwarded_scope(scope, target, f"Key {key}".encode()), receive, send)


def _no_routes(target: SplitResult) -> Response:
    return request_error(404, f"No emulated routes for {target.hostname}", "not_found")


PROXY_ROUTE = Route(PROXY_PATH, FalProxy())  # any method: FalProxy answers 405 itself
