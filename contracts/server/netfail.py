"""Network failures on the way to live fal, as one sentence: which host, what failed, what to check.

The live target and ``record`` are the only parts that talk to the real fal, so their first run
is where a wrong ``HTTPS_PROXY``, ``SSL_CERT_FILE`` or ``FAL_KEY`` shows up. A traceback from
deep inside httpcore names none of those; ``describe`` turns each failure into one line, and
``check_reachable`` makes one free, authenticated call before anything is spent.
"""

from __future__ import annotations

import socket
import ssl
import urllib.request
from collections.abc import Iterator

import httpx

from contracts.server.targets import Target

UNKNOWN_REQUEST = "00000000-0000-0000-0000-000000000000"
"""Its status costs nothing and needs a valid key: fal answers 404 (401 for a bad key)."""


class Unreachable(Exception):
    """fal (or the proxy in front of it) could not be reached, or refused the key; the message
    is one line that names the host and what to check."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def proxy_for(host: str) -> str | None:
    """The proxy httpx uses for ``https://host`` from the environment (None: direct)."""
    proxy = urllib.request.getproxies_environment().get("https")
    if not proxy or urllib.request.proxy_bypass_environment(host):
        return None
    return proxy


def describe(exc: httpx.HTTPError, host: str | None = None) -> str:
    """One line for a transport failure: the host, what went wrong, what to check."""
    if host is None:
        try:
            host = exc.request.url.host
        except RuntimeError:  # an error raised before a request existed
            host = "fal"
    proxy = proxy_for(host)
    via = f" through the proxy {proxy} (HTTPS_PROXY)" if proxy else ""
    root = next(
        (e for e in _causes(exc) if isinstance(e, OSError) and not isinstance(e, TimeoutError)),
        None,
    )
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.removesuffix("Timeout").lower() or "request"
        through = f", through the proxy {proxy} from HTTPS_PROXY" if proxy else ""
        return (
            f"{host} did not answer in time ({kind} timeout{through}): check your network"
            + (" and that the proxy is the running emulator's (ray2-mock env)" if proxy else "")
            + ", or allow longer with --timeout"
        )
    if isinstance(exc, httpx.ProxyError):
        return (
            f"the proxy {proxy or '(HTTPS_PROXY)'} refused to connect to {host} ({exc}): check "
            "HTTPS_PROXY; a ray2-mock proxy tunnels only fal's hosts, an older one may lack "
            f"{host}; unset HTTPS_PROXY to reach live fal directly"
        )
    if isinstance(root, ssl.SSLError):
        if isinstance(root, ssl.SSLCertVerificationError):
            reason = f"certificate verify failed: {root.verify_message}"
        else:
            reason = getattr(root, "reason", None) or str(root)
        return (
            f"TLS with {host} failed ({reason}): check SSL_CERT_FILE (ray2-mock env points it at "
            "the emulator's CA, which only the emulator's proxy matches; unset both for live fal)"
        )
    if isinstance(root, socket.gaierror):
        if proxy:
            return (
                f"cannot resolve the proxy host in HTTPS_PROXY={proxy} ({root.strerror}): "
                "check HTTPS_PROXY"
            )
        return f"cannot resolve {host} ({root.strerror}): check your network connection and DNS"
    if isinstance(root, ConnectionRefusedError) and proxy:
        return (
            f"nothing accepts connections at the proxy {proxy} (HTTPS_PROXY) for {host}: check "
            'that ray2-mock serve is running (re-run eval "$(ray2-mock env)" after a restart), '
            "or unset HTTPS_PROXY for live fal"
        )
    detail = (root.strerror if isinstance(root, OSError) else None) or str(exc) or type(exc)
    return (
        f"the connection to {host}{via} failed ({detail}): check your network, firewall and "
        "proxy settings"
    )


def key_refused(response: httpx.Response) -> str:
    """One line for a 401: fal did not accept FAL_KEY."""
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = response.text[:120]
    return (
        f"{response.request.url.host} refused the key (401: {detail}): check FAL_KEY "
        "(fal keys look like <key_id>:<key_secret>)"
    )


def check_reachable(target: Target) -> None:
    """One free, authenticated call (the status of a request that does not exist) before
    anything is spent: an unreachable host or a refused key stops the run here."""
    with target.http() as http:
        try:
            response = http.get(target.request_url(UNKNOWN_REQUEST, "/status"))
        except httpx.TransportError as exc:
            raise Unreachable(describe(exc)) from None
    if response.status_code == 401:
        raise Unreachable(key_refused(response))
