"""The JSON Schema files are the single source of truth; this only reads them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent


def schema_path(name: str) -> Path:
    """Path of a schema file, e.g. ``ray-2.input.json``; refuses names outside this folder."""
    path = (SCHEMA_DIR / name).resolve()
    if path.parent != SCHEMA_DIR.resolve() or not path.is_file():
        raise FileNotFoundError(f"no schema named {name!r} in {SCHEMA_DIR}")
    return path


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Parsed schema; cached because validators are built once per process."""
    return json.loads(schema_path(name).read_text(encoding="utf-8"))
