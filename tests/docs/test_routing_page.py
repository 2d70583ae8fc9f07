"""The routing page's table: every row says what to run and names tests that exist."""

from __future__ import annotations

from tests.support import REPO_ROOT, assert_names_existing_tests, markdown_rows


def routing_rows() -> list[list[str]]:
    text = (REPO_ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    first_section = text.split("\n## ", 1)[0]
    return markdown_rows(first_section, 3, "program")


def test_every_program_kind_names_what_to_run_and_a_test_that_exists() -> None:
    rows = routing_rows()
    assert len(rows) >= 8
    for program, command, tests in rows:
        assert command, f"{program!r}: nothing to run"
        assert_names_existing_tests(program, tests)
