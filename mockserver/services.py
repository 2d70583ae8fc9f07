"""Everything one emulator is made of, typed for its handlers, and how a handler reaches it.

``create_app`` builds the parts the middleware needs at once (journal, metrics, fault engine)
and the rest when the app starts (``assembly.open_services``: stores open files). Handlers
reach them with ``services(request)``; tests with ``BackgroundEmulator.services``. This module
needs none of the parts at run time (they are named for the type checker only), so every part
may import the accessor without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from mockserver.chaos.engine import FaultEngine
from mockserver.clock import Clock
from mockserver.config import Config
from mockserver.observation.journal import Journal
from mockserver.observation.metrics import Metrics

if TYPE_CHECKING:
    from mockserver.fal.api import QueueApi
    from mockserver.media import VideoRenderer
    from mockserver.queue import RequestQueue
    from mockserver.shared.connection import SharedRedis
    from mockserver.shared.replicas import Replica
    from mockserver.storage.api import Storage
    from mockserver.storage.files import Files
    from mockserver.stores import RequestStore
    from mockserver.webhooks.dispatch import WebhookDispatcher


@dataclass
class Observers:
    """What the middleware needs before the app starts: built with the app."""

    journal: Journal
    metrics: Metrics
    faults: FaultEngine
    progression: str
    """The default progression (config, else the scenario file's, else ``timed``)."""


@dataclass
class Services:
    config: Config
    clock: Clock
    observers: Observers
    store: RequestStore
    files: Files
    storage: Storage
    renderer: VideoRenderer
    queue: RequestQueue
    api: QueueApi
    webhooks: WebhookDispatcher
    routers: dict[str, Any]
    """One router per host role (``app.ROLE_ROUTERS``): the browser proxy forwards into them."""
    owns_store: bool = True
    on_reset: list[Callable[[], None]] = field(default_factory=list)
    shared: SharedRedis | None = None
    """The Redis replicas share (``--store redis://``), else None."""
    replica: Replica | None = None
    """This process among the replicas: heartbeat, adoption, what the others announce."""

    @property
    def journal(self) -> Journal:
        return self.observers.journal

    @property
    def metrics(self) -> Metrics:
        return self.observers.metrics

    @property
    def faults(self) -> FaultEngine:
        return self.observers.faults

    def reset(self) -> int:
        """Forget every request, journal entry, metric and scenario (``POST /_mock/reset``);
        returns how many journal entries were cleared."""
        self.queue.reset()
        self.api.answers.clear()
        cleared = self.journal.clear()
        self.metrics.reset()
        self.faults.reset()
        self.queue.progression = self.observers.progression
        for hook in self.on_reset:
            hook()
        if self.shared is not None:
            from mockserver.shared.replicas import RESET

            self.shared.announce(RESET)
        return cleared

    def forget_local(self) -> None:
        """Another replica reset the shared state: drop what this process holds of it. The
        queue reads its requests again rather than dropping them all: one accepted here
        between that replica's clear and its announcement still exists, and is still driven."""
        self.queue.refresh_all()
        self.api.answers.clear()
        self.metrics.reset()

    async def start(self) -> None:
        await self.webhooks.start()
        await self.queue.start()
        if self.replica is not None:
            from mockserver.shared.replicas import RESET

            self.replica.on(RESET, lambda _payload: self.forget_local())
            await self.replica.start()

    async def aclose(self) -> None:
        if self.replica is not None:
            await self.replica.stop()
        await self.queue.stop()
        await self.webhooks.aclose()
        await self.renderer.aclose()
        self.files.close()
        if self.owns_store:
            self.store.close()
        if self.shared is not None:
            await self.shared.aclose()


def services(request: Request) -> Services:
    """The emulator behind this request."""
    return request.app.state.services  # type: ignore[no-any-return]
