"""Mutants of the ledger's "Webhooks" rows."""

from tests.mutation.mutant import Mutant

DISPATCH = "mockserver/webhooks/dispatch.py"
BLOCKED = (
    "A `fal_webhook` the emulator will not deliver to (another host than loopback or"
    " `--webhook-allow`, not http(s), not a URL)"
)

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
    Mutant(
        row="Signature",
        path="mockserver/fal/hosts.py",
        old='"rest.fal.ai"',
        new='"rest.fal.invalid"',
        breaks="fal's 2026 JWKS URL (rest.fal.ai) does not answer",
    ),
    Mutant(
        row="Retries",
        path="mockserver/config.py",
        old="webhook_max_retries: int = 10",
        new="webhook_max_retries: int = 9",
        breaks="a failing receiver gets 9 retries, not fal's 10",
    ),
    Mutant(
        row="Retries",
        path="mockserver/config.py",
        old="webhook_retry_max_seconds: float = 1800.0",
        new="webhook_retry_max_seconds: float = 3600.0",
        breaks="the retries span 3.5 hours, not about 2",
    ),
    Mutant(
        row="Retries",
        path="mockserver/config.py",
        old="webhook_timeout_seconds: float = 15.0",
        new="webhook_timeout_seconds: float = 30.0",
        breaks="a hanging receiver holds the first delivery 30 s, not fal's 15",
    ),
    Mutant(
        row=BLOCKED,
        path=DISPATCH,
        old='"outcome": "blocked"',
        new='"outcome": "gave_up"',
        breaks="a held-back delivery looks like a receiver that kept failing",
    ),
    Mutant(
        row=BLOCKED,
        path="mockserver/fal/api.py",
        old="notes=() if note is None else (note,),",
        new="notes=(),",
        breaks="nothing in the journal or dashboard says the webhook was not delivered",
    ),
    Mutant(
        row="`gateway_request_id` of a retried request",
        path=DISPATCH,
        old='"gateway_request_id": record.gateway_request_id or record.request_id,',
        new='"gateway_request_id": record.request_id,',
        breaks="a retried request's webhook names the first attempt, not the last",
    ),
)
