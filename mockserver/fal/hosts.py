"""Which role a request's host plays, and the URLs the emulator hands back.

Through the TLS routing mode requests arrive with fal's real ``Host`` header, so the host
tells sync run from queue from CDN. On a plain loopback address the no-proxy layout
applies: queue at the root, sync run under ``/run``. URLs in responses are built from the
incoming request's own scheme and host, so http, https, proxies and any port all work.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Literal

from starlette.requests import Request

from contracts.schemas.endpoints import APP_ID

HostRole = Literal["run", "queue", "rest", "cdn", "web", "local"]

HOST_ROLES: dict[str, HostRole] = {
    "fal.run": "run",
    "falrun.com": "run",
    "queue.fal.run": "queue",
    "queue.falrun.com": "queue",
    "rest.fal.ai": "rest",
    "rest.alpha.fal.ai": "rest",
    "v3.fal.media": "cdn",
    "v3b.fal.media": "cdn",
    "fal.media": "cdn",
    "v2.fal.media": "cdn",
    "fal.ai": "web",  # only the published OpenAPI documents (mockserver/fal/published.py)
}
CDN_BASE = "https://v3.fal.media"
"""fal's CDN host that fal_client posts single uploads to (hard-coded there); the dashboard's
previews use it too."""
FILES_BASE = "https://v3b.fal.media"
"""Where files live now, uploaded or generated: fal's docs, a live token's ``base_url`` and
2026 live uploads and results use ``v3b``."""
MEDIA_PATH = "/files/mock/{key}.mp4"
"""A rendered file by its cache key: the dashboard's previews (results get ``FILE_PATH``)."""
FILE_PATH = "/files/b/{shard}/{file_id}_{file_name}"
"""One file on fal's CDN, uploaded or generated, in fal's current shape:
``files/b/<8 hex>/<21-char id>_<file name>`` (``…_output.mp4``, ``…_line.wav``)."""


def host_role(host_header: str) -> HostRole:
    return HOST_ROLES.get(host_header.rsplit(":", 1)[0].lower(), "local")


def is_loopback(host: str) -> bool:
    """A literal loopback address or ``localhost`` (not ``*.localhost``: may need a DNS server)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(request: Request) -> str:
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.scope['scheme']}://{host}"  # what request.url.scheme reads, unparsed


def request_urls(request: Request, request_id: str, app_id: str = APP_ID) -> dict[str, str]:
    """The three URLs a queue client follows (fal uses owner/alias only, not the full id)."""
    response_url = f"{base_url(request)}/{app_id}/requests/{request_id}"
    return {
        "response_url": response_url,
        "status_url": f"{response_url}/status",
        "cancel_url": f"{response_url}/cancel",
    }


def public_base(request: Request, cdn: str = CDN_BASE) -> str:
    """fal's CDN origin for requests through fal's host names, else this server's own origin."""
    return cdn if host_role(request.headers.get("host", "")) != "local" else base_url(request)


def media_url(request: Request, key: str) -> str:
    """A rendered file by cache key (dashboard previews): fal's CDN host or this server."""
    return public_base(request) + MEDIA_PATH.format(key=key)


def cdn_file_url(request: Request, shard: str, file_id: str, file_name: str) -> str:
    """A file's own URL (an upload's, or one generation's: never shared with another request,
    even for the same bytes): fal's file host, or this server on loopback."""
    name = urllib.parse.quote(file_name)
    return public_base(request, FILES_BASE) + FILE_PATH.format(
        shard=shard, file_id=file_id, file_name=name
    )
