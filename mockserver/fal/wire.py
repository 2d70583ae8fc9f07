"""How fal's components write JSON, so bodies read like theirs byte for byte.

fal's gateway (queue status and submit bodies, auth refusals, webhooks) writes Python's
``json.dumps`` defaults: ``", "`` and ``": "`` separators, ASCII escapes. The app behind the
queue is FastAPI, whose Starlette ``JSONResponse`` writes compact JSON: its 422s and results
are relayed as the app wrote them. Captures: docs/fidelity.md, "Serialisation".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse


class GatewayJSONResponse(JSONResponse):
    """A body written by fal's gateway rather than by the app."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False).encode()


def gateway_json(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> GatewayJSONResponse:
    return GatewayJSONResponse(content, status_code, headers=headers)
