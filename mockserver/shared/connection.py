"""One Redis for every replica: its URL, the key names, and clients that fail fast.

Every key lives under one prefix (``ray2-mock:`` by default), so an emulator may share a
Redis database with other programs, and ``POST /_mock/reset`` deletes only its own keys.
Clients time out in about a second: an unreachable Redis makes a request fail quickly with
fal's 503 (``unavailable.py``), never hang, and the next request reconnects by itself.
"""

from __future__ import annotations

import functools
import secrets
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis
    import redis.asyncio

    from mockserver.shared.failfast import Breaker

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CONNECT_TIMEOUT = 0.5
"""Seconds to open a connection: Redis on the same network answers in well under a ms."""
COMMAND_TIMEOUT = 1.0
"""Seconds a command may take before the request fails (the slowest, a reset's UNLINK of
every key, takes tens of ms)."""
DEFAULT_PREFIX = "ray2-mock:"


def is_redis_url(value: str) -> bool:
    return value.startswith(REDIS_SCHEMES)


def mask_url(url: str) -> str:
    """``url`` with every password replaced by ``****``: in the user part
    (``redis://:secret@host``) and in the query (``?password=secret``, as redis-py reads it)."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:****@{netloc.rpartition('@')[2]}"
    query = urllib.parse.urlencode(
        [
            (name, "****" if name.lower() == "password" else value)
            for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def new_replica_id() -> str:
    """This process among the replicas: host, pid and a random part (a restarted process on the
    same pid is another replica)."""
    return f"{socket.gethostname()}:{secrets.token_hex(4)}"


class Keys:
    """Every key name, in one place (``prefix`` first)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.seq = f"{prefix}seq"
        """The last submission number (``RequestRecord.seq``)."""
        self.all = f"{prefix}all"
        """Every request id, scored by ``seq`` (the newest for the dashboard and the ledger)."""
        self.unfinished = f"{prefix}unfinished"
        """Queued and running ids, scored by queue order (priority, then submission)."""
        self.queued = f"{prefix}queued"
        """Queued ids, scored by queue order: a position is one ZCOUNT."""
        self.owners = f"{prefix}owners"
        """Unfinished id -> the replica that drives it."""
        self.clock = f"{prefix}clock"
        """Seconds the emulated clock runs ahead of wall time."""
        self.events = f"{prefix}events"
        """The pub/sub channel: what changed, and which replica changed it."""

    def request(self, request_id: str) -> str:
        return f"{self.prefix}request:{request_id}"

    def request_prefix(self) -> str:
        return f"{self.prefix}request:"

    def replica(self, replica_id: str) -> str:
        """A replica's heartbeat: it exists while the replica lives."""
        return f"{self.prefix}replica:{replica_id}"

    def of(self, kind: str, name: str = "") -> str:
        """A part's own key (``journal``, ``scenarios``, ``files:<id>``...)."""
        return f"{self.prefix}{kind}:{name}" if name else f"{self.prefix}{kind}"


@dataclass
class SharedRedis:
    """The URL and this replica's clients: a blocking one for the request store (whose
    protocol is synchronous, as SQLite's is) and an asyncio one for the background work
    (pub/sub, heartbeats, the journal's writes)."""

    url: str
    keys: Keys = field(default_factory=Keys)
    replica_id: str = field(default_factory=new_replica_id)
    _sync: redis.Redis | None = None
    _async: redis.asyncio.Redis | None = None

    @property
    def sync(self) -> redis.Redis:
        """The blocking client; it fails fast while Redis is away (``failfast.py``)."""
        if self._sync is None:
            from mockserver.shared.failfast import fail_fast_client

            self._sync = fail_fast_client(
                self.url,
                self.breaker,
                socket_connect_timeout=CONNECT_TIMEOUT,
                socket_timeout=COMMAND_TIMEOUT,
                health_check_interval=0,
            )
        return self._sync

    @functools.cached_property
    def breaker(self) -> Breaker:
        from mockserver.shared.failfast import Breaker

        return Breaker()

    @property
    def aio(self) -> redis.asyncio.Redis:
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(
                self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=COMMAND_TIMEOUT
            )
        return self._async

    def pubsub(self) -> redis.asyncio.client.PubSub:
        """A subscriber connection: it waits for messages, so no command timeout applies."""
        import redis.asyncio

        return redis.asyncio.Redis.from_url(
            self.url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=None
        ).pubsub(ignore_subscribe_messages=True)

    def announce(self, kind: str, payload: str = "") -> None:
        """Tell every replica (``Replica`` hears it): ``<kind> <this replica> <payload>``."""
        self.sync.publish(self.keys.events, f"{kind} {self.replica_id} {payload}")

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
        if self._sync is not None:
            self._sync.close()
