"""Shared fixtures: a real emulator on a loopback port, and the real fal_client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fal_client
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import SHARED_MEDIA, TEST_KEY, make_config, route_fal_client


@pytest.fixture(scope="session", autouse=True)
def shared_media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One content-addressed video cache for the session: a clip is rendered once per run."""
    if not SHARED_MEDIA:
        SHARED_MEDIA.append(tmp_path_factory.mktemp("media-cache"))
    return SHARED_MEDIA[0]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path)) as running:
        yield running


@pytest.fixture
def fal(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    """A fresh official SyncClient routed to the emulator (no cached auth from other tests)."""
    route_fal_client(monkeypatch, emulator.url)
    return fal_client.SyncClient(key=TEST_KEY)
