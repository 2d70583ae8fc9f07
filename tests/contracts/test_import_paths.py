"""The toolkit's import paths the README showed before it was grouped by concern still work,
and give the very same module (CHANGELOG.md), so code written against them keeps running."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MOVED = {
    "contracts.strategies": "contracts.generation.strategies",
    "contracts.clients": "contracts.client.adapters",
    "contracts.suite_tests": "contracts.pytest.suite_tests",
    "contracts.pytest_plugin": "contracts.pytest.plugin",
    "contracts.pytest_options": "contracts.pytest.options",
}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_is_the_new_module(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)


def test_what_the_readme_imports_still_imports_in_a_fresh_interpreter() -> None:
    """The lines users copied, each in a process that imported nothing of the toolkit before."""
    lines = [
        "from contracts.strategies import T2V, I2V, valid_inputs, invalid_inputs, covering_inputs",
        "from contracts.strategies import SHORT_NAMES; SHORT_NAMES['flash-reframe']",
        "from contracts.clients import ClientCall",
        "from contracts.openapi import load_openapi; load_openapi()",
    ]
    for line in lines:
        done = subprocess.run([sys.executable, "-c", line], capture_output=True, text=True)
        assert done.returncode == 0, (line, done.stderr[-2000:])
