"""What fal answers on each request route for a request id it does not know.

The queue's handlers answer these, and so does a scenario's ``http_error: {status: 404}`` on
those routes, so both are written here once. Status (and its stream) and result: live captures
(docs/fidelity.md, "Unknown request id"), gateway spacing; cancel: ``{"status": "NOT_FOUND"}``
written compact like every cancel answer [inferred: no capture of an unknown id's cancel].
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response

from mockserver.fal.errors import request_error
from mockserver.fal.wire import gateway_json

NOT_FOUND_STATUS = {"status": "NOT_FOUND"}
"""What fal's status (and cancel) routes answer for an unknown request id."""
NOT_FOUND_RESULT = {"detail": "Request not found"}
"""What fal's result route answers for an unknown request id."""
WRITERS = {
    "status": (NOT_FOUND_STATUS, gateway_json),
    "stream": (NOT_FOUND_STATUS, gateway_json),
    "result": (NOT_FOUND_RESULT, gateway_json),
    "cancel": (NOT_FOUND_STATUS, JSONResponse),
}
"""Route -> (body, writer) of its unknown-request 404."""


def unknown_request(route: str, headers: Mapping[str, str] | None = None) -> Response:
    body, write = WRITERS[route]
    return write(body, 404, headers)


NO_SUCH_APPLICATION = "Application '{alias}' not found"
"""What fal answers for an app it does not have: a fal_client user quotes the error
"Application 'stable-video-diffusion' not found" for ``fal-ai/stable-video-diffusion``
(docs/evidence.md, mcp-unknown-app); its status code was not captured [INF: 404]."""
EMULATOR_NOTE = "x-ray2-mock-note"


def unknown_application(endpoint_id: str) -> Response:
    """A path that is no endpoint of the table or of fal's catalogue: fal's missing-app answer,
    with the emulator's reason in a header of its own."""
    parts = endpoint_id.split("/")
    alias = parts[1] if len(parts) > 1 else parts[0]
    note = (
        "not an endpoint of the emulator's table or of @fal-ai/client's catalogue; "
        "serve --passthrough ID forwards it to live fal"
    )
    return request_error(
        404, NO_SUCH_APPLICATION.format(alias=alias), None, headers={EMULATOR_NOTE: note}
    )
