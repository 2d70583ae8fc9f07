"""fal's server-side retries of queued requests: which failures fal retries, how often, and
the opt-out.

fal's docs (2026): "If a runner fails during processing (503, 504, or a connection error), the
request is automatically re-queued and retried up to 10 times" (queue); 500 and 502 are not
retried and "4XX responses are treated as client errors and are never retried" (retries);
``X-Fal-No-Retry`` "1", "true" or "yes" disables retries (platform headers); direct (sync)
calls are never retried. ``X-Fal-Retry-Config`` "is ignored on shared or public model APIs",
which Ray 2 is, so it is not read. Each attempt gets its own gateway request id: "if the
request failed and was retried, gateway_request_id will have the value of the last tried
request" (webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ATTEMPTS = 10
"""Attempts in all, the first included ("up to 10 total attempts")."""
RETRIED_STATUS = frozenset({503, 504})
NO_RETRY_HEADER = "x-fal-no-retry"
NO_RETRY_VALUES = frozenset({"1", "true", "yes"})
"""The documented values; matched without regard to case [INF]."""


def retried(error: Mapping[str, Any]) -> bool:
    """A failure of the runner that fal retries: a request (gateway) error answering 503 or
    504 (runner gone, disconnected, refused, timed out). What the app itself answered (its
    model errors, text, any 4xx, 500, 502) is final."""
    body = error.get("body")
    return (
        error.get("status_code") in RETRIED_STATUS
        and isinstance(body, dict)
        and isinstance(body.get("detail"), str)
        and bool(error.get("error_type"))
    )


def retries_wanted(headers: Mapping[str, str]) -> bool:
    return headers.get(NO_RETRY_HEADER, "").strip().lower() not in NO_RETRY_VALUES
