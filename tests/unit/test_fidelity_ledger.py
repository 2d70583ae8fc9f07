"""docs/fidelity.md: every behaviour row names a test, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import markdown_rows

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "fidelity.md"
REFERENCE = re.compile(r"`((?:tests|contracts)/[\w/]+\.py)(?:::(\w+))?`")


def behaviour_rows() -> list[list[str]]:
    return markdown_rows(LEDGER.read_text(encoding="utf-8"), 5, "behaviour")


def test_every_row_names_a_test_that_exists() -> None:
    rows = behaviour_rows()
    assert len(rows) >= 40
    for behaviour, *_, tests in rows:
        references = REFERENCE.findall(tests)
        assert references, f"{behaviour!r} names no test"
        for path, name in references:
            source = ROOT / path
            assert source.is_file(), f"{behaviour!r}: no file {path}"
            if name:
                assert re.search(rf"^(async )?def {name}\b", source.read_text(), re.M), (
                    f"{behaviour!r}: no {name} in {path}"
                )


def test_every_row_states_its_evidence_or_says_it_is_inferred() -> None:
    tags = ("LIVE", "LIVE-TEST", "SRC", "DOC", "3P", "INF", "—")
    for behaviour, _live, evidence, _emulator, _tests in behaviour_rows():
        assert any(tag in evidence for tag in tags), behaviour
