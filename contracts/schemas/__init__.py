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


CATALOGUE_SCHEMA = "catalogue:"
"""Schema names of catalogue endpoints: ``catalogue:<endpoint id>:input`` (or ``:output``)."""


def owner_alias(endpoint_id: str) -> str:
    """``fal-ai/flux/dev`` -> ``fal-ai/flux``: what fal addresses an endpoint's requests by."""
    return "/".join(endpoint_id.split("/", 2)[:2])


SPEC_SCHEMA = "spec:"
"""Schema names of endpoints described by a fal OpenAPI document (``specs``)."""


def catalogue_schema_name(endpoint_id: str, side: str, prefix: str = CATALOGUE_SCHEMA) -> str:
    return f"{prefix}{endpoint_id}:{side}"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Parsed schema; cached because validators are built once per process. A file of this
    folder, or a catalogue endpoint's input or output (``catalogue_schema_name``)."""
    if name.startswith(SPEC_SCHEMA):
        from contracts.schemas.specs import registered_spec

        endpoint_id, _, side = name.removeprefix(SPEC_SCHEMA).rpartition(":")
        spec = registered_spec(endpoint_id)
        if spec is None or side not in ("input", "output"):
            raise FileNotFoundError(f"no endpoint spec named {name!r}")
        return spec.input_schema if side == "input" else spec.output_schema
    if name.startswith(CATALOGUE_SCHEMA):
        from contracts.schemas.catalogue import load_catalogue  # read on first use only

        endpoint_id, _, side = name.removeprefix(CATALOGUE_SCHEMA).rpartition(":")
        entry = load_catalogue().endpoint(endpoint_id)
        if entry is None or side not in ("input", "output"):
            raise FileNotFoundError(f"no catalogue schema named {name!r}")
        return entry.input_schema if side == "input" else entry.output_schema
    return json.loads(schema_path(name).read_text(encoding="utf-8"))
