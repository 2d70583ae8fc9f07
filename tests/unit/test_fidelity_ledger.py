"""docs/fidelity.md: every behaviour row names tests that exist and states its evidence; every
mutant of the mutation harness aims at a real row and still applies to the source."""

from __future__ import annotations

import re

import pytest

from tests.mutation.ledger import REPO_ROOT, ledger_rows
from tests.mutation.mutants import MUTANTS

ROWS = ledger_rows()


def test_every_row_names_tests_that_exist() -> None:
    assert len(ROWS) >= 40
    for row in ROWS:
        assert row.tests, f"{row.behaviour!r} names no test"
        for node in row.tests:
            path, _, name = node.partition("::")
            source = REPO_ROOT / path
            assert source.is_file(), f"{row.behaviour!r}: no file {path}"
            if name:
                assert re.search(rf"^(async )?def {name}\b", source.read_text(), re.M), (
                    f"{row.behaviour!r}: no {name} in {path}"
                )


def test_every_row_states_its_evidence_or_says_it_is_inferred() -> None:
    tags = ("LIVE", "LIVE-TEST", "SRC", "DOC", "3P", "INF", "—")
    for row in ROWS:
        assert any(tag in row.evidence for tag in tags), row.behaviour


def test_behaviours_are_unique() -> None:
    names = [row.behaviour for row in ROWS]
    assert len(names) == len(set(names)), "two rows share a behaviour: mutants could not aim"


def test_every_row_has_a_mutant() -> None:
    """``make mutate`` can only prove a row held if some mutant breaks it."""
    aimed = {mutant.row for mutant in MUTANTS}
    assert [row.behaviour for row in ROWS if row.behaviour not in aimed] == []


def test_every_captured_body_is_cited_in_the_evidence() -> None:
    """A stored capture says where it came from: docs/evidence.md names each file."""
    evidence = (REPO_ROOT / "docs" / "evidence.md").read_text("utf-8")
    stored = sorted(p.name for p in (REPO_ROOT / "tests" / "fixtures" / "evidence").iterdir())
    assert stored and [name for name in stored if name not in evidence] == []


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.path}:{m.breaks[:40]}")
def test_each_mutant_aims_at_a_row_and_applies(mutant) -> None:  # type: ignore[no-untyped-def]
    assert mutant.row in {row.behaviour for row in ROWS}, f"no ledger row {mutant.row!r}"
    source = (REPO_ROOT / mutant.path).read_text("utf-8")
    assert mutant.apply(source) != source
