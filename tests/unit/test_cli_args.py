"""`ray2-mock serve` flags reach the Config they promise; a bad value exits 2 with a message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockserver import cli
from mockserver.config import Config

# (flags, Config field, expected value): each serve flag and where it lands.
FLAGS: list[tuple[list[str], str, Any]] = [
    (["--host", "0.0.0.0"], "host", "0.0.0.0"),
    (["--port", "9100"], "port", 9100),
    (["--tls-port", "0"], "tls_port", 0),
    (["--proxy-port", "9102"], "proxy_port", 9102),
    (["--state-dir", "/tmp/somewhere"], "state_dir", Path("/tmp/somewhere")),
    (["--store", "memory"], "store", "memory"),
    (["--timing", "realistic"], "timing", "realistic"),
    (["--capacity", "3"], "capacity", 3),
    (["--api-key", "id:secret"], "api_key", "id:secret"),
    (["--max-body-bytes", "2048"], "max_body_bytes", 2048),
    (["--render-workers", "4"], "render_workers", 4),
    (["--remote-images", "fail"], "remote_images", "fail"),
    (["--allow-remote-fetch"], "remote_images", "fetch"),
    (["--validate-at-submit"], "validate_at_submit", True),
    (["--max-upload-bytes", "4096"], "max_upload_bytes", 4096),
    (["--webhook-allow", "hooks.example"], "webhook_allow", ("hooks.example",)),
    (["--webhook-retries", "3"], "webhook_max_retries", 3),
    (["--webhook-retry-base", "0.5"], "webhook_retry_base_seconds", 0.5),
    (["--webhook-retry-max", "60"], "webhook_retry_max_seconds", 60.0),
    (["--webhook-timeout", "2.5"], "webhook_timeout_seconds", 2.5),
    (["--scenarios", "s.yaml"], "scenarios_path", Path("s.yaml")),
    (["--fault-rate", "0.25"], "fault_rate", 0.25),
    (["--seed", "7"], "seed", 7),
    (["--progression", "polls:3"], "progression", "polls:3"),
    (["--journal-size", "50"], "journal_size", 50),
    (["--journal-size", "0"], "journal_size", 0),
    (["--retention", "60"], "retention_seconds", 60.0),
    (["--retention-count", "500"], "retention_count", 500),
    (["--log-window", "2.5"], "log_window_seconds", 2.5),
    (["--log-window", "0"], "log_window_seconds", 0.0),
    (["--stream-repeat", "0"], "stream_repeat_seconds", 0.0),
]


@pytest.mark.parametrize(("flags", "field", "value"), FLAGS, ids=[f[0][0] for f in FLAGS])
def test_each_serve_flag_reaches_the_config(flags: list[str], field: str, value: Any) -> None:
    config = cli.serve_config(cli.parser().parse_args(["serve", *flags]))
    assert getattr(config, field) == value


def test_no_flags_give_the_config_defaults() -> None:
    assert cli.serve_config(cli.parser().parse_args(["serve"])) == Config()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timing", "slowest"], "invalid choice: 'slowest'"),
        (["--fault-rate", "2"], "between 0 and 1"),
        (["--progression", "sometimes"], "unknown progression"),
        (["--port", "eighty"], "invalid int value"),
        (["--api-key", "no-colon"], "<key_id>:<key_secret>"),
        (["--journal-size", "-1"], "--journal-size cannot be negative"),
        (["--retention", "0"], "--retention must be positive"),
        (["--retention-count", "-5"], "--retention-count must be positive"),
        (["--log-window", "-1"], "--log-window must be a number of seconds, 0 or more"),
        (["--log-window", "nan"], "--log-window must be a number of seconds, 0 or more"),
        (["--stream-repeat", "-0.5"], "--stream-repeat must be"),
        (["--log-window", "five"], "invalid float value"),
    ],
)
def test_a_bad_value_exits_2_with_a_message(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_check_lists_its_cases_and_takes_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"request_errors", "cancel_semantics", "status_stream"} <= set(listed)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["check", "--profile", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
