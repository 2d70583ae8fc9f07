"""fal's key check, as the gateway answers it on every host (queue, run, storage).

fal keys are ``<key_id>:<key_secret>``, sent as ``Authorization: Key <key>``. A key without the
colon is refused before any lookup, a well-formed unknown key is "No user found"; both are 401
with a bare ``{"detail": ...}`` (no ``error_type``), written by the gateway. ``Bearer`` carries
a user token from ``fal auth login`` (fal_client sends it when no key is set); the emulator
cannot verify those, so it accepts them unless a fixed key is configured.
"""

from __future__ import annotations

from starlette.responses import Response

from mockserver.fal.errors import request_error

LOCAL_KEY = "ray2-mock-id:ray2-mock-secret"
"""The key ``ray2-mock env`` and the pytest fixture set when ``FAL_KEY`` is unset: well formed,
so it passes the format check every fal host applies, and plainly not a real key."""
NO_USER = "No user found for Key ID and Secret"
BAD_FORMAT = "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
NO_CREDENTIALS = "Authorization header is required"
"""fal's text for a request without credentials (captured on the REST host's storage initiate;
the same text on the queue and run hosts, and for an unknown scheme, is inferred)."""
LOCKED_ACCOUNT = (
    "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
)
"""fal's 403 for an account out of credit (fal-ai/fal issues #1112, #1163, 2026-07..09): the
emulator never locks an account itself, scenarios send it (``http_error: {status: 403}``)."""


def is_well_formed_key(key: str) -> bool:
    key_id, colon, secret = key.partition(":")
    return bool(colon and key_id and secret)


def refusal(header: str, required_key: str | None) -> str | None:
    """Why fal would refuse this ``Authorization`` value (None: accepted)."""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials:
        return NO_CREDENTIALS
    if scheme.lower() == "bearer":
        return NO_USER if required_key is not None else None
    if scheme.lower() != "key":
        return NO_CREDENTIALS
    if not is_well_formed_key(credentials):
        return BAD_FORMAT
    if required_key is not None and credentials != required_key:
        return NO_USER
    return None


def check_key(header: str, required_key: str | None) -> Response | None:
    """The 401 fal answers for this ``Authorization`` value, or None when it is accepted."""
    reason = refusal(header, required_key)
    return None if reason is None else request_error(401, reason, None)
