"""One typed configuration object for the emulator (CLI flags and tests build it)."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

from mockserver.fal.auth import is_well_formed_key
from mockserver.fal.hosts import is_loopback
from mockserver.retention import PAYLOAD_STORAGE_SECONDS
from mockserver.shared.connection import is_redis_url, mask_url
from mockserver.timing import TIMING_PROFILES, TimingProfile

DEFAULT_PORT = 8765
RemoteImages = Literal["placeholder", "fetch", "fail"]
REMOTE_IMAGE_POLICIES: tuple[RemoteImages, ...] = ("placeholder", "fetch", "fail")
"""What an image URL on another host gets (``media/images.py`` explains each)."""


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls_port: int | None = None
    """HTTPS listener for fal's host names (None: port + 1; 0 disables TLS and the proxy)."""
    proxy_port: int | None = None
    """CONNECT proxy that tunnels only fal hosts to the TLS listener (None: port + 2)."""
    state_dir: Path = field(default_factory=lambda: Path(".ray2-mock"))
    store: str = "sqlite"
    """``sqlite`` (the default: one process's file, or the workers'), ``memory``, or a Redis URL
    (``redis://HOST:PORT/DB``, ``rediss://``, ``unix://``) that replicas on any hosts share."""
    timing: str = "fast"
    capacity: int | None = None
    api_key: str | None = None
    """When set, only ``Authorization: Key <api_key>`` is accepted."""
    api_keys: tuple[str, ...] = ()
    """A team's keys (``--api-keys FILE``): when set, exactly these (and ``api_key``) are
    accepted on fal's routes, and the ledger shows each one's spend."""
    admin_token: str | None = field(default=None, repr=False)
    """The token the control plane (``/_mock/*``, the dashboard) requires: ``Authorization:
    Bearer <token>``, or HTTP basic auth with it as the password. None on a loopback bind:
    the control plane is open there; beyond loopback a token is required (``serve`` makes
    one). Never logged, never written to disk."""
    max_body_bytes: int = 10 * 1024 * 1024
    render_workers: int = 2
    remote_images: RemoteImages = "placeholder"
    """Image URLs on other hosts: placeholder (offline, the default), fetch, or fail."""
    stream_keepalive_seconds: float = 15.0
    """Real seconds between the status stream's ``: ping`` comments (fal's docs: every 15 s)."""
    stream_repeat_seconds: float = 5.0
    """Real seconds after which the status stream sends the unchanged status again (logs
    ``[]``) while the request is queued or running, as a live capture shows; 0 turns it off.
    [inferred: the cadence is not published]"""
    log_window_seconds: float = 300.0
    """``?logs=1`` answers the lines of the last this many emulated seconds, ending now or at
    the finish (fal's gateway: five minutes); 0 answers every line so far."""
    media_cache_dir: Path | None = None
    """Rendered videos are content-addressed, so several emulators may share one cache."""
    max_upload_bytes: int = 1024 * 1024 * 1024
    """Largest file the storage emulation accepts (single, signed PUT or multipart total)."""
    webhook_allow: tuple[str, ...] = ()
    """Webhook hosts allowed besides loopback (the emulator must not forward to the internet)."""
    webhook_max_retries: int = 10
    """fal: "retry 10 times in the span of 2 hours"."""
    webhook_retry_base_seconds: float = 15.0
    webhook_retry_max_seconds: float = 1800.0
    webhook_timeout_seconds: float = 15.0
    progression: str | None = None
    """Default progression: timed | immediate | manual | polls:N (None: the scenario file's,
    else timed)."""
    journal_size: int = 1000
    """Entries the request journal keeps (a ring: the oldest fall out); 0 turns it off."""
    retention_seconds: float = PAYLOAD_STORAGE_SECONDS
    """fal's payload-storage period (30 days): how long, in emulated seconds, a completed
    request stays known in the memory store; with ``X-Fal-Store-IO: 0`` fal's 1 h (6 min for a
    result of 10 KB or more), never longer (``retention.py``)."""
    retention_count: int = 10_000
    """Completed requests the memory store keeps at most; the oldest are forgotten first."""
    scenarios_path: Path | None = None
    passthrough: tuple[str, ...] = ()
    """Endpoint ids whose calls go to live fal (``*``: every endpoint the emulator does not
    know); off when empty."""
    passthrough_key: str | None = field(default=None, repr=False)
    """The user's real fal key, used only on forwarded calls."""
    passthrough_budget: int = 2
    """How many submits and sync runs may be forwarded (each may cost money)."""
    passthrough_upstream: str | None = None
    """Where forwarded calls go (queue at the root, sync run under /run); None: live fal."""
    endpoint_specs: tuple[Path, ...] = ()
    """fal OpenAPI documents (files or folders) whose endpoints are served by their own
    models (``--endpoint-spec``); registered for the whole process when the app is made."""
    """YAML/JSON scenario file loaded at start (see ``chaos/parse.py``)."""
    fault_rate: float | None = None
    """Probability of each random fault kind per request (None: the file's, else none)."""
    seed: int | None = None
    """Seed of the random faults: same seed, same requests -> same faults."""
    shared_store: bool = False
    """Set in each worker of ``serve --workers N``: other processes write the same SQLite
    file, so reads go to the file instead of trusting what this process holds."""
    validate_at_submit: bool = False
    """Opt-in fast failure: a queue submit with invalid input answers its 422 at once. Live
    fal accepts it and the 422 comes from the result, which is the default here too."""

    def __post_init__(self) -> None:
        if self.store not in ("sqlite", "memory") and not is_redis_url(self.store):
            raise ValueError(
                f"store must be sqlite, memory or a redis:// URL, not {mask_url(self.store)!r}"
            )
        for name in ("stream_repeat_seconds", "log_window_seconds"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= 0)
            ):
                raise ValueError(f"{name} must be a number of seconds, 0 or more, not {value!r}")
        if self.api_key is not None and not is_well_formed_key(self.api_key):
            raise ValueError(
                f"api_key {self.api_key!r} is not a fal key: fal keys are <key_id>:<key_secret>"
            )
        self.api_keys = tuple(self.api_keys)
        for key in self.api_keys:
            if not isinstance(key, str) or not is_well_formed_key(key):
                raise ValueError("every api_keys entry must be a fal key, <key_id>:<key_secret>")
        if self.admin_token is not None and not is_usable_token(self.admin_token):
            # the value itself is never echoed: it is a secret even when it is a bad one
            raise ValueError(
                "the admin token must be 8 to 512 printable ASCII characters, no spaces"
            )

    @cached_property
    def accepted_keys(self) -> str | frozenset[str] | None:
        """What fal's key check accepts: any well-formed key (None), the one ``api_key``, or
        the team's keys (``api_keys``, with ``api_key`` if both are set)."""
        if not self.api_keys:
            return self.api_key
        return frozenset(self.api_keys) | ({self.api_key} if self.api_key else set())

    @property
    def own_key(self) -> str | None:
        """The key the emulator adds itself (the browser proxy, the fixture's client when
        ``FAL_KEY`` is unset) when it checks keys: ``api_key``, else the team's first."""
        return self.api_key or (self.api_keys[0] if self.api_keys else None)

    @property
    def on_loopback(self) -> bool:
        """Bound to a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``) only."""
        return is_loopback(self.host)

    def tls_port_after(self, port: int) -> int:
        """The TLS listener's port once the plain one is bound at ``port`` (0: any free one)."""
        return self.tls_port if self.tls_port is not None else (port + 1 if self.port else 0)

    def proxy_port_after(self, port: int) -> int:
        """The CONNECT proxy's port once the plain listener is bound at ``port``."""
        return self.proxy_port if self.proxy_port is not None else (port + 2 if self.port else 0)

    @property
    def timing_profile(self) -> TimingProfile:
        profile = TIMING_PROFILES[self.timing]
        if self.capacity is None:
            return profile
        return replace(profile, capacity=self.capacity)

    @property
    def media_dir(self) -> Path:
        return self.media_cache_dir or self.state_dir / "media"

    @property
    def redis_url(self) -> str | None:
        """The shared Redis, when the store is one."""
        return self.store if is_redis_url(self.store) else None

    @property
    def store_label(self) -> str:
        """The store as a log line may show it: a Redis URL without its password."""
        return mask_url(self.store)

    @property
    def database_path(self) -> Path:
        return self.state_dir / "requests.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.state_dir / "files"


def is_usable_token(token: object) -> bool:
    """An admin token a header can carry as is: printable ASCII, no spaces, 8 to 512 long."""
    return isinstance(token, str) and 8 <= len(token) <= 512 and all("!" <= c <= "~" for c in token)


def with_admin_token(config: Config) -> tuple[Config, bool]:
    """The config ``serve`` runs: bound beyond loopback without an admin token, one is made
    (``secrets.token_urlsafe``, 256 bits) and True says so, for the banner to print it once.
    The choice is Jupyter's: a service that starts closed and says how to get in, rather than
    one that refuses to start or starts open."""
    if config.admin_token is not None or config.on_loopback:
        return config, False
    return replace(config, admin_token=secrets.token_urlsafe(32)), True
