"""The suite's checks can fail: each deliberately broken emulator variant is caught."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from contracts.generation.profiles import profile_settings
from contracts.server.stateful import run_machine
from contracts.server.suite import run_suite
from contracts.server.targets import open_target
from tests.contracts import broken_mocks

# (variant, suite case that exercises the broken promise, check that must report it)
BROKEN = [
    (broken_mocks.wrong_status_code, "cancel_semantics", "[status.status_code]"),
    (broken_mocks.missing_cancel_url, "status_stream", "[submit.schema]"),
    (broken_mocks.wrong_video_size, "sync_run[t2v]", "[video.geometry]"),
    (broken_mocks.wrong_source_duration, "sync_run[flash-reframe]", "[video.duration]"),
]


@pytest.mark.parametrize(
    ("variant", "case", "check"), BROKEN, ids=[v.__name__ for v, _, _ in BROKEN]
)
def test_suite_catches_a_broken_mock(
    variant: Callable[[ASGIApp], ASGIApp], case: str, check: str, tmp_path: Path
) -> None:
    with open_target("mock", state_dir=tmp_path, wrap_app=variant) as target:
        [result] = run_suite(target, only=[case])
    assert result.outcome == "failed", result.line()
    assert check in result.detail, result.detail


def test_the_same_case_passes_on_the_real_mock(tmp_path: Path) -> None:
    with open_target("mock", state_dir=tmp_path) as target:
        results = run_suite(target, only=sorted({case for _, case, _ in BROKEN}))
    assert [r.outcome for r in results] == ["passed"] * len(results), [r.line() for r in results]


def test_state_machine_catches_a_wrong_status_code(tmp_path: Path) -> None:
    with (
        open_target(
            "mock", state_dir=tmp_path, clock="manual", wrap_app=broken_mocks.wrong_status_code
        ) as target,
        pytest.raises(AssertionError, match=r"\[status.status_code\]"),
    ):
        run_machine(target, profile_settings("ci"))
