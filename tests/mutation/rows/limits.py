"""Mutants of the ledger's "Concurrency and rate limits" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Queue submit while every slot is busy",
        path="mockserver/fal/api.py",
        old="admit=lambda: self._queue_room(request, endpoint_id),",
        new="admit=self._free_slot,",
        breaks="queue submits are refused with 429 when every slot is busy",
    ),
    Mutant(
        row="Sync run while every slot is busy",
        path="mockserver/fal/api.py",
        old="if self.queue.slots_taken() < self.queue.slots:",
        new="if True:",
        breaks="a sync run over the limit waits instead of being answered 429",
    ),
    Mutant(
        row="Sync run while every slot is busy",
        path="mockserver/fal/catalogue.py",
        old='headers=(("x-fal-needs-retry", "1"),),',
        new="headers=(),",
        breaks="the concurrency 429 lacks the X-Fal-Needs-Retry header fal documents",
    ),
    Mutant(
        row="`fal_max_queue_length`",
        path="mockserver/fal/api.py",
        old="if (waiting := self.queue.waiting(endpoint_id)) <= limit:",
        new="if (waiting := self.queue.waiting(endpoint_id)) < limit:",
        breaks="a submit is refused when exactly N wait, not only when more than N do",
    ),
)
