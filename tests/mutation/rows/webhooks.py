"""Mutants of the ledger's "Webhooks" rows."""

from tests.mutation.mutant import Mutant

DISPATCH = "mockserver/webhooks/dispatch.py"

MUTANTS = (
    Mutant(
        row="Success body",
        path=DISPATCH,
        old="json.dumps(payload, allow_nan=False, sort_keys=True)",
        new="json.dumps(payload, allow_nan=False)",
        breaks="webhook keys come in the emulator's order, not sorted as fal signs them",
    ),
    Mutant(
        row="Success body",
        path=DISPATCH,
        old="json.dumps(payload, allow_nan=False, sort_keys=True)",
        new='json.dumps(payload, allow_nan=False, sort_keys=True, separators=(",", ":"))',
        breaks="webhook bodies are compact, not json.dumps-spaced as the signed capture",
    ),
    Mutant(
        row="Webhook for an answer that is not JSON",
        path=DISPATCH,
        old='" the queue endpoint to retrieve the response."',
        new='" the queue endpoint to retrieve the response"',
        breaks="payload_error is not fal's exact text",
    ),
    Mutant(
        row="Webhook for an answer that is not JSON",
        path=DISPATCH,
        old='    if not isinstance(body, str):\n        return {"payload": body}',
        new='    if True:\n        return {"payload": body}',
        breaks="a text answer is delivered as a JSON string payload, without payload_error",
    ),
    Mutant(
        row="Error body for the app's error",
        path="mockserver/records.py",
        old="return f\"Unexpected status code: {self.error['status_code']}\"",
        new="return f\"Invalid status code: {self.error['status_code']}\"",
        breaks="the webhook's error text is the older docs' wording, not the 2026 live log's",
    ),
    Mutant(
        row="Error body for a gateway error",
        path="mockserver/records.py",
        old="            return str(self.error_detail)",
        new="            return None",
        breaks="a gateway error's webhook has no error text",
    ),
    Mutant(
        row="Signature",
        path="mockserver/webhooks/keys.py",
        old='f"{request_id}\\n{user_id}\\n{timestamp}\\n{digest}"',
        new='f"{user_id}\\n{request_id}\\n{timestamp}\\n{digest}"',
        breaks="signatures cover another message: receivers following fal's docs reject them",
    ),
)
