"""The fidelity ledger read as data: its behaviour rows and the pytest node ids each names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LEDGER = REPO_ROOT / "docs" / "fidelity.md"
LEDGER_COLUMNS = ("behaviour", "live fal", "evidence", "emulator", "test")
NAMED_TEST = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")
"""`tests/x.py::test_name`, `tests/x.py` (every test in it), or `::test_name` (in the file
named last in the same cell)."""


@dataclass(frozen=True)
class LedgerRow:
    behaviour: str
    live: str
    evidence: str
    emulator: str
    tests: tuple[str, ...]
    """pytest node ids: ``path`` or ``path::function``."""


def named_tests(cell: str) -> tuple[str, ...]:
    """The node ids a tests cell names, in order; a bare ``::name`` belongs to the file named
    before it."""
    ids: list[str] = []
    current: str | None = None
    for path, name in NAMED_TEST.findall(cell):
        if path:
            current = path
        if current is None or not (path or name):
            continue
        ids.append(f"{current}::{name}" if name else current)
    return tuple(dict.fromkeys(ids))


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == len(LEDGER_COLUMNS) and cells[0] not in (LEDGER_COLUMNS[0], "---"):
            rows.append(cells)
    return rows


def ledger_rows(path: Path = LEDGER) -> list[LedgerRow]:
    return [
        LedgerRow(behaviour, live, evidence, emulator, named_tests(tests))
        for behaviour, live, evidence, emulator, tests in table_rows(path.read_text("utf-8"))
    ]
