"""Mutants of the ledger's "Results, outputs and server-side retries" rows."""

from tests.mutation.mutant import Mutant

VIDEO = "mockserver/production/video.py"
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
)
