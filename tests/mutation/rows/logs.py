"""Mutants of the ledger's "Status, logs, result" rows about logs, the status stream and
``metrics.inference_time``."""

from tests.mutation.mutant import Mutant

INFERENCE = "`metrics.inference_time`"

MUTANTS = (
    Mutant(
        row=INFERENCE,
        path="mockserver/records.py",
        old="return self.completed_at - self.started_at  # unrounded",
        new="return round(self.completed_at - self.started_at, 3)  # unrounded",
        breaks="inference_time is rounded to milliseconds; live sends the raw float",
    ),
)
