"""Mutants of the ledger's "Cancel" rows."""

from tests.mutation.mutant import Mutant

API = "mockserver/fal/api.py"
QUEUE = "mockserver/queue.py"

MUTANTS = (
    Mutant(
        row="Cancel a queued or running request",
        path=API,
        old='"CANCELLATION_REQUESTED": 202,',
        new='"CANCELLATION_REQUESTED": 200,',
        breaks="an accepted cancel answers 200 instead of 202",
    ),
    Mutant(
        row="Cancel a finished request",
        path=API,
        old='return JSONResponse({"status": outcome}, CANCEL_RESPONSES[outcome], headers=headers)',
        new='return gateway_json({"status": outcome}, CANCEL_RESPONSES[outcome], headers=headers)',
        breaks="the cancel answer is written with the gateway's spacing, not compact",
    ),
    Mutant(
        row="After cancelling a queued request",
        path=QUEUE,
        old='    "status_code": 499,\n    "error_type": "client_cancelled",',
        new='    "status_code": 400,\n    "error_type": "client_cancelled",',
        breaks="the result of a request removed from the queue is a 400, not 499",
    ),
    Mutant(
        row="After cancelling a running request",
        path=QUEUE,
        old='CANCELLED_WHILE_RUNNING = {"status_code": 499, "body": {"detail": CANCEL_MESSAGE}}',
        new="CANCELLED_WHILE_RUNNING = REMOVED_FROM_QUEUE",
        breaks="a running request cancelled answers the gateway's error, not the app's 499",
    ),
)
