"""``ray2-mock env --shell sh|fish|powershell``: every form sets exactly the same values.

Values are paths and URLs a user's machine decides (spaces, quotes, backslashes on Windows), so
each form is read back by its own shell where that shell is installed, and by the shell's
documented quoting rules otherwise.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.cli import FAKE_KEY, env_exports, main, render_exports
from mockserver.serving.server import ServerInfo, env_command, self_command

AWKWARD_CA = "/tmp/it's a dir/\\\\unc\\share/$HOME `x`/ca.pem"
AWKWARD_ROUTE = Path('/tmp/it\'s a dir/\\unc/$HOME "x"/node_route.cjs')
INFO = ServerInfo("127.0.0.1", 8765, 8766, 8767, AWKWARD_CA)
# node's NODE_OPTIONS syntax: one double-quoted token, \\ and \" escaped inside it.
NODE_REQUIRE = '--require="/tmp/it\'s a dir/\\\\unc/$HOME \\"x\\"/node_route.cjs"'
EXPECTED = {
    "HTTPS_PROXY": "http://127.0.0.1:8767",
    "SSL_CERT_FILE": AWKWARD_CA,
    "REQUESTS_CA_BUNDLE": AWKWARD_CA,
    "CURL_CA_BUNDLE": AWKWARD_CA,
    "NODE_EXTRA_CA_CERTS": AWKWARD_CA,
    "RAY2_MOCK_TLS_URL": "https://127.0.0.1:8766",
    "NODE_OPTIONS": NODE_REQUIRE,
}
NAMES = [*EXPECTED, "FAL_KEY"]


def exports(shell: str) -> str:
    return render_exports(env_exports(INFO, "proxy", node_route=AWKWARD_ROUTE), shell)


SHOW = {  # prints each variable on its own line, as the shell sees it
    "sh": "; ".join(f'printf "%s\\n" "${n}"' for n in NAMES),
    "fish": "; ".join(f'printf "%s\\n" "${n}"' for n in NAMES),
}


def run_in(shell: str, exports: str, env: dict[str, str]) -> list[str]:
    completed = subprocess.run(
        [shell, "-c", f"{exports}\n{SHOW[shell]}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return completed.stdout.splitlines()


@pytest.mark.parametrize("shell", ["sh", "fish"])
@pytest.mark.parametrize(
    ("fal_key", "node_options"), [(None, None), ("users-own-key", "--max-old-space-size=64")]
)
def test_shell_reads_back_every_value(
    shell: str, fal_key: str | None, node_options: str | None
) -> None:
    """FAL_KEY and NODE_OPTIONS a user already has are kept (NODE_OPTIONS after the preload)."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here; its quoting is checked by rule below")
    env = {"PATH": "/usr/bin:/bin", **({"FAL_KEY": fal_key} if fal_key else {})}
    if node_options:
        env["NODE_OPTIONS"] = node_options
    values = run_in(shell, exports(shell), env)
    expected = {**EXPECTED, "FAL_KEY": fal_key or FAKE_KEY}
    if node_options:
        expected["NODE_OPTIONS"] = f"{NODE_REQUIRE} {node_options}"
    assert values == list(expected.values())


POWERSHELL_QUOTED = r"'(?P<value>(?:[^']|'')*)'"
POWERSHELL_SET = re.compile(rf"^\$env:(?P<name>\w+) = {POWERSHELL_QUOTED}$")
# Ours first, then whatever the variable held (nothing: no trailing space).
POWERSHELL_PREPEND = re.compile(
    rf"^\$env:(?P<name>\w+) = \({POWERSHELL_QUOTED} \+ ' ' \+ \$env:(?P=name)\)\.TrimEnd\(\)$"
)


def test_powershell_form_is_single_quoted_literals() -> None:
    """PowerShell single quotes are literal ('' is a quote): no $ or ` expansion, no bare words."""
    lines = exports("powershell").splitlines()
    values = {}
    for line in lines[:-1]:
        match = POWERSHELL_SET.match(line) or POWERSHELL_PREPEND.match(line)
        assert match, f"not a quoted PowerShell assignment: {line}"
        values[match["name"]] = match["value"].replace("''", "'")
    assert values == EXPECTED
    assert POWERSHELL_PREPEND.match(lines[list(EXPECTED).index("NODE_OPTIONS")])
    assert lines[-1] == f"if (-not $env:FAL_KEY) {{ $env:FAL_KEY = '{FAKE_KEY}' }}"


FISH_QUOTED = r"'((?:[^'\\]|\\.)*)'"


def test_fish_form_by_rule() -> None:
    """fish: set -gx NAME 'value' with \\\\ and \\' the only escapes inside single quotes;
    NODE_OPTIONS joins ours and the old value into one word with `string join`."""
    lines = exports("fish").splitlines()
    values = {}
    for line in lines[:-1]:
        match = re.match(rf"^set -gx (\w+) {FISH_QUOTED}$", line) or re.match(
            rf"^set -gx (\w+) \(string join ' ' -- {FISH_QUOTED} \$(\w+)\)$", line
        )
        assert match, f"not a quoted fish assignment: {line}"
        assert match.lastindex == 2 or match[3] == match[1] == "NODE_OPTIONS", line
        values[match[1]] = re.sub(r"\\(.)", r"\1", match[2])
    assert values == EXPECTED
    assert lines[-1] == f"set -q FAL_KEY; or set -gx FAL_KEY {FAKE_KEY}"


PYTHON_M = [sys.executable, "-m", "mockserver.cli"]  # what runs ray2-mock inside pytest


def test_env_warns_with_the_command_that_starts_the_stopped_emulator_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server.json left by a stopped server still prints its exports, and the command that
    listens where they point (tests/integration/test_env_routing.py runs it)."""
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stale = ServerInfo("127.0.0.1", port, port + 1, port + 7, str(tmp_path / "ca.pem"))
    (tmp_path / "server.json").write_text(stale.to_json())
    assert main(["env", "--state-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert f"export HTTPS_PROXY=http://127.0.0.1:{port + 7}" in out
    warning, command = err.splitlines()
    assert f"no emulator answers on 127.0.0.1:{port}" in warning
    restart = ["serve", "--state-dir", str(tmp_path), "--port", str(port)]
    assert command == "  " + shlex.join([*PYTHON_M, *restart, "--proxy-port", str(port + 7)])


def test_env_without_a_state_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["env", "--state-dir", str(tmp_path / "nothing")]) == 1
    _, err = capsys.readouterr()
    start = shlex.join([*PYTHON_M, "serve", "--state-dir", str(tmp_path / "nothing")])
    assert err.splitlines()[-1] == f"  {start}"


def test_self_command_is_what_a_user_can_paste(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console script by absolute path (make serve runs .venv/bin's, not on PATH), by name
    when PATH finds that very script, and python -m for anything else."""
    bin_dir = tmp_path / "venv dir" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "ray2-mock"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "serve"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert self_command() == [str(script)]
    assert env_command(Path("rel")) == shlex.join(
        [str(script), "env", "--state-dir", str(Path("rel").absolute())]
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert self_command() == ["ray2-mock"]
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "pytest"), "-q"])
    assert self_command() == PYTHON_M


@pytest.mark.parametrize(
    ("host", "reached"),
    [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1")],
)
def test_every_address_in_the_exports_is_one_a_url_can_hold(host: str, reached: str) -> None:
    """A bind on ::1 exported HTTPS_PROXY=http://::1:8767 (no brackets: not a URL) and sent
    direct mode to 127.0.0.1, where nothing listened; a wildcard bind exported 0.0.0.0."""
    info = ServerInfo(host, 8765, 8766, 8767, AWKWARD_CA)
    proxy = env_exports(info, "proxy")
    assert proxy["HTTPS_PROXY"] == f"http://{reached}:8767"
    assert proxy["RAY2_MOCK_TLS_URL"] == f"https://{reached}:8766"
    direct = env_exports(info, "direct")
    assert direct["FAL_QUEUE_RUN_HOST"] == f"{reached}:8766"
    assert direct["FAL_RUN_HOST"] == f"{reached}:8766/run"
