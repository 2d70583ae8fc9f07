"""The ceiling: a bare Starlette app on the emulator's server stack, doing the least work the
same routes can do (parse the JSON body, answer JSON of the same shape). No validation beyond
the prompt's type, no store, no queue: whatever the emulator costs beyond this is its own.

The answer shapes are functions here so that Prism's examples (bench/prism_spec.py) are the
same bodies: all three targets send what `ray2-mock serve` sends.

Run: python -m bench.ceiling --port N (uvicorn, uvloop, httptools, no access log).
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BASE = "http://127.0.0.1"
APP = "/fal-ai/luma-dream-machine"


def _urls(request_id: str) -> dict[str, str]:
    url = f"{BASE}{APP}/requests/{request_id}"
    return {"response_url": url, "status_url": f"{url}/status", "cancel_url": f"{url}/cancel"}


def submitted(request_id: str) -> dict[str, Any]:
    """A queue submit's answer."""
    return {
        "status": "IN_QUEUE",
        "request_id": request_id,
        "gateway_request_id": request_id,
        **_urls(request_id),
        "logs": None,
        "metrics": {},
        "queue_position": 0,
    }


def completed(request_id: str) -> dict[str, Any]:
    """The status of a completed request."""
    return {
        "status": "COMPLETED",
        "request_id": request_id,
        **_urls(request_id),
        "logs": None,
        "metrics": {"inference_time": 0.001},
    }


def video() -> dict[str, Any]:
    """A result (and a valid sync run's answer)."""
    url = f"{BASE}/files/b/{'0' * 8}/{'0' * 21}_output.mp4"
    return {
        "video": {
            "url": url,
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": 58679,
        }
    }


def invalid_prompt(prompt: Any) -> dict[str, Any]:
    """The 422 of a body whose prompt is not a string, in pydantic's shape."""
    error = {
        "type": "string_type",
        "loc": ["body", "prompt"],
        "msg": "Input should be a valid string",
        "input": prompt,
    }
    return {"detail": [error]}


async def submit(request: Request) -> Response:
    json.loads(await request.body() or b"{}")  # the queue accepts any JSON and fails later
    request_id = str(uuid.uuid4())
    return JSONResponse(submitted(request_id), headers={"x-fal-request-id": request_id})


async def run(request: Request) -> Response:
    payload = json.loads(await request.body() or b"{}")
    prompt = payload.get("prompt") if isinstance(payload, dict) else None
    if isinstance(prompt, str):
        return JSONResponse(video())
    return JSONResponse(invalid_prompt(prompt), 422)


async def status(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    return JSONResponse(completed(request_id), headers={"x-fal-request-id": request_id})


async def result(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    return JSONResponse(video(), headers={"x-fal-request-id": request_id})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/_mock/health", health),
        Route(f"{APP}/ray-2", submit, methods=["POST"]),
        Route(f"/run{APP}/ray-2", run, methods=["POST"]),
        Route(f"{APP}/requests/{{request_id}}/status", status),
        Route(f"{APP}/requests/{{request_id}}", result),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
