"""The generated file's lifetime follows the submit's ``X-Fal-Object-Lifecycle-Preference``.

fal's platform-headers docs: the header controls "how long generated files (images, videos,
audio) are stored on fal's CDN", format ``{"expiration_duration_seconds": <seconds>}``, default
"forever if not configured"; its data-retention page: "null for no expiration". fal's app
framework applies the submit's header to every file the app uploads and prints and ignores a
value it cannot parse (``fal/toolkit/file/file.py``). What an expired file URL answers is not
captured: the emulator answers as for an expired upload (INF), which these tests compare with.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config, route_storage

T2V = "fal-ai/luma-dream-machine/ray-2"
HEADER = "X-Fal-Object-Lifecycle-Preference"
HOUR = 3600


@contextlib.contextmanager
def serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[BackgroundEmulator, ManualClock, fal_client.SyncClient]]:
    clock = ManualClock()
    config = make_config(tmp_path, progression="immediate")
    with BackgroundEmulator(config, create_app(config, clock=clock)) as emulator:
        yield emulator, clock, route_storage(monkeypatch, emulator.url)


def generated(client: fal_client.SyncClient, prompt: str, **headers: str) -> str:
    handle = client.submit(T2V, arguments={"prompt": prompt}, headers=headers)
    return str(handle.get()["video"]["url"])


def answer(url: str) -> tuple[int, Any, str | None]:
    got = httpx.get(url)
    body = got.json() if got.status_code >= 400 else None
    return got.status_code, body, got.headers.get("x-fal-error-type")


def test_the_submits_lifecycle_expires_the_generated_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch) as (emulator, clock, client):
        lifecycle = json.dumps({"expiration_duration_seconds": HOUR})
        video = generated(client, "short lived", **{HEADER: lifecycle})
        settings = fal_client.client.StorageSettings(expires_in="1h")
        upload = client.upload(b"uploaded at the same time", "text/plain", lifecycle=settings)
        assert answer(video)[0] == 200
        emulator.call(clock.advance, HOUR - 1)
        assert answer(video)[0] == 200
        emulator.call(clock.advance, 1)
        expired = answer(video)
        assert expired[0] != 200
        assert expired == answer(upload)  # the same answer as an expired upload


@pytest.mark.parametrize(
    "lifecycle",
    [
        None,  # "forever if not configured"
        json.dumps({"expiration_duration_seconds": None}),  # "null for no expiration"
        json.dumps({"expiration_duration_seconds": 0}),
        "not json {",  # fal's framework prints the parse error and carries on
        json.dumps(["expiration_duration_seconds", 60]),
    ],
)
def test_without_a_usable_lifecycle_the_generated_file_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lifecycle: str | None
) -> None:
    with serving(tmp_path, monkeypatch) as (emulator, clock, client):
        headers = {} if lifecycle is None else {HEADER: lifecycle}
        video = generated(client, "kept", **headers)  # accepted: a submit is never refused
        emulator.call(clock.advance, 10 * 365 * 24 * HOUR)
        assert answer(video)[0] == 200
