"""The suite against live fal: runs only with FAL_KEY (it spends --live-budget cost units,
default 2), otherwise each test is skipped with that reason, or fails under
``--ray2-require-live`` (scheduled jobs that exist to hit live fal). Never runs in `make test`
here; tests/contracts/test_rehearsal.py runs the same paths offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.live.drift import drift_report
from contracts.live.record import record
from contracts.pytest.options import require_live_or_skip
from contracts.server.suite import run_suite
from contracts.server.targets import open_target

BUDGET = int(os.environ.get("RAY2_LIVE_BUDGET", "2"))


@pytest.fixture(autouse=True)
def fal_key(pytestconfig: pytest.Config) -> str:
    key = os.environ.get("FAL_KEY", "")
    if not key:
        require_live_or_skip(pytestconfig, "live tests need FAL_KEY (they spend real money)")
    return key


def test_live_fal_satisfies_the_contract(tmp_path: Path) -> None:
    with open_target("live", live_budget=BUDGET) as target:
        results = run_suite(target, profile="live", workdir=tmp_path)
        assert target.budget.spent <= BUDGET
    failed = [r.line() for r in results if r.outcome == "failed"]
    assert not failed, "\n".join(failed)


def test_fal_openapi_matches_our_schemas() -> None:
    report = drift_report()
    assert report == "", "spec drift:\n" + report


def test_record_writes_redacted_examples(tmp_path: Path, fal_key: str) -> None:
    with open_target("live", live_budget=1) as target:
        written, problems = record(target, tmp_path)
    assert written and not problems, problems
    assert all(fal_key not in path.read_text() for path in written)
