"""Credentials never leave the process in full: ``Key abcdef0123`` is kept as ``Key ****0123``."""

from __future__ import annotations


def mask_secret(value: str) -> str:
    """Enough of a key to tell two apart, useless to anyone who reads a journal or a record."""
    scheme, sep, credentials = value.strip().partition(" ")
    if not sep:
        scheme, credentials = "", scheme
    tail = credentials[-4:] if len(credentials) >= 8 else ""
    masked = f"****{tail}"
    return f"{scheme} {masked}" if scheme else masked
