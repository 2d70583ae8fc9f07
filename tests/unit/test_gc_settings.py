"""``serve`` tunes the garbage collector once started; the pytest fixture never does (its
process is the user's). Each case runs in a fresh interpreter: the settings are global."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mockserver.serving.server import GC_THRESHOLDS

SERVE = """
import gc, json, os, sys
from pathlib import Path
from mockserver.config import Config
from mockserver.serving import server

real = server.settle_garbage_collector

def settle():
    real()
    print(json.dumps({"frozen": gc.get_freeze_count(), "thresholds": list(gc.get_threshold())}))
    sys.stdout.flush()
    os._exit(0)

server.settle_garbage_collector = settle
server.run_forever(Config(state_dir=Path(sys.argv[1]), port=0, tls_port=0), banner=False)
"""

FIXTURE = """
import gc, json, sys, tempfile
from pathlib import Path
from contracts.pytest.mock_handle import running_mock
from contracts.pytest.plugin import fixture_config

before = list(gc.get_threshold())
with running_mock(fixture_config({}, Path(tempfile.mkdtemp()), "t")) as mock:
    print(json.dumps({"frozen": gc.get_freeze_count(), "thresholds": list(gc.get_threshold()),
                      "before": before}))
"""


def _run(script: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_serve_freezes_start_up_and_collects_less_often(tmp_path: Path) -> None:
    seen = _run(SERVE, str(tmp_path))
    assert seen["frozen"] > 10_000  # modules, the app and its models: out of every collection
    assert tuple(seen["thresholds"]) == GC_THRESHOLDS


def test_the_fixture_leaves_the_users_collector_alone() -> None:
    seen = _run(FIXTURE)
    assert seen["frozen"] == 0
    assert seen["thresholds"] == seen["before"]
