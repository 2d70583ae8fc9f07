"""What the middleware feeds, shared by replicas: the journal, the metrics, the scenarios.

``shared_observers`` builds them in place of one process's (``create_app``); ``observing`` runs
their background work (the journal's writer, the metrics' publisher) while the app serves and
ties them to the rest (a reset, the default progression a scenario document sets)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from mockserver.chaos.model import FaultDocument
from mockserver.services import Observers
from mockserver.shared.journal import SharedJournal
from mockserver.shared.metrics import SharedMetrics
from mockserver.shared.scenarios import SharedFaultEngine

if TYPE_CHECKING:
    from mockserver.config import Config
    from mockserver.services import Services
    from mockserver.shared.connection import SharedRedis


def shared_observers(
    shared: SharedRedis, config: Config, document: FaultDocument, progression: str
) -> Observers:
    return Observers(
        journal=SharedJournal(shared, config.journal_size),
        metrics=SharedMetrics(shared),
        faults=SharedFaultEngine(shared, document, seed=config.seed, fault_rate=config.fault_rate),
        progression=progression,
    )


@contextlib.asynccontextmanager
async def observing(services: Services) -> AsyncIterator[None]:
    journal, metrics, faults = services.journal, services.metrics, services.faults
    assert isinstance(journal, SharedJournal) and isinstance(metrics, SharedMetrics)
    assert isinstance(faults, SharedFaultEngine)

    def progression(chosen: str | None) -> None:
        services.queue.progression = chosen or services.observers.progression

    faults.on_progression = progression
    services.on_reset.append(metrics.clear_shared)
    await journal.start()
    metrics.start(lambda: services.renderer.renders_started)
    try:
        yield
    finally:
        await metrics.stop()
        await journal.stop()
