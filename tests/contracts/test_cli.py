"""``ray2-mock check`` / ``record`` end to end: the three kinds of target and client checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.cli import main
from mockserver.serving.background import BackgroundEmulator
from tests.support import make_config

COMMAND = Path(__file__).with_name("command_client.py")


def test_check_against_a_url_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Any server at a URL: queue at its root, sync run under /run (here a real emulator);
    ``--endpoint`` keeps the per-endpoint cases to the endpoints named (id or short name)."""
    with BackgroundEmulator(make_config(tmp_path, timing="instant")) as emulator:
        cases = ["request_errors", "invalid_inputs", "cancel_semantics", "sync_run"]
        endpoints = ["t2v", "fal-ai/luma-dream-machine/ray-2-flash/modify"]
        code = main(
            [
                "check",
                "--target",
                emulator.url,
                *(f"--case={c}" for c in cases),
                *(f"--endpoint={e}" for e in endpoints),
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"target: {emulator.url}" in out
    assert "sync_run[flash-modify]" in out and "invalid_inputs[t2v]" in out
    assert "[i2v]" not in out and "[reframe]" not in out
    assert "6 passed, 0 failed, 0 skipped" in out


def test_live_without_a_key_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FAL_KEY", raising=False)
    assert main(["check", "--target", "live"]) == 0
    assert "SKIPPED  live target skipped: set FAL_KEY" in capsys.readouterr().out
    assert main(["record"]) == 2
    assert "nothing recorded: live target skipped: set FAL_KEY" in capsys.readouterr().err


def test_require_live_turns_the_skip_into_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """For scheduled jobs that exist to hit live fal: a missing key must not pass as a skip."""
    monkeypatch.delenv("FAL_KEY", raising=False)
    assert main(["check", "--target", "live", "--require-live"]) == 2
    captured = capsys.readouterr()
    assert "SKIPPED" not in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "set FAL_KEY" in lines[0] and "--require-live" in lines[0]


@pytest.mark.parametrize(
    ("tests", "options", "code", "summary"),
    [
        (["--pyargs", "contracts.pytest.suite_tests", "--ray2-target=live"], [], 0, "1 skipped"),
        (
            ["--pyargs", "contracts.pytest.suite_tests", "--ray2-target=live"],
            ["--ray2-require-live"],
            1,
            "1 error",
        ),
        ([str(Path(__file__).with_name("test_live.py"))], ["--ray2-require-live"], 1, "3 errors"),
    ],
    ids=["suite skips", "suite fails when required", "live tests fail when required"],
)
def test_the_pytest_option_turns_the_skip_into_a_failure(
    tmp_path: Path, tests: list[str], options: list[str], code: int, summary: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FAL_KEY"}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += [*tests, "-k", "spec_drift or fal or record", *options]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert summary in done.stdout.splitlines()[-1], done.stdout
    if options:
        assert "set FAL_KEY" in done.stdout or "need FAL_KEY" in done.stdout, done.stdout
        assert "--ray2-require-live" in done.stdout


def test_check_a_command_client_on_the_mock(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            "--client-cmd",
            f"{sys.executable} {COMMAND}",
            "--case",
            "valid_call",
            "--case",
            "survives_dropped_connection",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out  # the command never retries a dropped connection
    assert "PASSED   command:" in out and "valid_call" in out
    assert "FAILED   command:" in out and "survives_dropped_connection" in out
    assert "1 passed, 1 failed, 0 skipped" in out


def test_an_unknown_target_or_client_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown target 'ftp://x'"):
        main(["check", "--target", "ftp://x"])
    with pytest.raises(ValueError, match="unknown client 'curl'"):
        main(["check", "--client", "curl"])


def test_a_python_callable_client_is_imported_from_the_working_directory() -> None:
    """The console script's sys.path lacks the working directory; python:mod:fn must still
    find the user's module there (as ``python -m`` would)."""
    script = Path(sys.executable).with_name("ray2-mock")
    spec = "python:tests.contracts.test_client_checks:user_function"
    done = subprocess.run(
        [str(script), "check", "--client", spec, "--case", "valid_call"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout


def test_check_reads_a_closed_emulator_s_journal_with_its_admin_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An emulator beyond loopback closes its control plane: with the token (flag or
    RAY2_MOCK_ADMIN_TOKEN) the suite reads its traffic, without it the target is a plain URL."""
    token = "check-admin-token-42"
    monkeypatch.delenv("RAY2_MOCK_ADMIN_TOKEN", raising=False)
    config = make_config(tmp_path, timing="instant", admin_token=token)
    with BackgroundEmulator(config) as emulator:
        runs = {
            "without": (["check", "--target", emulator.url], {}),
            "flag": (["check", "--target", emulator.url, "--admin-token", token], {}),
            "variable": (["check", "--target", emulator.url], {"RAY2_MOCK_ADMIN_TOKEN": token}),
        }
        notes = {}
        for name, (argv, environ) in runs.items():
            for variable, value in environ.items():
                monkeypatch.setenv(variable, value)
            assert main([*argv, "--case=request_errors", "--endpoint=t2v"]) == 0
            notes[name] = capsys.readouterr().out.splitlines()[0]
    assert "traffic read from /_mock/journal" not in notes["without"]
    for name in ("flag", "variable"):
        assert "traffic read from /_mock/journal" in notes[name], notes[name]
        assert "faults injected through /_mock/scenarios" in notes[name]
