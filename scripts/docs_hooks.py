"""Build-time hooks of the documentation site (mkdocs.yml ``hooks``).

The HTTP reference is rendered from the emulator's own OpenAPI document, never written twice:
``contracts.openapi.load_openapi()`` expands the per-endpoint operations and inlines the
schemas, the result goes to a temporary file, and the marker on the page becomes the
``[OAD(file)]`` directive that the neoteroi plugin renders.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

from contracts.openapi import load_openapi

MARKER = "<!-- openapi-reference -->"
_document: Path | None = None


def _written_document() -> Path:
    global _document
    if _document is None:
        folder = Path(tempfile.mkdtemp(prefix="ray2-mock-docs-"))
        _document = folder / "openapi.json"
        _document.write_text(json.dumps(load_openapi(), indent=1), encoding="utf-8")
    return _document


@event_priority(100)  # before the neoteroi plugin reads the page's directives
def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, f"[OAD({_written_document().as_posix()})]")
