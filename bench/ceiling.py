"""The ceiling: a bare Starlette app on the emulator's server stack, doing the least work the
same routes can do (parse the JSON body, answer JSON of the same shape). No validation, no
store, no queue: whatever the emulator costs beyond this is its own.

Run: python -m bench.ceiling --port N (uvicorn, uvloop, httptools, no access log).
"""

from __future__ import annotations

import argparse
import json
import uuid

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


async def submit(request: Request) -> Response:
    payload = json.loads(await request.body() or b"{}")
    if not isinstance(payload, dict) or not isinstance(payload.get("prompt"), str):
        detail = [{"loc": ["body", "prompt"], "msg": "Input should be a valid string"}]
        return JSONResponse({"detail": detail}, 422)
    request_id = str(uuid.uuid4())
    body = {"status": "IN_QUEUE", "request_id": request_id, **_urls(request_id)}
    return JSONResponse({**body, "queue_position": 0}, headers={"x-fal-request-id": request_id})


async def status(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    body = {"status": "COMPLETED", "request_id": request_id, **_urls(request_id), "logs": None}
    return JSONResponse({**body, "metrics": {"inference_time": 1.0}})


async def result(request: Request) -> Response:
    video = {"url": f"{BASE}/files/mock/{'0' * 32}.mp4", "content_type": "video/mp4"}
    return JSONResponse({"video": {**video, "file_name": "output.mp4", "file_size": 1}})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/_mock/health", health),
        Route(f"{APP}/ray-2", submit, methods=["POST"]),
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
