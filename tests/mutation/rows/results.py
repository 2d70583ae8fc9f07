"""Mutants of the ledger's "Results, outputs and server-side retries" rows."""

from tests.mutation.mutant import Mutant

VIDEO = "mockserver/production/video.py"
RETRIES = "mockserver/retries.py"
RETRIED = "Server-side retries of a queued request"
LIFETIME = "Generated file lifetime (`X-Fal-Object-Lifecycle-Preference` on submit)"

MUTANTS = (
    Mutant(
        row=LIFETIME,
        path=VIDEO,
        old="return float(seconds) if math.isfinite(seconds) and seconds > 0 else None",
        new="return None",
        breaks="a generated file never expires, whatever the submit's lifecycle says",
    ),
    Mutant(
        row=LIFETIME,
        path=VIDEO,
        old="    if emulator.files.output_expired(output.file_id):",
        new="    if False:",
        breaks="an expired generated file is still served",
    ),
    Mutant(
        row=LIFETIME,
        path=VIDEO,
        old="LIFECYCLE_HEADER, raw, exc)\n        return None",
        new="LIFECYCLE_HEADER, raw, exc)\n        return 0.0",
        breaks="an unparsable lifecycle makes the file expire at once instead of being ignored",
    ),
    Mutant(
        row=RETRIED,
        path=RETRIES,
        old="MAX_ATTEMPTS = 10",
        new="MAX_ATTEMPTS = 9",
        breaks="a request whose runner keeps failing gets 9 attempts, not fal's 10",
    ),
    Mutant(
        row=RETRIED,
        path=RETRIES,
        old="RETRIED_STATUS = frozenset({503, 504})",
        new="RETRIED_STATUS = frozenset({503})",
        breaks="a runner's 504 is final instead of retried",
    ),
    Mutant(
        row=RETRIED,
        path=RETRIES,
        old="RETRIED_STATUS = frozenset({503, 504})",
        new="RETRIED_STATUS = frozenset({500, 502, 503, 504})",
        breaks="500 and 502 are retried, which fal documents it does not",
    ),
    Mutant(
        row=RETRIED,
        path="mockserver/queue.py",
        old='record.mode == "queue"',
        new='record.mode in ("queue", "sync")',
        breaks="a sync run is retried, though fal retries only queued requests",
    ),
    Mutant(
        row=RETRIED,
        path="mockserver/production/scenario.py",
        old="(failing is None or record.attempt <= failing)",
        new="True",
        breaks="a retried attempt fails again: 'fail the next 2 attempts' never succeeds",
    ),
    Mutant(
        row=RETRIED,
        path="mockserver/chaos/engine.py",
        old="taken = 0 if scenario.times is None else min(scenario.times - scenario.hits, extra)",
        new="taken = 0",
        breaks="a scenario's times counts requests, not attempts: the retry succeeds at once",
    ),
    Mutant(
        row="`X-Fal-No-Retry`",
        path=RETRIES,
        old='NO_RETRY_VALUES = frozenset({"1", "true", "yes"})',
        new='NO_RETRY_VALUES = frozenset({"1"})',
        breaks="X-Fal-No-Retry: true or yes still lets fal retry",
    ),
    Mutant(
        row="`X-Fal-No-Retry`",
        path=RETRIES,
        old='return headers.get(NO_RETRY_HEADER, "").strip().lower() not in NO_RETRY_VALUES',
        new="return True",
        breaks="X-Fal-No-Retry is ignored",
    ),
    Mutant(
        row="`X-Fal-Retry-Config` on Ray 2",
        path=RETRIES,
        old='return headers.get(NO_RETRY_HEADER, "").strip().lower() not in NO_RETRY_VALUES',
        new='return "x-fal-retry-config" not in headers',
        breaks="a retry budget sent to a public model is honoured",
    ),
    Mutant(
        row="Start timeout and retries",
        path="mockserver/queue.py",
        old="if record.start_deadline is not None and at >= record.start_deadline:",
        new="if False:",
        breaks="a request is retried after its start deadline instead of failing with 504 user",
    ),
)
