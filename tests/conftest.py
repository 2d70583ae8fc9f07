"""Shared fixtures: a real emulator on a loopback port, and the real fal_client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import fal_client.client as fal_client_module
import pytest

from mockserver.config import Config
from mockserver.serving.background import BackgroundEmulator

TEST_KEY = "test-key-id:test-key-secret"


SHARED_MEDIA: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def shared_media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One content-addressed video cache for the session: a clip is rendered once per run."""
    if not SHARED_MEDIA:
        SHARED_MEDIA.append(tmp_path_factory.mktemp("media-cache"))
    return SHARED_MEDIA[0]


def make_config(tmp_path: Path, **overrides: Any) -> Config:
    settings: dict[str, Any] = dict(
        port=0,
        tls_port=0,
        state_dir=tmp_path / "state",
        store="memory",
        timing="instant",
        media_cache_dir=SHARED_MEDIA[0] if SHARED_MEDIA else None,
    )
    settings.update(overrides)
    return Config(**settings)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path)) as running:
        yield running


def route_fal_client(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the unmodified client's URL globals (read at call time) at ``url``."""
    monkeypatch.setattr(fal_client_module, "RUN_URL_FORMAT", f"{url}/run/")
    monkeypatch.setattr(fal_client_module, "QUEUE_URL_FORMAT", f"{url}/")
    monkeypatch.setenv("FAL_KEY", TEST_KEY)


def route_storage(monkeypatch: pytest.MonkeyPatch, url: str) -> fal_client.SyncClient:
    """fal_client with its storage too (REST and CDN URLs) on ``url``: ``upload_file`` lands
    in the emulator."""
    route_fal_client(monkeypatch, url)
    monkeypatch.setattr(fal_client_module, "REST_URL", url)
    monkeypatch.setattr(fal_client_module, "CDN_URL", url)
    return fal_client.SyncClient(key=TEST_KEY)


@pytest.fixture
def fal(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    """A fresh official SyncClient routed to the emulator (no cached auth from other tests)."""
    route_fal_client(monkeypatch, emulator.url)
    return fal_client.SyncClient(key=TEST_KEY)
