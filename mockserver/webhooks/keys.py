"""The emulator's webhook signing key: Ed25519, persisted in the state dir, published as JWKS.

fal signs each webhook delivery with Ed25519 and publishes the public keys at
``https://rest.fal.ai/.well-known/jwks.json`` (fal's webhooks docs, 2026; older docs and many
verifiers name ``rest.alpha.fal.ai``: the emulator answers on both); receivers rebuild the
message ``"{request_id}\\n{user_id}\\n{timestamp}\\n{sha256_hex(raw body)}"`` and verify the
hex signature against each key. The key survives restarts, so a receiver
that cached the JWKS keeps verifying; several processes sharing a state dir share one key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_FILE = "webhook-ed25519.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes fal signs (documented so receivers can verify)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def new_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class WebhookSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_bytes = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        # RFC 7638 thumbprint: a kid that changes exactly when the key does.
        canonical = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": _b64url(self.public_bytes)},
            separators=(",", ":"),
            sort_keys=True,
        )
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def load_or_create(cls, state_dir: Path) -> WebhookSigner:
        """Read the key from the state dir, creating it once (race-safe across processes)."""
        path = Path(state_dir) / KEY_FILE
        if not path.exists():
            pem = new_key_pem()
            temp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            try:
                os.link(temp, path)  # fails if another process won the race: use theirs
            except FileExistsError:
                pass
            finally:
                temp.unlink()
        return cls.from_pem(path.read_bytes(), str(path))

    @classmethod
    def from_pem(cls, pem: bytes, where: str) -> WebhookSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{where} does not hold an Ed25519 private key")
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(self.public_bytes),
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                }
            ]
        }

    def sign(self, request_id: str, user_id: str, timestamp: str, body: bytes) -> str:
        return self._key.sign(signing_message(request_id, user_id, timestamp, body)).hex()
