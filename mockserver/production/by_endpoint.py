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
from mockserver.queue import Producer, Production
from mockserver.records import RequestRecord


class EndpointProducers:
    def __init__(self, producers: Mapping[str, Producer]) -> None:
        self.producers = dict(producers)

    async def __call__(self, record: RequestRecord) -> Production:
        return await self.producers[ENDPOINTS[record.endpoint_id].facts.producer](record)
