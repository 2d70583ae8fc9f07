"""docs/fidelity.md: every behaviour row names a test, and every test it names exists."""

from __future__ import annotations

from tests.support import REPO_ROOT, assert_names_existing_tests, markdown_rows

LEDGER = REPO_ROOT / "docs" / "fidelity.md"


def behaviour_rows() -> list[list[str]]:
    return markdown_rows(LEDGER.read_text(encoding="utf-8"), 5, "behaviour")


def test_every_row_names_a_test_that_exists() -> None:
    rows = behaviour_rows()
    assert len(rows) >= 40
    for behaviour, *_, tests in rows:
        assert_names_existing_tests(behaviour, tests)


def test_every_row_states_its_evidence_or_says_it_is_inferred() -> None:
    tags = ("LIVE", "LIVE-TEST", "SRC", "DOC", "3P", "INF", "—")
    for behaviour, _live, evidence, _emulator, _tests in behaviour_rows():
        assert any(tag in evidence for tag in tags), behaviour
