"""One webhook signing key for every replica, kept in Redis.

A receiver fetches the JWKS from whichever replica the load balancer picks and must verify a
delivery whichever replica sent it: so the first replica to need a key makes it and stores it
(``SET NX``: one wins a race, the others read the winner's), and every replica signs with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockserver.webhooks.keys import WebhookSigner, new_key_pem

if TYPE_CHECKING:
    from mockserver.shared.connection import SharedRedis

KEY_NAME = "webhook-key"


def shared_signer(shared: SharedRedis) -> WebhookSigner:
    key = shared.keys.of(KEY_NAME)
    shared.sync.set(key, new_key_pem(), nx=True)
    pem = shared.sync.get(key)
    assert pem is not None, "the webhook key was just stored"
    return WebhookSigner.from_pem(pem, f"Redis key {key}")
