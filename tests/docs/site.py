"""Building the documentation site as `make docs` does, once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO_ROOT


@dataclass(frozen=True)
class BuiltSite:
    root: Path
    log: str

    def page(self, source: str) -> str:
        """The HTML built from ``docs/<source>``."""
        return (self.root / page_url(source) / "index.html").read_text(encoding="utf-8")


def build(destination: Path) -> BuiltSite:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(destination)]
    done = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no end-of-life banner in the log
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-5000:]}"
    return BuiltSite(destination, done.stdout + done.stderr)


def nav_pages() -> list[str]:
    """Every page file the navigation of mkdocs.yml lists, in order."""
    config = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(), Loader=yaml.SafeLoader)
    pages: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    return pages


def page_url(source: str) -> str:
    """``routing.md`` -> ``routing/``; ``index.md`` -> `` `` (mkdocs' directory URLs)."""
    return "" if source == "index.md" else source.removesuffix(".md") + "/"
