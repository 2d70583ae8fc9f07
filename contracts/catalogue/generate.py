"""Generate ``contracts/schemas/catalogue.json.gz`` from the types the pinned client ships.

    python -m contracts.catalogue.generate            # write the catalogue
    python -m contracts.catalogue.generate --check    # exit 1 when the committed file differs

Two steps. ``tools/schemas.mjs`` runs ``ts-json-schema-generator`` (a real TypeScript tool,
pinned with ``typescript`` in ``tools/package-lock.json`` and installed there with ``npm ci`` on
first use) over ``@fal-ai/client``'s ``src/types/endpoints.d.ts``: one JSON Schema definition per
exported type reachable from ``EndpointTypeMap``, file inputs (``string | Blob | File``) as
strings. Then this module moves each ``Default value: `...` `` out of its description into a JSON
Schema ``default`` (the type-drift parser's rule, :func:`contracts.live.typedrift.split_default`),
reads the endpoint map into ``endpoints`` and writes one canonical JSON document (sorted keys,
no spaces), gzip-compressed with ``mtime=0``: the same client gives the same bytes.

The file's format (version 1)::

    {"format": 1,
     "source": {"package": "@fal-ai/client", "version": ..., "file": ..., "sha256": ...},
     "tools": {"ts-json-schema-generator": ..., "typescript": ...},
     "endpoints": {"<endpoint id>": {"input": "<type name>", "output": "<type name>"}, ...},
     "definitions": {"<type name>": <draft-07 JSON Schema>, ...}}

Definitions are shared: ``Image``, ``File``, ``ImageSize``... appear once, and schemas refer to
them with ``{"$ref": "#/definitions/<type name>"}``; an alias type (``Ray2FlashOutput =
I2VOutput``) is a definition holding only that ``$ref``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from contracts.live.typedrift import TYPES_FILE, split_default
from contracts.schemas.catalogue import CATALOGUE_FILE, FORMAT

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent / "tools"
CLIENT_NODE_MODULES = ROOT / "tests" / "js" / "node_modules"
"""Where the pinned client is installed (``tests/js/package.json`` pins it)."""
MAP_TYPE = "EndpointTypeMap"
REF_PREFIX = "#/definitions/"


class GenerationError(RuntimeError):
    pass


def ensure_tools(tools: Path = TOOLS) -> None:
    """Install the pinned TypeScript tools with ``npm ci`` unless they are already there."""
    if (tools / "node_modules" / "ts-json-schema-generator").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise GenerationError("npm not found: the catalogue's TypeScript tools need Node.js")
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(command, cwd=tools, check=True)


def run_tool(types_file: Path, tools: Path = TOOLS) -> dict[str, Any]:
    """What ``tools/schemas.mjs`` prints for one ``endpoints.d.ts``."""
    node = shutil.which("node")
    if node is None:
        raise GenerationError("node not found: the catalogue's TypeScript tools need Node.js")
    done = subprocess.run(
        [node, str(tools / "schemas.mjs"), str(types_file)],
        cwd=tools,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise GenerationError(done.stderr.decode(errors="replace")[-3000:])
    return json.loads(done.stdout)


def _ref_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise GenerationError(f"unexpected $ref {ref!r}")
    return unquote(ref[len(REF_PREFIX) :])


def _move_defaults(node: Any) -> None:
    """Every ``Default value: `x` `` at the end of a description becomes ``"default": x``."""
    if isinstance(node, list):
        for item in node:
            _move_defaults(item)
        return
    if not isinstance(node, dict):
        return
    description = node.get("description")
    if isinstance(description, str):
        text, default, has_default = split_default(description)
        if has_default:
            node["default"] = default
        if text:
            node["description"] = text
        else:
            del node["description"]
    for key, value in node.items():
        if key == "properties":
            for rule in value.values():
                _move_defaults(rule)
        elif key not in ("description", "default", "enum", "const"):
            _move_defaults(value)


def build(raw: dict[str, Any], source: dict[str, str]) -> dict[str, Any]:
    """The catalogue document from the tool's output and where the types came from."""
    definitions: dict[str, Any] = dict(raw["schema"]["definitions"])
    endpoint_map = definitions.pop(MAP_TYPE)
    endpoints = {}
    for endpoint_id, pair in endpoint_map["properties"].items():
        refs = pair["properties"]
        endpoints[endpoint_id] = {
            "input": _ref_name(refs["input"]["$ref"]),
            "output": _ref_name(refs["output"]["$ref"]),
        }
    for schema in definitions.values():
        _move_defaults(schema)
    return {
        "format": FORMAT,
        "source": source,
        "tools": raw["tools"],
        "endpoints": endpoints,
        "definitions": definitions,
    }


def encode(catalogue: dict[str, Any]) -> bytes:
    """Canonical bytes: sorted keys, no spaces, UTF-8, gzip with no timestamp or file name."""
    text = json.dumps(catalogue, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def source_of(node_modules: Path) -> dict[str, str]:
    package = json.loads((node_modules / "@fal-ai" / "client" / "package.json").read_text())
    types_file = node_modules / TYPES_FILE
    return {
        "package": package["name"],
        "version": package["version"],
        "file": TYPES_FILE.relative_to("@fal-ai/client").as_posix(),
        "sha256": hashlib.sha256(types_file.read_bytes()).hexdigest(),
    }


def generate(node_modules: Path = CLIENT_NODE_MODULES, tools: Path = TOOLS) -> bytes:
    """The catalogue file's bytes for the client installed in ``node_modules``."""
    types_file = node_modules / TYPES_FILE
    if not types_file.is_file():
        raise GenerationError(f"{types_file} not found: install the pinned @fal-ai/client")
    ensure_tools(tools)
    return encode(build(run_tool(types_file, tools), source_of(node_modules)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.catalogue.generate")
    parser.add_argument(
        "--client",
        type=Path,
        default=CLIENT_NODE_MODULES,
        help="node_modules holding @fal-ai/client (default: tests/js's)",
    )
    parser.add_argument("--out", type=Path, default=CATALOGUE_FILE)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when --out differs from what is generated",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        data = generate(args.client)
    except (GenerationError, subprocess.CalledProcessError) as error:
        print(f"catalogue: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    size = f"{len(data):,} bytes gzip, {len(gzip.decompress(data)):,} bytes JSON"
    if args.check:
        same = args.out.is_file() and args.out.read_bytes() == data
        print(f"catalogue: {args.out} {'is' if same else 'is NOT'} what the client gives ({size})")
        return 0 if same else 1
    args.out.write_bytes(data)
    print(f"catalogue: wrote {args.out} ({size}) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
