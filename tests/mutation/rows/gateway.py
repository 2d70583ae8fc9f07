"""Mutants of the ledger's status, submit, request-id and unknown-request rows."""

from tests.mutation.mutant import Mutant

API = "mockserver/fal/api.py"

MUTANTS = (
    Mutant(
        row="Status codes",
        path=API,
        old='200 if record.status == "COMPLETED" else 202,',
        new="200,",
        breaks="a queued or running request's status answers 200",
    ),
    Mutant(
        row="Status body",
        path=API,
        old='body["queue_position"] = self.queue.position(record)',
        new="pass",
        breaks="a queued status loses queue_position",
    ),
    Mutant(
        row="Status body",
        path=API,
        old='"status": record.status,\n            "request_id": record.request_id,',
        new='"request_id": record.request_id,\n            "status": record.status,',
        breaks="the status body's keys come in another order than fal's",
    ),
    Mutant(
        row="Submit body",
        path=API,
        old='"gateway_request_id": record.request_id,',
        new="",
        breaks="the submit answer loses gateway_request_id",
    ),
    Mutant(
        row="Submit body",
        path=API,
        old='return gateway_json(body, headers={"x-fal-request-id": record.request_id})',
        new='return JSONResponse(body, headers={"x-fal-request-id": record.request_id})',
        breaks="the submit answer is compact instead of the gateway's json.dumps spacing",
    ),
    Mutant(
        row="Status of a request that failed in the app (422, model error)",
        path=API,
        old="if record.gateway_error:  # the app's own errors show only in the result",
        new="if record.error is not None:",
        breaks="an app's 422 shows as error/error_type on the COMPLETED status",
    ),
    Mutant(
        row="Status of a gateway failure (timeout, runner)",
        path=API,
        old='body["error"] = record.error_message',
        new='body["error"] = record.error_type',
        breaks="a gateway failure's status says its type where fal says its text",
    ),
    Mutant(
        row="Unknown request id",
        path="mockserver/fal/unknown.py",
        old='NOT_FOUND_RESULT = {"detail": "Request not found"}',
        new='NOT_FOUND_RESULT = {"detail": "Not found"}',
        breaks="the result of an unknown id has another text",
    ),
    Mutant(
        row="Unknown request id",
        path="mockserver/fal/unknown.py",
        old='"result": (NOT_FOUND_RESULT, gateway_json),',
        new='"result": (NOT_FOUND_RESULT, JSONResponse),',
        breaks="unknown-id 404s lose the gateway's spacing",
    ),
    Mutant(
        row="Status/result under the full endpoint id",
        path=API,
        old='if match and match["target"] in ENDPOINTS and request.method != "POST":',
        new="if False:",
        breaks="polling under the full endpoint id answers 404 instead of fal's 405",
    ),
    Mutant(
        row="Request ids",
        path="mockserver/fal/ids.py",
        old="| (0x7 << 76)  # version 7",
        new="| (0x4 << 76)  # version 4",
        breaks="request ids are UUIDv4, as fal's were before 2026",
    ),
    Mutant(
        row="`x-fal-request-id`",
        path=API,
        old=(
            '            headers={"x-fal-request-id": record.request_id},\n'
            "        )\n        return self.answers.keep"
        ),
        new="        )\n        return self.answers.keep",
        breaks="status answers lose x-fal-request-id",
    ),
    Mutant(
        row="One URL per generation",
        path="mockserver/fal/hosts.py",
        old='FILES_BASE = "https://v3b.fal.media"',
        new='FILES_BASE = "https://v3.fal.media"',
        breaks="results point at the older v3 CDN host",
    ),
    Mutant(
        row="`File` fields",
        path="mockserver/production/video.py",
        old='"file_name": media["file_name"],',
        new="",
        breaks="the result's File loses file_name",
    ),
)
