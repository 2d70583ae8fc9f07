"""Status and result bodies are encoded once per record version (``fal.wire.Answers``): a
repeated poll gets the same bytes, and any change of the request (or of the host the client
used) gets a new answer."""

from __future__ import annotations

from pathlib import Path

import httpx

from mockserver.app import create_app
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


def test_repeated_polls_share_an_answer_until_the_request_moves(tmp_path: Path) -> None:
    config = make_config(tmp_path, progression="manual")
    with (
        BackgroundEmulator(config, create_app(config)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH) as client,
    ):
        request_id = client.post(f"{APP}/ray-2", json={"prompt": "a fox"}).json()["request_id"]
        status_path = f"{APP}/requests/{request_id}/status"
        assert client.get(status_path).json()["status"] == "IN_QUEUE"
        client.post(f"/_mock/requests/{request_id}/advance")

        running = [client.get(status_path) for _ in range(2)]
        assert running[0].status_code == running[1].status_code == 202
        assert running[0].content == running[1].content
        assert running[0].json()["status"] == "IN_PROGRESS"
        with_logs = client.get(status_path, params={"logs": "1"})
        assert with_logs.json()["logs"] is not None  # not the cached answer without logs

        client.post(f"/_mock/requests/{request_id}/advance")
        done = [client.get(status_path) for _ in range(2)]
        assert [d.status_code for d in done] == [200, 200]
        assert done[0].content == done[1].content
        assert done[0].json()["status"] == "COMPLETED"
        assert done[0].headers["x-fal-request-id"] == request_id
        assert int(done[0].headers["content-length"]) == len(done[0].content)

        results = [client.get(f"{APP}/requests/{request_id}") for _ in range(2)]
        assert results[0].content == results[1].content
        assert results[0].headers["content-type"] == "application/json"
        url = results[0].json()["video"]["url"]
        assert url.startswith(emulator.url)

        other_host = client.get(
            f"{APP}/requests/{request_id}", headers={"Host": "localhost:1234"}
        ).json()
        assert other_host["video"]["url"].startswith("http://localhost:1234/")
        status_elsewhere = client.get(status_path, headers={"Host": "localhost:1234"}).json()
        assert status_elsewhere["response_url"].startswith("http://localhost:1234/")
