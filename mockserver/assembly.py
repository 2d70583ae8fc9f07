"""Builds one emulator's parts and wires them together (the queue, its producers, the
storage, the APIs, the webhooks): the one module that imports every part, imported by the app
only."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockserver.clock import Clock
from mockserver.config import Config
from mockserver.fal.api import QueueApi
from mockserver.media import VideoRenderer
from mockserver.production.by_endpoint import EndpointProducers
from mockserver.production.generic import SynthesisProducer
from mockserver.production.scenario import ScenarioProducer
from mockserver.production.video import OutputPublisher, VideoProducer
from mockserver.queue import Producer, RequestQueue
from mockserver.services import Observers, Services
from mockserver.shared.connection import SharedRedis
from mockserver.storage.api import Storage
from mockserver.storage.files import FileStore
from mockserver.stores import MemoryStore, RequestStore, SharedSqliteStore, SqliteStore
from mockserver.webhooks.dispatch import RetryPolicy, WebhookDispatcher

if TYPE_CHECKING:
    from mockserver.webhooks.keys import WebhookSigner

PRODUCERS: dict[str, Callable[[VideoRenderer], Producer]] = {
    "video": VideoProducer,
    "synthesis": SynthesisProducer,
}
"""What makes an output, by the endpoint rows' ``producer`` (``endpoints.json``), each built
with the emulator's renderer."""


def _shared_signer(shared: SharedRedis) -> WebhookSigner:
    from mockserver.shared.signing import shared_signer  # cryptography: on the first webhook

    return shared_signer(shared)


def open_services(
    config: Config,
    clock: Clock,
    observers: Observers,
    routers: dict[str, Any],
    store: RequestStore | None = None,
    shared: SharedRedis | None = None,
) -> Services:
    """Open the stores and build the queue, its producers, the APIs and the webhooks."""

    config.state_dir.mkdir(parents=True, exist_ok=True)
    redis_store = None
    if shared is not None and store is None:
        from mockserver.shared.store import RedisStore

        redis_store = RedisStore(shared)
    request_store = (
        store
        or redis_store
        or (
            MemoryStore(
                now=clock.now,
                retention_seconds=config.retention_seconds,
                retention_count=config.retention_count,
            )
            if config.store == "memory"
            else SharedSqliteStore(config.database_path)
            if config.shared_store
            else SqliteStore(config.database_path)
        )
    )
    shared_files = None
    if shared is not None:  # uploads and outputs any replica serves
        from mockserver.shared.files import SharedFileStore

        shared_files = SharedFileStore(config.files_dir, clock, shared, config.media_dir)
    files = shared_files or FileStore(config.files_dir, clock)
    storage = Storage(files, config)
    renderer = VideoRenderer(
        config.media_dir,
        max_workers=config.render_workers,
        remote_images=config.remote_images,
        resolve_local_url=storage.resolve_local_url,
    )
    producers = EndpointProducers({name: make(renderer) for name, make in PRODUCERS.items()})
    producer = OutputPublisher(
        ScenarioProducer(producers, config.media_dir, observers.metrics), files
    )
    queue = RequestQueue(
        request_store,
        clock,
        config.timing_profile,
        producer,
        progression=observers.progression,
        resume=redis_store is None,
        told_of_changes=redis_store is not None,
    )
    webhooks = WebhookDispatcher(
        config.state_dir,
        clock,
        RetryPolicy.from_config(config),
        config.webhook_allow,
        signer_source=None if shared is None else functools.partial(_shared_signer, shared),
    )
    api = QueueApi(queue, config, webhook_note=webhooks.blocked_note)
    journal = observers.journal
    queue.completion_listeners.append(producer.on_completed)
    queue.completion_listeners.append(webhooks.on_completed)
    queue.completion_listeners.append(
        lambda record: journal.annotate(record.request_id, record.notes) if record.notes else None
    )
    replica = None
    if redis_store is not None and shared is not None:
        from mockserver.shared.clock import SharedClock
        from mockserver.shared.replicas import Replica

        replica = Replica(
            shared, redis_store, queue, clock if isinstance(clock, SharedClock) else None
        )
        if shared_files is not None:
            from mockserver.shared.files import FILE_EXPIRED

            replica.on(FILE_EXPIRED, shared_files.drop_copy)
    return Services(
        shared=shared,
        replica=replica,
        config=config,
        clock=clock,
        observers=observers,
        store=request_store,
        files=files,
        storage=storage,
        renderer=renderer,
        queue=queue,
        api=api,
        webhooks=webhooks,
        routers=routers,
        owns_store=store is None,
    )
