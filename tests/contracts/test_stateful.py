"""The state machine on the emulator's manual clock: time moves only when a rule moves it."""

from __future__ import annotations

from pathlib import Path

from contracts.generation.profiles import profile_settings
from contracts.server.stateful import run_machine
from contracts.server.targets import open_target


def test_state_machine_passes_on_a_manual_clock(tmp_path: Path) -> None:
    with open_target("mock", state_dir=tmp_path, clock="manual", capacity=2) as target:
        note = run_machine(target, profile_settings("ci"))
        assert target.traffic.exchanges(), "the machine sent no request"
        routes = {e.route for e in target.traffic.exchanges()}
    assert {"submit", "status", "result"} <= routes, routes
    assert "run(s)" in note
