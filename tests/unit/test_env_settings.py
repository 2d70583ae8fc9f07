"""Every `ray2-mock serve` flag is also a `RAY2_MOCK_*` variable: the same value reaches the same
Config field, a flag given wins over its variable, and a bad value exits 2 naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockserver import cli
from mockserver.config import Config
from mockserver.environ import from_environment, serve_flags, variables
from tests.unit.test_cli_args import FLAGS


def serve(environ: dict[str, str], *flags: str) -> Config:
    """The Config ``ray2-mock serve FLAGS`` would run with under ``environ``."""
    args, _ = cli.parse_serve(cli.parser(), ["serve", *flags], environ)
    return cli.serve_config(args)


def as_variable(flags: list[str]) -> tuple[str, str]:
    """``["--tls-port", "0"]`` -> ``("RAY2_MOCK_TLS_PORT", "0")``; a switch is ``"1"``."""
    option, *value = flags
    name = "RAY2_MOCK_" + option[2:].upper().replace("-", "_")
    return name, value[0] if value else "1"


@pytest.mark.parametrize(("flags", "field", "value"), FLAGS, ids=[f[0][0] for f in FLAGS])
def test_each_flag_s_variable_reaches_the_same_config_field(
    flags: list[str], field: str, value: Any
) -> None:
    """The whole flag table of test_cli_args, through the environment instead: int, float,
    choice, path, switch and repeatable flags alike."""
    name, raw = as_variable(flags)
    assert getattr(serve({name: raw}), field) == value


def test_every_serve_flag_has_a_variable_and_the_table_above_covers_the_kinds() -> None:
    serve_parser = cli.serve_subparser(cli.parser())
    names = variables(serve_parser)
    assert len(names) == len(serve_flags(serve_parser)) >= 33
    assert {"RAY2_MOCK_STATE_DIR", "RAY2_MOCK_ADMIN_TOKEN", "RAY2_MOCK_API_KEYS"} <= set(names)
    assert all(name.startswith("RAY2_MOCK_") and name.isupper() for name in names)


ALLOW = "RAY2_MOCK_WEBHOOK_ALLOW"
AT_SUBMIT = "RAY2_MOCK_VALIDATE_AT_SUBMIT"
TOKEN = "RAY2_MOCK_ADMIN_TOKEN"
# (variable, its value, flags given, Config field, expected value)
PRECEDENCE: list[tuple[str, str, list[str], str, Any]] = [
    ("RAY2_MOCK_PORT", "9100", ["--port", "9200"], "port", 9200),
    ("RAY2_MOCK_PORT", "9100", [], "port", 9100),
    ("RAY2_MOCK_UNSET", "", [], "port", Config.port),
    ("RAY2_MOCK_FAULT_RATE", "0.5", ["--fault-rate", "0.1"], "fault_rate", 0.1),
    ("RAY2_MOCK_STORE", "memory", ["--store", "sqlite"], "store", "sqlite"),
    # a repeatable flag given replaces its variable's list (not added to it)
    (ALLOW, "a.example, b.example", [], "webhook_allow", ("a.example", "b.example")),
    (ALLOW, "a.example", ["--webhook-allow", "c.example"], "webhook_allow", ("c.example",)),
    # a switch: yes/no words, any case; "no" leaves the default
    (AT_SUBMIT, "Yes", [], "validate_at_submit", True),
    (AT_SUBMIT, "true", [], "validate_at_submit", True),
    (AT_SUBMIT, "0", [], "validate_at_submit", False),
    (AT_SUBMIT, "no", ["--validate-at-submit"], "validate_at_submit", True),
    ("RAY2_MOCK_ALLOW_REMOTE_FETCH", "false", [], "remote_images", "placeholder"),
    # an empty variable is no setting (compose files pass empty ones)
    ("RAY2_MOCK_CAPACITY", "", [], "capacity", None),
    (TOKEN, "from-the-environment", [], "admin_token", "from-the-environment"),
    (
        TOKEN,
        "from-the-environment",
        ["--admin-token", "from-the-flag"],
        "admin_token",
        "from-the-flag",
    ),
]


@pytest.mark.parametrize(("name", "raw", "flags", "field", "expected"), PRECEDENCE)
def test_a_flag_wins_over_its_variable_and_the_variable_over_the_default(
    name: str, raw: str, flags: list[str], field: str, expected: Any
) -> None:
    assert getattr(serve({name: raw}, *flags), field) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RAY2_MOCK_PORT": "abc"}, "RAY2_MOCK_PORT: invalid int value: 'abc'"),
        ({"RAY2_MOCK_WEBHOOK_RETRY_BASE": "soon"}, "RAY2_MOCK_WEBHOOK_RETRY_BASE: invalid float"),
        ({"RAY2_MOCK_TIMING": "slowest"}, "RAY2_MOCK_TIMING: invalid choice: 'slowest'"),
        ({"RAY2_MOCK_FAULT_RATE": "2"}, "RAY2_MOCK_FAULT_RATE: '2' is not a probability"),
        ({"RAY2_MOCK_PROGRESSION": "sometimes"}, "RAY2_MOCK_PROGRESSION: unknown progression"),
        ({"RAY2_MOCK_VALIDATE_AT_SUBMIT": "maybe"}, "RAY2_MOCK_VALIDATE_AT_SUBMIT: invalid switch"),
        ({"RAY2_MOCK_WORKERS": "2.5"}, "RAY2_MOCK_WORKERS: invalid int value: '2.5'"),
        # a value the parser takes but the Config refuses: the flag's message, and its variable
        ({"RAY2_MOCK_JOURNAL_SIZE": "-1"}, "--journal-size from RAY2_MOCK_JOURNAL_SIZE"),
        (
            {"RAY2_MOCK_REMOTE_IMAGES": "fail", "RAY2_MOCK_ALLOW_REMOTE_FETCH": "1"},
            "RAY2_MOCK_ALLOW_REMOTE_FETCH: disagrees with RAY2_MOCK_REMOTE_IMAGES",
        ),
    ],
)
def test_a_bad_value_exits_2_naming_the_variable(
    environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve"], environ)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_variable_of_serve_does_not_stop_other_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only serve reads them: `check --list` runs whatever the environment holds."""
    assert cli.main(["check", "--list"], {"RAY2_MOCK_PORT": "abc"}) == 0
    assert "cases:" in capsys.readouterr().out


def test_variables_are_read_only_for_flags_that_exist(tmp_path: Path) -> None:
    """A variable no flag has is no setting (and no error): the table of docs/service.md is
    held to the parser by tests/docs/test_service_page.py."""
    serve_parser = cli.serve_subparser(cli.parser())
    found = from_environment(serve_parser, {"RAY2_MOCK_NO_SUCH_FLAG": "1", "RAY2_MOCK_SEED": "4"})
    assert found.defaults == {"seed": 4}
    assert found.sources == {"seed": "RAY2_MOCK_SEED"}
