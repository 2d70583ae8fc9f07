"""pytest options of the contract suite: ``--ray2-target``, ``--ray2-live-budget``, ... .

Registered as a ``pytest11`` plugin, so any project with ray2-mock installed can run::

    pytest --pyargs contracts.pytest.suite_tests --ray2-target=mock
    pytest --pyargs contracts.pytest.suite_tests --ray2-target=http://127.0.0.1:8765
    FAL_KEY=... pytest --pyargs contracts.pytest.suite_tests --ray2-target=live --ray2-live-budget=4
    pytest --pyargs contracts.pytest.suite_tests --ray2-target=live --ray2-require-live  # CI
    pytest --pyargs contracts.pytest.suite_tests --ray2-endpoint=flash-reframe   # one family member

It only adds options and the session fixtures ``ray2_target`` / ``ray2_profile``; nothing
heavy is imported until a test asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts.generation.profiles import PROFILES


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ray2", "ray2-mock contract suite")
    group.addoption(
        "--ray2-target",
        default="mock",
        help="mock (in-process emulator, default), live (fal; needs FAL_KEY) or an http(s) URL",
    )
    group.addoption(
        "--ray2-live-budget",
        type=int,
        default=None,
        help="cost units the live target may spend (540p/5 s = 1; 720p 2x, 1080p 4x, 9 s 2x)",
    )
    group.addoption(
        "--ray2-run-base",
        default=None,
        help="sync-run base URL of a URL target (default: <target>/run)",
    )
    group.addoption(
        "--ray2-admin-token",
        default=None,
        help="a URL target's control-plane token, for its journal and scenarios (default: "
        "RAY2_MOCK_ADMIN_TOKEN); needed when it runs beyond loopback",
    )
    group.addoption(
        "--ray2-require-live",
        action="store_true",
        default=False,
        help="fail instead of skipping when the live target cannot run (no FAL_KEY): for "
        "scheduled jobs that exist to hit live fal",
    )
    group.addoption(
        "--ray2-endpoint",
        action="append",
        default=[],
        help="judge only this endpoint, by id or short name (t2v, flash-reframe, ...; "
        "repeatable; default: the whole family)",
    )
    group.addoption(
        "--ray2-profile",
        choices=sorted(PROFILES),
        default=None,
        help="Hypothesis profile of the suite (default: ci; live for the live target)",
    )


@pytest.fixture(scope="session")
def ray2_profile(pytestconfig: pytest.Config) -> str:
    chosen = pytestconfig.getoption("ray2_profile")
    if chosen:
        return str(chosen)
    return "live" if pytestconfig.getoption("ray2_target") == "live" else "ci"


@pytest.fixture(scope="session")
def ray2_endpoints(pytestconfig: pytest.Config) -> tuple[str, ...]:
    """The endpoint ids ``--ray2-endpoint`` chose (all of the family by default)."""
    from contracts.server.suite import resolve_endpoints

    try:
        return resolve_endpoints(pytestconfig.getoption("ray2_endpoint"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def ray2_target(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The suite's target for the session; a live target without FAL_KEY skips, saying why
    (fails with ``--ray2-require-live``), and one that cannot be reached fails in one line."""
    from contracts.server.netfail import Unreachable, check_reachable
    from contracts.server.targets import DEFAULT_LIVE_BUDGET, TargetUnavailable, open_target

    budget = pytestconfig.getoption("ray2_live_budget")
    try:
        with open_target(
            pytestconfig.getoption("ray2_target"),
            run_base=pytestconfig.getoption("ray2_run_base"),
            live_budget=DEFAULT_LIVE_BUDGET if budget is None else budget,
            state_dir=tmp_path_factory.mktemp("ray2-contracts"),
            admin_token=pytestconfig.getoption("ray2_admin_token"),
        ) as target:
            if target.live:
                try:
                    check_reachable(target)
                except Unreachable as exc:
                    pytest.fail(str(exc), pytrace=False)
            yield target
            return
    except TargetUnavailable as exc:
        reason = str(exc)
    require_live_or_skip(pytestconfig, reason)  # outside the except: no chained report


def require_live_or_skip(config: pytest.Config, reason: str) -> None:
    """Skip for ``reason``, or fail when ``--ray2-require-live`` says a skip must not pass."""
    if config.getoption("ray2_require_live"):
        pytest.fail(
            f"{reason} (--ray2-require-live: a skipped live run is a failure)", pytrace=False
        )
    pytest.skip(reason)
