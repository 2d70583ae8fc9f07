"""``ray2-mock env --from http://HOST:PORT``: env mode for an emulator that runs elsewhere.

A container, another machine, a CI service: its ``server.json`` is not on this file system, so
the exports are built from what the emulator says over its plain port instead, through two
routes that need no token (``control/access.py``): ``GET /_mock/server`` (its listeners) and
``GET /_mock/ca.pem`` (its CA certificate, saved to a local file the exports point at).

The TLS and proxy ports are taken at the same distance from the URL's port as the emulator's
own listeners are from its plain port (``serve``'s defaults: PORT+1 and PORT+2), which is
right whenever the three ports are published the same way; ``--tls-port`` and
``--proxy-port`` say otherwise.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mockserver.serving.server import ServerInfo

PEM_START = b"-----BEGIN CERTIFICATE-----"
TIMEOUT_SECONDS = 10.0


class RemoteError(Exception):
    """The emulator at the URL cannot give env-mode exports; the message says why."""


def split_url(url: str) -> tuple[str, int]:
    """(host, port) of the emulator's plain URL; only ``http://`` (the plain listener)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise RemoteError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme != "http" or not parts.hostname:
        raise RemoteError(
            f"{url!r}: give the emulator's plain port as http://HOST:PORT "
            "(e.g. http://127.0.0.1:8765)"
        )
    return parts.hostname, port or 80


def _get(base: str, path: str) -> Any:
    import httpx

    try:
        # trust_env=False: an HTTPS_PROXY of an earlier eval must not carry this request
        return httpx.get(base + path, timeout=TIMEOUT_SECONDS, trust_env=False)
    except httpx.HTTPError as exc:
        raise RemoteError(
            f"no emulator answers at {base} ({exc.__class__.__name__}: {exc})"
        ) from None


def remote_info(
    url: str,
    ca_file: Path,
    *,
    tls_port: int | None = None,
    proxy_port: int | None = None,
) -> ServerInfo:
    """Where the emulator at ``url`` is reached from here, its CA saved to ``ca_file``."""
    host, port = split_url(url)
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    answer = _get(base, "/_mock/server")
    try:
        server = answer.json() if answer.status_code == 200 else None
    except ValueError:
        server = None
    if not isinstance(server, dict) or server.get("name") != "ray2-mock":
        raise RemoteError(
            f"{base} is not a ray2-mock emulator (GET /_mock/server answered {answer.status_code})"
        )
    own_port, own_tls, own_proxy = (
        server.get("port"),
        server.get("tls_port"),
        server.get("proxy_port"),
    )
    if not own_tls or not server.get("ca_url"):
        raise RemoteError(f"the emulator at {base} runs without TLS (--tls-port 0): no env routing")
    if tls_port is None:
        tls_port = port + (own_tls - own_port if own_port else 1)
    if proxy_port is None:
        proxy_port = port + (own_proxy - own_port if own_port and own_proxy else 2)
    ca = _get(base, server["ca_url"])
    if ca.status_code != 200 or not ca.content.lstrip().startswith(PEM_START):
        raise RemoteError(f"{base}{server['ca_url']} gave no CA certificate ({ca.status_code})")
    save(ca_file, ca.content)
    return ServerInfo(host, port, tls_port, proxy_port, str(ca_file.resolve()))


def save(path: Path, data: bytes) -> None:
    """Write atomically: a program reading the CA never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ca-", suffix=".pem")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_ca_file(state_dir: Path, host: str, port: int) -> Path:
    """Where ``env --from`` keeps an emulator's CA: one file per emulator address."""
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in host)
    return state_dir / "remote" / f"{safe}-{port}" / "ca.pem"
