"""Mutants of the ledger's "Cancel" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Cancel a finished request",
        path="mockserver/fal/api.py",
        old='return JSONResponse({"status": outcome}, CANCEL_RESPONSES[outcome], headers=headers)',
        new='return gateway_json({"status": outcome}, CANCEL_RESPONSES[outcome], headers=headers)',
        breaks="the cancel answer is written with the gateway's spacing, not compact",
    ),
)
