"""The producer each endpoint's row names: the one seam between the queue and what makes an
output.

The table (``contracts/schemas/endpoints.json``) says which producer answers an endpoint
(``producer``); the assembly registers producers by those names. The Ray 2 family's rows all
name ``video`` (the MP4 renderer); an endpoint answered by rule plugs in as rows and one more
producer here, not as a second stack.
"""

from __future__ import annotations

from collections.abc import Mapping

from mockserver.fal.endpoints import ENDPOINTS
from mockserver.queue import Producer, Production, produced_at_once
from mockserver.records import RequestRecord


class EndpointProducers:
    def __init__(self, producers: Mapping[str, Producer]) -> None:
        self.producers = dict(producers)

    async def __call__(self, record: RequestRecord) -> Production:
        return await self._producer(record)(record)

    def ready(self, record: RequestRecord) -> Production | None:
        """The endpoint's producer's output at once, when it has one (``produced_at_once``)."""
        return produced_at_once(self._producer(record), record)

    def _producer(self, record: RequestRecord) -> Producer:
        return self.producers[ENDPOINTS[record.endpoint_id].facts.producer]
