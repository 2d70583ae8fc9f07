"""Mutants of the ledger's "Auth" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="No credentials",
        path="mockserver/fal/auth.py",
        old='NO_CREDENTIALS = "Authorization header is required"',
        new='NO_CREDENTIALS = "Missing Authorization header"',
        breaks="a request without a key is refused with a text fal does not send",
    ),
)
