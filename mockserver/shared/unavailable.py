"""What a request gets while Redis cannot be reached: fal's 503 at once, never a hang.

The gateway's own 503 (``fal.catalogue.GATEWAY_ERRORS``: the request-error shape), with a note
that says what is really down. Redis clients time out in about a second
(``connection.COMMAND_TIMEOUT``) and reconnect on the next request, so the emulator recovers
by itself when Redis returns."""

from __future__ import annotations

import logging

from starlette.responses import Response

from mockserver.fal.catalogue import GATEWAY_ERRORS

log = logging.getLogger(__name__)

NOTE = "ray2-mock: the shared store (Redis) is unreachable; 503 until it is back"


def unavailable(exc: BaseException) -> Response:
    log.warning("Redis unreachable: %s", exc)
    return GATEWAY_ERRORS[503].response(503, {"x-ray2-mock-note": NOTE})


def redis_failures() -> tuple[type[BaseException], ...]:
    """The errors that mean "Redis is unreachable" (a refused or timed-out connection)."""
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, BusyLoadingError)
