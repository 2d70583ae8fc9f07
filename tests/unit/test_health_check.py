"""The image's health check (python -m mockserver.serving.health) against real listeners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.health import healthy
from tests.support import make_config


def health_exit_code(state_dir: Path) -> int:
    env = {**os.environ, "RAY2_MOCK_STATE_DIR": str(state_dir)}
    command = [sys.executable, "-m", "mockserver.serving.health"]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_a_running_emulator_is_healthy_and_a_stopped_one_is_not(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with BackgroundEmulator(config):
        assert healthy(config.state_dir)
        assert health_exit_code(config.state_dir) == 0
    assert not healthy(config.state_dir)  # server.json remains, nothing answers on its port
    assert health_exit_code(config.state_dir) == 1


def test_no_or_a_broken_server_file_is_unhealthy_not_a_crash(tmp_path: Path) -> None:
    assert not healthy(tmp_path)
    (tmp_path / "server.json").write_text("{not json")
    assert not healthy(tmp_path)
    (tmp_path / "server.json").write_text(json.dumps({"port": "none"}))
    assert not healthy(tmp_path)
    assert health_exit_code(tmp_path) == 1
