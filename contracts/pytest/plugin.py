"""pytest plugin (``pytest11`` entry point): the ``ray2_mock`` fixtures and the ``ray2`` marker.

A test that already calls ``fal_client`` passes offline by asking for ``ray2_mock``: the emulator
starts on a free loopback port in a background thread, the unmodified client is routed to it, and
everything is put back afterwards. The plugin is loaded into every pytest run of an environment
that has ray2-mock installed, so it imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contracts.pytest.fal_routing import FalClientRoute
    from contracts.pytest.mock_handle import Ray2Mock
    from mockserver.config import Config

MARKER = "ray2"
# What tests use unless told otherwise: quick, and nothing left on disk but the render cache.
FIXTURE_DEFAULTS: dict[str, Any] = {"timing": "instant", "store": "memory"}
# Config fields the fixture owns: it listens on free loopback ports, plain HTTP only.
FIXTURE_OWNED = frozenset({"host", "port", "tls_port", "proxy_port", "state_dir"})
# Routes active in this pytest run (a session one and/or the current test's), newest last.
_ACTIVE_ROUTES = pytest.StashKey[list["FalClientRoute"]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): configure the emulator behind the ray2_mock fixture for this test, "
        "e.g. timing='realistic', capacity=1, api_key='k' (any ray2-mock Config field)",
    )
    config.stash[_ACTIVE_ROUTES] = []


def fixture_config(overrides: dict[str, Any], state_dir: Path, origin: str) -> Config:
    """The emulator config a ray2 fixture runs with; bad options fail the test, naming the fix."""
    from mockserver.config import Config
    from mockserver.timing import TIMING_PROFILES

    allowed = {f.name for f in dataclasses.fields(Config)} - FIXTURE_OWNED
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        pytest.fail(
            f"{origin}: unknown ray2_mock option(s) {unknown}; allowed: {sorted(allowed)}",
            pytrace=False,
        )
    options = {**FIXTURE_DEFAULTS, **overrides}
    if options["timing"] not in TIMING_PROFILES:
        pytest.fail(
            f"{origin}: timing={options['timing']!r} is not one of {sorted(TIMING_PROFILES)}",
            pytrace=False,
        )
    return Config(host="127.0.0.1", port=0, tls_port=0, state_dir=state_dir, **options)


def _marker_options(node: pytest.Item) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers(MARKER))):  # farthest first, closest wins
        if mark.args:
            pytest.fail(
                f"{node.nodeid}: @pytest.mark.{MARKER} takes keyword options only, got {mark.args}",
                pytrace=False,
            )
        merged.update(mark.kwargs)
    return merged


def _state_dir(factory: pytest.TempPathFactory) -> Path:
    """One state dir per session (per xdist worker): rendered videos are cached across tests."""
    return factory.getbasetemp() / "ray2-mock"


@pytest.fixture(scope="session")
def ray2_mock_options() -> dict[str, Any]:
    """Override in a conftest to configure every ray2 emulator of the session."""
    return {}


@pytest.fixture
def ray2_mock(
    request: pytest.FixtureRequest,
    ray2_mock_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ray2Mock]:
    """A fresh emulator for this test, with ``fal_client`` routed to it until the test ends."""
    overrides = {**ray2_mock_options, **_marker_options(request.node)}
    config = fixture_config(overrides, _state_dir(tmp_path_factory), request.node.nodeid)
    with _registered(request.config, config) as mock:
        yield mock


@pytest.fixture(scope="session")
def ray2_mock_session(
    request: pytest.FixtureRequest,
    ray2_mock_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ray2Mock]:
    """One emulator for the whole session (per xdist worker): routed from first use to the end.

    Requests and journal are shared between tests (call ``.reset()`` for a clean slate); the
    shared fal_client objects are refreshed before each test so async tests on new loops work.
    """
    config = fixture_config(ray2_mock_options, _state_dir(tmp_path_factory), "ray2_mock_options")
    with _registered(request.config, config) as mock:
        yield mock


@contextlib.contextmanager
def _registered(pytest_config: pytest.Config, config: Config) -> Iterator[Ray2Mock]:
    from contracts.pytest.mock_handle import running_mock

    routes = pytest_config.stash[_ACTIVE_ROUTES]
    with running_mock(config) as mock:
        routes.append(mock.route)
        try:
            yield mock
        finally:
            routes.remove(mock.route)


def _loop_runner(item: pytest.Item) -> Callable[[Coroutine[Any, Any, None]], Any] | None:
    """How to run a coroutine on the loop this (pytest-asyncio) test ran on, if it had one."""
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, asyncio.Runner):  # pytest-asyncio >= 0.24: _<scope>_scoped_runner
            return value.run
        if isinstance(value, asyncio.AbstractEventLoop) and not value.is_closed():  # older
            return value.run_until_complete
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Close fal_client's routed async client while the test's loop is still open."""
    routes = item.config.stash.get(_ACTIVE_ROUTES, [])
    run = _loop_runner(item) if routes else None
    if run is not None:
        for route in routes:
            try:
                run(route.aclose_async_clients())
            except Exception as exc:  # a loop we cannot use: the sockets are dropped instead
                warnings.warn(
                    f"ray2_mock could not close fal_client's async client: {exc!r}", stacklevel=1
                )
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for route in item.config.stash.get(_ACTIVE_ROUTES, []):
        route.refresh_clients()
    if "ray2_mock_session" in getattr(item, "fixturenames", ()) and any(item.iter_markers(MARKER)):
        pytest.fail(
            f"{item.nodeid}: @pytest.mark.{MARKER} configures the per-test ray2_mock fixture; "
            "ray2_mock_session is shared, configure it by overriding ray2_mock_options",
            pytrace=False,
        )
