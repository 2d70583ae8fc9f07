"""The suite against live fal: runs only with FAL_KEY (it spends --live-budget cost units,
default 2), otherwise each test is skipped with that reason. Never runs in `make test` here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.drift import drift_report
from contracts.record import record
from contracts.suite import run_suite
from contracts.targets import open_target

pytestmark = pytest.mark.skipif(
    not os.environ.get("FAL_KEY"), reason="live tests need FAL_KEY (they spend real money)"
)
BUDGET = int(os.environ.get("RAY2_LIVE_BUDGET", "2"))


def test_live_fal_satisfies_the_contract(tmp_path: Path) -> None:
    with open_target("live", live_budget=BUDGET) as target:
        results = run_suite(target, profile="live", workdir=tmp_path)
        assert target.budget.spent <= BUDGET
    failed = [r.line() for r in results if r.outcome == "failed"]
    assert not failed, "\n".join(failed)


def test_fal_openapi_matches_our_schemas() -> None:
    report = drift_report()
    assert report == "", "spec drift:\n" + report


def test_record_writes_redacted_examples(tmp_path: Path) -> None:
    with open_target("live", live_budget=1) as target:
        written, problems = record(target, tmp_path)
    assert written and not problems, problems
    key = os.environ["FAL_KEY"]
    assert all(key not in path.read_text() for path in written)
