"""Mutants of the ledger's "Retention" row (how long fal keeps a completed request)."""

from tests.mutation.mutant import Mutant

RETENTION = "mockserver/retention.py"

MUTANTS = (
    Mutant(
        row="Retention",
        path=RETENTION,
        old="PAYLOAD_STORAGE_SECONDS = 30 * 24 * 3600.0",
        new="PAYLOAD_STORAGE_SECONDS = 3600.0",
        breaks="by default a result is gone after an hour, not fal's 30 days of payload storage",
    ),
    Mutant(
        row="Retention",
        path=RETENTION,
        old='return headers.get(STORE_IO_HEADER, "").strip() != STORE_IO_OFF',
        new="return True",
        breaks="X-Fal-Store-IO: 0 is ignored: the result stays 30 days, not 1 hour",
    ),
    Mutant(
        row="Retention",
        path=RETENTION,
        old="UNSTORED_SECONDS = 3600.0",
        new="UNSTORED_SECONDS = 7200.0",
        breaks="with storage off a result stays two hours, not fal's one",
    ),
    Mutant(
        row="Retention",
        path=RETENTION,
        old="UNSTORED_LARGE_SECONDS = 360.0",
        new="UNSTORED_LARGE_SECONDS = 3600.0",
        breaks="with storage off a result of 10 KB or more stays an hour, not 6 minutes",
    ),
    Mutant(
        row="Retention",
        path="mockserver/stores.py",
        old="+ retention_seconds(record, self.retention_seconds)",
        new="+ 10**12",
        breaks="the memory store never forgets a completed request",
    ),
)
