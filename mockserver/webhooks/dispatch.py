"""``fal_webhook`` delivery: fal's payload, signed like fal's, retried with bounded backoff.

When a queued request with a webhook completes (ok, failed or cancelled), the emulator POSTs
fal's payload to it (fal's webhooks docs)::

    {"error": null, "gateway_request_id", "payload": {"video": {...}}, "request_id", "status": "OK"}
    {"error": "...", "gateway_request_id", "payload": {...}, "request_id", "status": "ERROR"}

(``payload: null`` + fal's ``payload_error`` if the answer is not JSON), with
``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` (Unix seconds, wall clock: receivers
compare it with their own clock) and ``-Signature`` (hex Ed25519, see ``webhooks/keys.py``).

Safety: the emulator delivers only to http(s) URLs on loopback or on a host in
``webhook_allow`` (``--webhook-allow``), so it never forwards to the internet by accident. Live
fal is not known to refuse any webhook URL, so a submit with another target is accepted as there;
its delivery is recorded as ``blocked`` (deliveries list, the request's notes in the journal and
dashboard, a warning in the server log). Redirects are not followed and proxies from the
environment are ignored.

Retries: a non-2xx answer, a timeout or a connection error is retried up to
``webhook_max_retries`` times, waiting base·2^(n-1) seconds (capped) on the emulator's clock,
so advancing the clock fires due retries at once. Defaults (10 retries, 15 s doubling to 30
min) span about two hours, as fal documents. Every attempt is recorded in ``deliveries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mockserver.clock import Clock
from mockserver.config import Config
from mockserver.fal.hosts import is_loopback
from mockserver.production.video import output_body
from mockserver.records import RequestRecord
from mockserver.services import services

if TYPE_CHECKING:
    from mockserver.webhooks.keys import WebhookSigner

log = logging.getLogger(__name__)

USER_ID = "ray2-mock-user"
"""Sent as ``X-Fal-Webhook-User-Id`` (fal sends the account's user id)."""
DEFAULT_ORIGIN = "https://queue.fal.run"
"""Where URLs in the payload point when a record does not say how it was submitted."""
USER_AGENT = "ray2-mock-webhooks"
MAX_CONCURRENT_DELIVERIES = 16
HISTORY = 1000
JWKS_PATH = "/.well-known/jwks.json"
LOCAL_JWKS_PATH = "/_mock/webhooks/jwks.json"
DELIVERIES_PATH = "/_mock/webhooks/deliveries"
PAYLOAD_ERROR = (
    "Response payload is not JSON serializable. Either return a JSON serializable object or use"
    " the queue endpoint to retrieve the response."
)
"""fal's words when the answer cannot go into the webhook as JSON (fal's webhooks docs, and a
live delivery quoted in fal-js issue #153)."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base_seconds: float
    max_seconds: float
    timeout_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        return cls(
            max_retries=max(config.webhook_max_retries, 0),
            base_seconds=config.webhook_retry_base_seconds,
            max_seconds=config.webhook_retry_max_seconds,
            timeout_seconds=config.webhook_timeout_seconds,
        )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return min(self.base_seconds * 2 ** (retry - 1), self.max_seconds)


def blocked_reason(url: str, allow: Iterable[str]) -> str | None:
    """Why the emulator will not deliver to ``url``, or None if it will: only http(s) URLs on
    loopback or an allowed host (the emulator must not reach the internet by accident)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        host = ""
    if not host:
        return f"{url!r} is not a URL"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http(s) URL"
    if is_loopback(host) or host in {h.lower() for h in allow}:
        return None
    return (
        f"host {host!r} is not loopback: start the emulator with --webhook-allow {host}"
        " to deliver there"
    )


def _origin_request(origin: str | None) -> Request:
    """A stand-in for the submitting request, so payload URLs match what polling returns."""
    parts = urllib.parse.urlsplit(origin or DEFAULT_ORIGIN)
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": parts.scheme,
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", parts.netloc.encode("latin-1"))],
        "server": None,
    }
    return Request(scope)


def _payload(body: Any) -> dict[str, Any]:
    """The ``payload`` field for the app's answer: a body sent as text (``str``) is parsed, and
    one that is not JSON becomes ``payload: null`` with fal's ``payload_error``."""
    if not isinstance(body, str):
        return {"payload": body}
    try:
        return {"payload": json.loads(body)}
    except (ValueError, RecursionError):
        return {"payload": None, "payload_error": PAYLOAD_ERROR}


def webhook_payload(record: RequestRecord) -> dict[str, Any]:
    """fal's webhook body for a completed record (``error`` is null on success, as live)."""
    base = {
        "request_id": record.request_id,
        "gateway_request_id": record.gateway_request_id or record.request_id,
    }
    if record.error is None:
        payload = output_body(_origin_request(record.origin), record)
        return {**base, "status": "OK", "error": None, "payload": payload}
    return {
        **base,
        "status": "ERROR",
        "error": record.error_message,
        **_payload(record.error["body"]),
    }


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The delivery body as fal writes it: ``json.dumps`` with sorted keys (a live, signed
    capture); a payload that is not strict JSON becomes fal's ``payload_error``."""
    try:
        return json.dumps(payload, allow_nan=False, sort_keys=True).encode()
    except (TypeError, ValueError):
        fallback = {**payload, "payload": None, "payload_error": PAYLOAD_ERROR}
        return json.dumps(fallback, default=str, sort_keys=True).encode()


class WebhookDispatcher:
    """Delivers webhooks for completed requests; ``Services.webhooks`` holds the instance."""

    def __init__(
        self,
        key_dir: Path,
        clock: Clock,
        policy: RetryPolicy,
        allow: Iterable[str] = (),
        *,
        signer_source: Callable[[], WebhookSigner] | None = None,
    ) -> None:
        self.key_dir = key_dir
        self._signer_source = signer_source
        """Where the key comes from instead of ``key_dir`` (replicas share one in Redis)."""
        self.clock = clock
        self.policy = policy
        self.allow = tuple(allow)
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._open = False
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._advanced = asyncio.Event()
        clock.on_advance(self._on_advance)

    @functools.cached_property
    def signer(self) -> WebhookSigner:
        """The server's key in ``key_dir``, read or made on the first webhook or JWKS call:
        cryptography is a large import and most runs send no webhook."""
        from mockserver.webhooks.keys import WebhookSigner

        if self._signer_source is not None:
            return self._signer_source()
        return WebhookSigner.load_or_create(self.key_dir)

    async def start(self) -> None:
        self._open = True

    def _http(self) -> httpx.AsyncClient:
        """The delivery client, made on the first delivery (its TLS context costs start-up
        time most runs never use back)."""
        if self._client is None:
            # trust_env=False: HTTPS_PROXY in the emulator's own environment must not reroute
            # deliveries; no redirects: a 30x must not lead a delivery off the allowed hosts.
            self._client = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                timeout=self.policy.timeout_seconds,
                headers={"user-agent": USER_AGENT},
            )
        return self._client

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._open = False
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def idle(self) -> None:
        """Wait until every scheduled delivery has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- hooks into the queue -------------------------------------------------------------------

    def blocked_note(self, url: str) -> str | None:
        """The note a submit gets when its webhook will not be delivered (None: it will be).

        Live fal is not known to refuse any webhook URL, so the submit is accepted as there;
        only the delivery is held back."""
        reason = blocked_reason(url, self.allow)
        return None if reason is None else f"webhook not delivered: {reason}"

    def on_completed(self, record: RequestRecord) -> None:
        """``RequestQueue.completion_listeners`` entry: schedule a delivery, never raise."""
        if not record.webhook_url or record.mode != "queue" or not self._open:
            return
        if (reason := blocked_reason(record.webhook_url, self.allow)) is not None:
            self._blocked(record.request_id, record.webhook_url, reason)
            return
        try:
            body = encode_payload(webhook_payload(record))
        except Exception:  # a broken record must not break the queue's completion
            log.exception("building the webhook payload for %s failed", record.request_id)
            return
        task = asyncio.get_running_loop().create_task(
            self._deliver(record.request_id, record.webhook_url, body),
            name=f"webhook {record.request_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivery -------------------------------------------------------------------------------

    def _blocked(self, request_id: str, url: str, reason: str) -> None:
        """A delivery the emulator will not make: listed, and said in the server log."""
        self.deliveries.append(
            {
                "request_id": request_id,
                "url": url,
                "attempt": 0,
                "at": datetime.now(UTC).isoformat(),
                "status_code": None,
                "error": reason,
                "duration_ms": 0.0,
                "outcome": "blocked",
                "next_retry_in": None,
            }
        )
        log.warning("webhook for %s not delivered: %s", request_id, reason)

    def _on_advance(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` of emulated time (a clock jump ends it early)."""
        due = self.clock.now() + seconds
        while (remaining := due - self.clock.now()) > 0:
            advanced = self._advanced
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(advanced.wait(), self.clock.real_delay(remaining))

    async def _deliver(self, request_id: str, url: str, body: bytes) -> None:
        attempts = self.policy.max_retries + 1
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await self._wait(self.policy.delay(attempt - 1))
            status, error, took = await self._post(request_id, url, body)
            delivered = status is not None and 200 <= status < 300
            outcome = "delivered" if delivered else "gave_up" if attempt == attempts else "retrying"
            self.deliveries.append(
                {
                    "request_id": request_id,
                    "url": url,
                    "attempt": attempt,
                    "at": datetime.now(UTC).isoformat(),
                    "status_code": status,
                    "error": error,
                    "duration_ms": round(took * 1000, 1),
                    "outcome": outcome,
                    "next_retry_in": self.policy.delay(attempt) if outcome == "retrying" else None,
                }
            )
            if delivered:
                return
        log.warning("webhook for %s to %s gave up after %d attempts", request_id, url, attempts)

    async def _post(
        self, request_id: str, url: str, body: bytes
    ) -> tuple[int | None, str | None, float]:
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-fal-webhook-request-id": request_id,
            "x-fal-webhook-user-id": USER_ID,
            "x-fal-webhook-timestamp": timestamp,
            "x-fal-webhook-signature": self.signer.sign(request_id, USER_ID, timestamp, body),
        }
        started = time.perf_counter()
        async with self._slots:
            try:
                response = await self._http().post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started
        took = time.perf_counter() - started
        error = None if response.is_success else f"HTTP {response.status_code}"
        return response.status_code, error, took


async def _jwks(request: Request) -> Response:
    return JSONResponse(
        services(request).webhooks.signer.jwks(), headers={"cache-control": "max-age=86400"}
    )


async def _deliveries(request: Request) -> Response:
    wanted = request.query_params.get("request_id")
    rows = [
        row
        for row in services(request).webhooks.deliveries
        if wanted is None or row["request_id"] == wanted
    ]
    return JSONResponse({"deliveries": rows})


REST_ROUTES: list[BaseRoute] = [Route(JWKS_PATH, _jwks, methods=["GET"])]
LOCAL_ROUTES: list[BaseRoute] = [
    Route(LOCAL_JWKS_PATH, _jwks, methods=["GET"]),
    Route(DELIVERIES_PATH, _deliveries, methods=["GET"]),
]
