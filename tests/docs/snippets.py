"""The site's Python snippets, found with pytest-examples, and how each one is run.

A fence says how its snippet runs, so the page a user reads is the test:

- ``title="test_*.py"``: a pytest file, run by pytest with the page's ``title="conftest.py"``
  snippets beside it (the installed ``ray2_mock`` plugin is active, as for a user).
- ``data-cmd="..."`` (brace form, ``{.python title=... data-cmd=...}``): written under its
  title, then that shell command runs beside it.
- any other snippet: a program, run under ``ray2-mock env``'s exports against a running
  ``ray2-mock serve``, as a user runs a program written for live fal.

``evidence.md`` is left out: its code blocks are quotations of fal's code, not examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_examples import find_examples

from tests.support import REPO_ROOT

QUOTATIONS = {"evidence.md"}


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    source: str
    title: str
    command: str | None

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT).as_posix()}:{self.line}"

    @property
    def kind(self) -> str:
        if self.command is not None:
            return "command"
        if self.title.startswith("test_"):
            return "pytest"
        if self.title == "conftest.py":
            return "conftest"
        return "program"


def site_pages() -> list[Path]:
    pages = sorted((REPO_ROOT / "docs").glob("*.md"))
    return [REPO_ROOT / "README.md", *(p for p in pages if p.name not in QUOTATIONS)]


def snippets() -> list[Snippet]:
    found = []
    for example in find_examples(*site_pages()):
        settings = example.prefix_settings()
        found.append(
            Snippet(
                page=example.path,
                line=example.start_line,
                source=example.source,
                title=settings.get("title", f"snippet_{example.start_line}.py"),
                command=settings.get("data-cmd"),
            )
        )
    return found
