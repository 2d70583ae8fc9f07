"""fal's key check, as the gateway answers it on every host (queue, run, storage).

fal keys are ``<key_id>:<key_secret>``, sent as ``Authorization: Key <key>``. A key without the
colon is refused before any lookup, a well-formed unknown key is "No user found"; both are 401
with a bare ``{"detail": ...}`` (no ``error_type``), written by the gateway. ``Bearer`` carries
a user token from ``fal auth login`` (fal_client sends it when no key is set); the emulator
cannot verify those, so it accepts them unless a fixed key is configured.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from pathlib import Path

from starlette.responses import Response

from mockserver.fal.errors import request_error
from mockserver.observation.masking import mask_secret

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


def refusal(header: str, required_key: str | Collection[str] | None) -> str | None:
    """Why fal would refuse this ``Authorization`` value (None: accepted). ``required_key``:
    the one key accepted (``--api-key``), the set of them (``--api-keys``), or None (any
    well-formed key)."""
    try:
        return _known_refusal(header, required_key)
    except TypeError:  # a collection that cannot be a cache key (a set, a list)
        return _refusal(header, required_key)


@functools.lru_cache(maxsize=256)  # a client sends the same value on every call
def _known_refusal(header: str, required_key: str | Collection[str] | None) -> str | None:
    return _refusal(header, required_key)


def _refusal(header: str, required_key: str | Collection[str] | None) -> str | None:
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
    if required_key is not None and not _is_accepted(credentials, required_key):
        return NO_USER
    return None


def _is_accepted(credentials: str, required_key: str | Collection[str]) -> bool:
    if isinstance(required_key, str):
        return credentials == required_key
    return credentials in required_key


def check_key(header: str, required_key: str | Collection[str] | None) -> Response | None:
    """The 401 fal answers for this ``Authorization`` value, or None when it is accepted."""
    reason = refusal(header, required_key)
    return None if reason is None else request_error(401, reason, None)


class KeyFileError(ValueError):
    """A team key file the emulator cannot use; the message names the file and the line."""


def load_key_file(path: Path) -> tuple[str, ...]:
    """``--api-keys FILE``: one fal key (``<key_id>:<key_secret>``) a line, ``#`` comments and
    blank lines skipped. Every key id appears once. Errors name the line, never a secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: cannot read the key file ({exc.__class__.__name__})") from None
    keys: list[str] = []
    seen: dict[str, int] = {}
    masks: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.split("#", 1)[0].strip()
        if not key:
            continue
        where = f"{path}:{number}"
        if any(c.isspace() for c in key) or not is_well_formed_key(key):
            raise KeyFileError(f"{where}: not a fal key; each line holds one <key_id>:<key_secret>")
        key_id = key.partition(":")[0]
        if key_id in seen:
            raise KeyFileError(f"{where}: key id {key_id!r} already on line {seen[key_id]}")
        mask = mask_secret(f"Key {key}")
        if mask in masks:
            raise KeyFileError(
                f"{where}: the key ends in the same four characters as line {masks[mask]}'s; "
                "the ledger tells keys apart by them (masked), so give one another secret"
            )
        seen[key_id] = number
        masks[mask] = number
        keys.append(key)
    if not keys:
        raise KeyFileError(f"{path}: no key in the file (one <key_id>:<key_secret> a line)")
    return tuple(keys)
