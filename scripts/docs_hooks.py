"""Build-time hooks of the documentation site (mkdocs.yml ``hooks``): pages made from data.

- The HTTP reference is rendered from the emulator's own OpenAPI document, never written twice:
  ``contracts.openapi.load_openapi()`` expands the per-endpoint operations and inlines the
  schemas, the result goes to a temporary file, and the page's marker becomes the
  ``[OAD(file)]`` directive that the neoteroi plugin renders.
- In the fidelity ledger, each source named in the evidence column links to its quotes: the
  names are the ``### <name>`` headings of ``evidence.md``, so the source file stays plain text
  that the ledger tests parse, and the strict build checks every link's anchor.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify
from mkdocs.plugins import event_priority

from contracts.openapi import load_openapi

MARKER = "<!-- openapi-reference -->"
EVIDENCE_PAGE = "evidence.md"
LEDGER_PAGE = "fidelity.md"
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
EVIDENCE_COLUMN = 3  # "| behaviour | live fal | evidence | emulator | test |" split on "|"
_document: list[Path] = []


def _openapi_file() -> Path:
    if not _document:
        folder = Path(tempfile.mkdtemp(prefix="ray2-mock-docs-"))
        _document.append(folder / "openapi.json")
        _document[0].write_text(json.dumps(load_openapi(), indent=1), encoding="utf-8")
    return _document[0]


def _evidence_pattern(docs_dir: Path) -> re.Pattern[str]:
    text = (docs_dir / EVIDENCE_PAGE).read_text(encoding="utf-8")
    names = sorted(re.findall(r"^### (\S+)\s*$", text, flags=re.M), key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"(?<![\w\-./#\[`])(`?)({alternatives})\1(?![\w\-])")


def _linked_evidence(markdown: str, pattern: re.Pattern[str]) -> str:
    def link(match: re.Match[str]) -> str:
        tick, name = match.group(1), match.group(2)
        return f"[{tick}{name}{tick}]({EVIDENCE_PAGE}#{slugify(name, '-')})"

    lines = []
    for line in markdown.splitlines():
        cells = CELL_SEPARATOR.split(line)
        if line.startswith("| ") and len(cells) > EVIDENCE_COLUMN + 1:
            cells[EVIDENCE_COLUMN] = pattern.sub(link, cells[EVIDENCE_COLUMN])
            line = "|".join(cells)
        lines.append(line)
    return "\n".join(lines)


@event_priority(100)  # before the neoteroi plugin reads the page's directives
def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, f"[OAD({_openapi_file().as_posix()})]")
    if page.file.src_uri == LEDGER_PAGE:
        markdown = _linked_evidence(markdown, _evidence_pattern(Path(config["docs_dir"])))
    return markdown
