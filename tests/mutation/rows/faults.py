"""Mutants of the ledger's "Retries and faults the clients react to" and "Scenarios and faults"
rows."""

from tests.mutation.mutant import Mutant

MUTANTS = (
    Mutant(
        row="Which 5xx a client retries",
        path="mockserver/chaos/model.py",
        old="<hr><center>nginx</center>",
        new="<hr><center>gateway</center>",
        breaks="fal_client no longer recognises an ingress page and stops retrying it",
    ),
    Mutant(
        row="Which 5xx a client retries",
        path="mockserver/fal/catalogue.py",
        old="return GatewayAnswer(kind, REQUEST_ERRORS[kind].message)",
        new="return GatewayAnswer(kind, REQUEST_ERRORS[kind].message, request_id=False)",
        breaks="a gateway 5xx loses x-fal-request-id, which tells the client it is final",
    ),
    Mutant(
        row="Start timeout",
        path="mockserver/queue.py",
        old='"headers": {"x-fal-request-timeout-type": "user"},',
        new='"headers": {},',
        breaks="a user's start timeout loses its type header, and fal_client retries it",
    ),
    Mutant(
        row="A sync run's 429",
        path="mockserver/fal/errors.py",
        old='return gateway_json({"detail": detail, "error_type": error_type}, status_code,'
        " all_headers)",
        new='return gateway_json({"detail": detail, "error_type": error_type},'
        " 503 if status_code == 429 else status_code, all_headers)",
        breaks="the concurrency refusal is a plain 503: fal_client gives up instead of retrying",
    ),
    Mutant(
        row="Scenario 401 (default)",
        path="mockserver/fal/catalogue.py",
        old="401: GatewayAnswer(None, NO_USER, request_id=False),",
        new='401: GatewayAnswer("unauthorized", NO_USER),',
        breaks="a scenario 401 carries a type and a request id the gateway's own 401 lacks",
    ),
    Mutant(
        row="Scenario 403 (default)",
        path="mockserver/fal/catalogue.py",
        old="403: GatewayAnswer(None, LOCKED_ACCOUNT, request_id=False),",
        new='403: GatewayAnswer("forbidden", "Access denied"),',
        breaks="a scenario 403 is an invented refusal, not fal's locked account",
    ),
    Mutant(
        row="Scenario 429 (default)",
        path="mockserver/fal/catalogue.py",
        old="429: CONCURRENCY_LIMIT,",
        new='429: GatewayAnswer("too_many_requests", "Too many requests"),',
        breaks="a scenario 429 is not the answer a sync run over the limit gets",
    ),
    Mutant(
        row="Random fault `run_429`",
        path="mockserver/chaos/engine.py",
        old='"run_429": {"match": {"route": ["run"]},',
        new='"run_429": {"match": {"route": ["submit", "run"]},',
        breaks="chaos runs refuse queue submits for concurrency, which fal never does",
    ),
    Mutant(
        row="Scenario 404 on status, result or cancel",
        path="mockserver/chaos/model.py",
        old="if own and self.status == 404 and route in UNKNOWN_REQUEST_ROUTES:",
        new="if False:",
        breaks="a scenario 404 on a request route is a request error, not the route's own 404",
    ),
    Mutant(
        row="Default text of a request-error type",
        path="mockserver/fal/catalogue.py",
        old='408: _request_error("request_timeout"),',
        new='408: GatewayAnswer("request_timeout", "Request timeout"),',
        breaks="request_timeout has two texts: the 408's differs from the 504's and fal's docs",
    ),
    Mutant(
        row="Default text of a request-error type",
        path="mockserver/fal/catalogue.py",
        old='502: _request_error("runner_incomplete_response"),',
        new='502: GatewayAnswer("runner_incomplete_response", "Bad gateway"),',
        breaks="runner_incomplete_response reads differently at the gateway and at completion",
    ),
    Mutant(
        row="`x-fal-request-id` of a scenario's answer",
        path="mockserver/chaos/model.py",
        old='headers["x-fal-request-id"] = new_request_id()',
        new='headers["x-fal-request-id"] = str(__import__("uuid").uuid4())',
        breaks="scenario answers carry UUIDv4 ids, unlike fal's and the queue's UUIDv7",
    ),
    Mutant(
        row="The emulator's own crash",
        path="mockserver/gateway.py",
        old='"The emulator hit an internal error; see its log", "internal_error")',
        new='"The emulator hit an internal error; see its log", "internal_server_error")',
        breaks="the crash names a model-error type in the request-error shape",
    ),
    Mutant(
        row="Request errors the gateway writes itself",
        path="mockserver/fal/errors.py",
        old='return gateway_json({"detail": detail, "error_type": error_type}, status_code,'
        " all_headers)",
        new='return JSONResponse({"detail": detail, "error_type": error_type}, status_code,'
        " all_headers)",
        breaks="the gateway's own request errors are compact, unlike every other gateway body",
    ),
    Mutant(
        row="A failure of the emulator's own model",
        path="mockserver/queue.py",
        old='error=fal_error("internal_server_error", message=failure, payload=record.input)',
        new='error={"status_code": 500, "error_type": "internal_server_error", "body": {"detail":'
        ' [{"loc": [], "msg": failure, "type": "internal_server_error"}]}}',
        breaks="the emulator's own generation failure lacks the model error's url and headers",
    ),
    Mutant(
        row="The emulator's shared store away (replicas on Redis)",
        path="mockserver/shared/unavailable.py",
        old='    return GATEWAY_ERRORS[503].response(503, {"x-ray2-mock-note": NOTE})',
        new='    return GATEWAY_ERRORS[500].response(500, {"x-ray2-mock-note": NOTE})',
        breaks="Redis away answers the crash's 500 instead of fal's 503",
    ),
)
