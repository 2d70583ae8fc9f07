"""Mutants of the ledger's key rows (unknown key, key format, Bearer)."""

from tests.mutation.mutant import Mutant

AUTH = "mockserver/fal/auth.py"

MUTANTS = (
    Mutant(
        row="Unknown key",
        path=AUTH,
        old='NO_USER = "No user found for Key ID and Secret"',
        new='NO_USER = "No user found for key"',
        breaks="an unknown key's 401 has another text",
    ),
    Mutant(
        row="Key without `:`",
        path=AUTH,
        old="Expected '<key_id>:<key_secret>'.\"",
        new="Expected '<key_id>:<key_secret>'\"",
        breaks="the key-format 401 loses its final full stop",
    ),
    Mutant(
        row="`Bearer`",
        path=AUTH,
        old="return NO_USER if required_key is not None else None",
        new="return NO_USER",
        breaks="every Bearer token is refused, fal auth login users included",
    ),
)
