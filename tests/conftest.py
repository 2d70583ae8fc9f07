"""Shared fixtures: a real emulator on a loopback port, and the real fal_client pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.redis_server import RedisServer
from tests.support import SHARED_MEDIA, TEST_KEY, make_config, route_fal_client

# Markers by where a test lives, as data: `pytest -m "not slow"` is the one-minute inner loop.
MARKERS_BY_PATH: dict[str, tuple[str, ...]] = {
    "tests/reliability/": ("reliability", "slow"),
    "tests/container/": ("container", "slow"),
    "tests/redis/": ("redis",),
    "tests/integration/test_dashboard_browser.py": ("browser",),
    "tests/docs/test_site_browser.py": ("browser",),
    "tests/docs/test_examples.py": ("slow",),
    "tests/contracts/test_type_drift.py": ("node",),
    "tests/contracts/test_rehearsal.py": ("slow",),
    "tests/unit/test_media_render.py": ("slow",),
}
MARKERS_BY_NAME: dict[str, tuple[str, ...]] = {
    "test_every_parameter_combination_has_its_geometry": ("slow",),
    "test_xdist_gives_each_worker_its_own_emulator": ("slow",),
    "test_client_passes_every_check[js]": ("node",),
}
# A shell's serve settings (RAY2_MOCK_*, docs/service.md) or env-mode exports must not reach the
# emulators the suite starts: a test that wants one sets it itself.
for _name in [name for name in os.environ if name.startswith("RAY2_MOCK_")]:
    del os.environ[_name]

MISSING_TOOL = "[required tool] "
"""Prefix of a skip for a tool CI installs (node, Chromium): under CI=true it is a failure."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent.parent
    for item in items:
        path = item.path.resolve().relative_to(root).as_posix()
        names = [m for prefix, ms in MARKERS_BY_PATH.items() if path.startswith(prefix) for m in ms]
        names += MARKERS_BY_NAME.get(item.name, ())
        for name in dict.fromkeys(names):
            item.add_marker(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under CI=true a test skipped for a missing required tool fails instead: a CI job that
    quietly skipped the browser or node tests would pass without having run them."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and MISSING_TOOL in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"CI=true, so this is a failure: {report.longrepr}"


@pytest.fixture(scope="session", autouse=True)
def shared_media_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One content-addressed video cache for the session: a clip is rendered once per run."""
    if not SHARED_MEDIA:
        SHARED_MEDIA.append(tmp_path_factory.mktemp("media-cache"))
    return SHARED_MEDIA[0]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis per test process; each test keeps to keys of its own prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(make_config(tmp_path)) as running:
        yield running


@pytest.fixture
def fal(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> fal_client.SyncClient:
    """A fresh official SyncClient routed to the emulator (no cached auth from other tests)."""
    route_fal_client(monkeypatch, emulator.url)
    return fal_client.SyncClient(key=TEST_KEY)
