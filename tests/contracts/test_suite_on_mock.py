"""The whole contract suite against the in-process emulator (``--ray2-target`` picks another)."""

from pathlib import Path

from contracts.pytest.suite_tests import test_contract  # noqa: F401  (collected here)
from contracts.server.suite import run_suite
from contracts.server.targets import open_target
from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config


def test_a_server_that_completes_at_once_is_reported_not_exercised(tmp_path: Path) -> None:
    """Instant timing shows no queued or running state: the lifecycle rules for them were
    never checked, which the suite says (and --strict makes a failure)."""
    with BackgroundEmulator(make_config(tmp_path)) as running, open_target(running.url) as target:
        [lenient] = run_suite(target, only=["lifecycle_states"])
        [strict] = run_suite(target, only=["lifecycle_states"], strict=True)
    assert lenient.outcome == "skipped" and "not exercised" in lenient.detail
    assert "never observed IN_QUEUE" in lenient.detail  # instant: never queued
    assert strict.outcome == "failed" and "lifecycle.not_exercised" in strict.detail
