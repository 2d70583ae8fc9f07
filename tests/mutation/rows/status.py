"""Mutants of the ledger's "Status, logs, result" rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Result before completion",
        path="mockserver/fal/api.py",
        old='return gateway_json(body, 400, headers={"x-fal-request-id": record.request_id})',
        new='return request_error(400, IN_PROGRESS, "request_in_progress",'
        ' headers={"x-fal-request-id": record.request_id})',
        breaks="an early result carries an error_type fal never sends and loses its URLs",
    ),
    Mutant(
        row="Result before completion",
        path="contracts/server/lifecycle.py",
        old="if self.completed is None and not _in_progress(response):",
        new="if self.completed is None and response.status_code not in (400, 404):",
        breaks="the contract suite takes any early 400 or 404 for fal's in-progress answer",
    ),
)
