"""Client checks against a ray2-mock reached by URL: traffic from its request journal, faults
through its scenarios (the control API). Skipped, saying so, where that API is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.client.adapters import FalClient
from contracts.client.checks import CLIENT_CHECK_NAMES, run_client_checks
from contracts.server.targets import open_target
from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config


def test_official_client_passes_through_the_control_api(tmp_path: Path) -> None:
    with (
        BackgroundEmulator(make_config(tmp_path, timing="instant")) as emulator,
        open_target(emulator.url) as target,
    ):
        if target.traffic is None or target.faults is None:
            pytest.skip("this emulator has no /_mock/journal + /_mock/scenarios (issue 8)")
        results = run_client_checks(FalClient("sync"), target)
    outcomes = {r.name.split(": ", 1)[1]: r.outcome for r in results}
    assert outcomes == dict.fromkeys(CLIENT_CHECK_NAMES, "passed"), [r.line() for r in results]
