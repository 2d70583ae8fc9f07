"""The whole contract suite against three replicas behind a round-robin front (issue 27):
each of the suite's requests lands on the next replica, so every case that follows a request
(submit, status, stream, result, cancel, webhooks, uploads, the control calls it makes)
crosses processes, and must pass as it does against one emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.cli import main
from tests.redis.front import round_robin_front
from tests.redis.replicas import running_replicas

pytestmark = pytest.mark.slow


def test_check_passes_against_a_round_robin_front_of_three_replicas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        running_replicas(tmp_path, 3, "--timing", "instant") as replicas,
        round_robin_front(replicas.urls) as front,
    ):
        code = main(["check", "--target", front])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"target: {front}" in out
    assert " passed, 0 failed, 2 skipped" in out
    skipped = sorted(line.split()[1] for line in out.splitlines() if line.startswith("SKIPPED"))
    # as against one emulator on instant timing: nothing is ever seen queued, and the drift
    # check is for live fal only
    assert skipped == ["lifecycle_states", "spec_drift"]
