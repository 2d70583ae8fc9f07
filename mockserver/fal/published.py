"""fal's published OpenAPI for each emulated endpoint, generated from ``contracts/schemas``.

fal publishes one queue OpenAPI document per endpoint at
``https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=<id>`` (unauthenticated), and the
live contract suite and ``ray2-mock record`` read it for spec drift. Serving it here (host role
``web``: ``fal.ai``) lets those paid paths rehearse offline through ``ray2-mock env``.

The shape follows stored copies of other endpoints' documents (``openapi-copies`` in
docs/evidence.md; ``tests/fixtures/evidence/openapi-happy-horse-i2v.json``): openapi 3.0.4,
``info`` with ``x-fal-metadata``, ``QueueStatus`` + ``<Pascal>Input`` + ``<Pascal>Output``
components, four queue paths under the *full* endpoint id (fal's router answers those GETs with
405 all the same: clients poll owner/alias), ``apiKeyAuth``, and a nested model (the output's
``File``) as its own component referenced by a ``$ref`` beside the field's description. No
stored Ray 2 copy exists, so ``thumbnailUrl`` is left out rather than invented. The inputs and
outputs themselves are ``contracts/schemas`` verbatim, so the emulator's document never drifts
from the contract: a drift report against it is empty.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from contracts.schemas import load_schema
from contracts.schemas.endpoints import ENDPOINT_FACTS
from mockserver.fal.errors import request_error
from mockserver.serving.routing import ANY_METHOD, MethodTableRoute

OPENAPI_PATH = "/api/openapi/queue/openapi.json"
"""The document's path on ``fal.ai``; the endpoint is the ``endpoint_id`` query parameter."""
QUEUE_SERVER = "https://queue.fal.run"
FILE_DROPPED = ("$schema", "$id", "description")
"""Our own annotations of a schema file: not part of what fal's generator writes."""

QUEUE_STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]},
        "request_id": {"type": "string", "description": "The request id."},
        "response_url": {"type": "string", "description": "The response url."},
        "status_url": {"type": "string", "description": "The status url."},
        "cancel_url": {"type": "string", "description": "The cancel url."},
        "logs": {"type": "object", "description": "The logs.", "additionalProperties": True},
        "metrics": {"type": "object", "description": "The metrics.", "additionalProperties": True},
        "queue_position": {"type": "integer", "description": "The queue position."},
    },
    "required": ["status", "request_id"],
}
"""fal's published ``QueueStatus`` component, as written (it is looser than the wire, which
``contracts/schemas/queue-status.response.json`` describes)."""
REQUEST_ID_PARAMETER = {
    "name": "request_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "description": "Request ID"},
}


def pascal(endpoint_id: str) -> str:
    """fal's component stem: ``fal-ai/luma-dream-machine/ray-2`` -> ``LumaDreamMachineRay2``."""
    words = re.split(r"[^A-Za-z0-9]+", endpoint_id.removeprefix("fal-ai/"))
    return "".join(word[:1].upper() + word[1:] for word in words if word)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _component(schema: dict[str, Any], nested: dict[str, Any]) -> dict[str, Any]:
    """A schema file as fal's generator writes a model: property order first, nested models
    (objects with a ``title``) moved to their own component in ``nested`` and referenced."""
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in FILE_DROPPED}
    properties = out.get("properties", {})
    out = {"x-fal-order-properties": list(properties), **out}
    for name, prop in properties.items():
        if prop.get("type") == "object" and "properties" in prop and "title" in prop:
            model = {k: v for k, v in prop.items() if k not in ("description", "examples")}
            nested[prop["title"]] = _component(model, nested)
            described = {"description": prop["description"]} if "description" in prop else {}
            properties[name] = {**described, **_ref(prop["title"])}
    return out


def published_openapi(endpoint_id: str) -> dict[str, Any]:
    """The document fal publishes for ``endpoint_id`` (a fresh copy: callers may change it)."""
    return json.loads(_rendered(endpoint_id))


@cache
def _rendered(endpoint_id: str) -> bytes:
    endpoint = ENDPOINT_FACTS[endpoint_id]
    stem = pascal(endpoint_id)
    nested: dict[str, Any] = {}  # after the endpoint's own components, as fal lists them
    components: dict[str, Any] = {
        "QueueStatus": copy.deepcopy(QUEUE_STATUS),
        f"{stem}Input": _component(load_schema(endpoint.input_schema), nested),
        f"{stem}Output": _component(load_schema(endpoint.output_schema), nested),
    }
    components.update(nested)
    request_path = f"/{endpoint_id}/requests/{{request_id}}"
    status = {"description": "The request status.", **_json(_ref("QueueStatus"))}
    document = {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint_id}",
            "version": "1.0.0",
            "description": f"The OpenAPI schema for the {endpoint_id} queue.",
            "x-fal-metadata": {
                "endpointId": endpoint_id,
                "category": endpoint.kind,
                "playgroundUrl": f"https://fal.ai/models/{endpoint_id}",
                "documentationUrl": f"https://fal.ai/models/{endpoint_id}/api",
            },
        },
        "components": {
            "securitySchemes": {
                "apiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Fal Key",
                }
            },
            "schemas": components,
        },
        "paths": {
            f"{request_path}/status": {
                "get": {
                    "parameters": [
                        REQUEST_ID_PARAMETER,
                        {
                            "name": "logs",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "number",
                                "description": "Whether to include logs (`1`) in the response "
                                "or not (`0`).",
                            },
                        },
                    ],
                    "responses": {"200": status},
                }
            },
            f"{request_path}/cancel": {
                "put": {
                    "parameters": [REQUEST_ID_PARAMETER],
                    "responses": {
                        "200": {
                            "description": "The request was cancelled.",
                            **_json(
                                {
                                    "type": "object",
                                    "properties": {
                                        "success": {
                                            "type": "boolean",
                                            "description": "Whether the request was cancelled "
                                            "successfully.",
                                        }
                                    },
                                }
                            ),
                        }
                    },
                }
            },
            f"/{endpoint_id}": {
                "post": {
                    "requestBody": {"required": True, **_json(_ref(f"{stem}Input"))},
                    "responses": {"200": status},
                }
            },
            request_path: {
                "get": {
                    "parameters": [REQUEST_ID_PARAMETER],
                    "responses": {
                        "200": {
                            "description": "Result of the request.",
                            **_json(_ref(f"{stem}Output")),
                        }
                    },
                }
            },
        },
        "servers": [{"url": QUEUE_SERVER}],
        "security": [{"apiKeyAuth": []}],
    }
    return json.dumps(document).encode()


async def serve_openapi(request: Request) -> Response:
    endpoint_id = request.query_params.get("endpoint_id", "")
    if not ENDPOINT_FACTS.is_row(endpoint_id):  # the catalogue's types say too little for it
        known = ", ".join(sorted(ENDPOINT_FACTS))
        return request_error(
            404,
            f"No published OpenAPI for endpoint_id={endpoint_id!r}; this emulator serves {known}",
            "not_found",
        )
    return Response(_rendered(endpoint_id), media_type="application/json")


async def _not_published(request: Request) -> Response:
    return request_error(
        404,
        f"No emulated route at {request.url.path} on fal.ai (only {OPENAPI_PATH})",
        "not_found",
    )


WEB_ROUTES: list[BaseRoute] = [
    MethodTableRoute(OPENAPI_PATH, {"GET": serve_openapi}),
    Route("/{path:path}", _not_published, methods=ANY_METHOD),
]
"""``fal.ai``: the published OpenAPI documents and a 404 for everything else."""
