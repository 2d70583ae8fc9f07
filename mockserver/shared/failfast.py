"""Fail fast while Redis hangs: one call waits out the client timeout, the rest are refused
at once.

The request store's client blocks the event loop (the store protocol is synchronous, as
SQLite's is). While Redis hangs (frozen, packets lost) every blocking call would wait its
whole timeout in turn, so N requests arriving together would wait N seconds. After one call
times out, the breaker opens and every blocking call raises at once, until the replica's
heartbeat, sent on the asyncio client (which never blocks the loop), finds Redis answering
again and closes it. Only a timeout opens it: a refused connection is fast already. Without a
heartbeat (a store used alone) it lets one call try again after ``RETRY_SECONDS``."""

from __future__ import annotations

import time
from typing import Any

import redis
import redis.client
from redis.exceptions import ConnectionError, TimeoutError

HANGS = (TimeoutError,)
"""What opens the breaker: a call that waited its whole timeout (Redis frozen, packets lost).
A refused connection fails at once by itself, and must not hold back the first call after
Redis is back."""
RETRY_SECONDS = 5.0


class Breaker:
    def __init__(self) -> None:
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def check(self) -> None:
        if self.opened_at is None:
            return
        if time.monotonic() - self.opened_at < RETRY_SECONDS:
            raise ConnectionError("Redis did not answer a moment ago; refused without waiting")
        self.opened_at = time.monotonic()  # this call tries; the others keep failing fast

    def trip(self) -> None:
        if self.opened_at is None:
            self.opened_at = time.monotonic()

    def close(self) -> None:
        self.opened_at = None


class FailFastPipeline(redis.client.Pipeline):
    breaker: Breaker

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        self.breaker.check()
        try:
            return super().execute(raise_on_error)
        except HANGS:
            self.breaker.trip()
            raise


class FailFastRedis(redis.Redis):
    breaker: Breaker

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.breaker.check()
        try:
            return super().execute_command(*args, **options)
        except HANGS:
            self.breaker.trip()
            raise

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> FailFastPipeline:
        pipe = FailFastPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.breaker = self.breaker
        return pipe


def fail_fast_client(url: str, breaker: Breaker, **options: Any) -> FailFastRedis:
    client = FailFastRedis.from_url(url, **options)
    client.breaker = breaker
    return client
