"""README's routing table: every row says what to run and names tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import markdown_rows

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Route unmodified programs here"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def routing_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return markdown_rows(section, 3, "program")


def test_every_program_kind_names_what_to_run_and_a_test_that_exists() -> None:
    rows = routing_rows()
    assert len(rows) >= 8
    for program, command, tests in rows:
        assert command, f"{program!r}: nothing to run"
        references = REFERENCE.findall(tests)
        assert references, f"{program!r} names no test"
        for path, name in references:
            source = ROOT / path
            assert source.is_file(), f"{program!r}: no file {path}"
            if name:
                assert re.search(rf"^(async )?def {name}\b", source.read_text(), re.M), (
                    f"{program!r}: no {name} in {path}"
                )
