"""fal's endpoint catalogue: one JSON Schema pair per endpoint ``@fal-ai/client`` types.

``catalogue.json.gz`` is generated (``python -m contracts.catalogue.generate``, which documents
the file's format) from the endpoint types the pinned client ships; this module only reads it.
Nothing is read at import: :func:`load_catalogue` decompresses and parses the file on its first
call and keeps it (measured: about 25 ms, 6.6 MiB kept, 10 MiB at the peak); an endpoint's entry
is built when first asked for (about 0.3 ms) and kept too.

The types carry names, JSON types, enums, required-ness, descriptions and the defaults written
in the doc text. They carry no bounds (no minimum, maximum, length or pattern), and a falsy
default (``false``, ``0``, ``""``) is usually left out of the doc text, so it is not in a schema.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

CATALOGUE_FILE = Path(__file__).parent / "catalogue.json.gz"
FORMAT = 1
"""The file format this module reads (``format`` in the file)."""
DRAFT = "http://json-schema.org/draft-07/schema#"
"""The JSON Schema dialect of every schema (what ``ts-json-schema-generator`` writes)."""
REF_PREFIX = "#/definitions/"

Kind = Literal["video", "3d", "audio", "image", "file", "text", "other"]
KINDS: tuple[Kind, ...] = ("video", "3d", "audio", "image", "file", "text", "other")
"""Every kind, in the order of precedence the kind rules use."""

# The kind rules, as data. A field of the output is a *file* when its type (through aliases,
# arrays and unions) is a definition with a ``url`` property (``File``, ``Image``, ``VideoFile``,
# ``AudioFile``...), when it is a string whose name ends in ``_url``, or when it is named exactly
# ``video``/``image``/``audio`` (plural too) whatever its type. A file field's kind is
#   1. the media word in its type's name (``VideoFile`` -> video, ``ImageFile`` -> image...),
#   2. else the first word of its name (split on ``_``) found in NAME_WORDS,
#   3. else the endpoint id's words (split on ``/``, ``-``, ``_``, ``.``) found in ID_WORDS,
#      searched from the end of the id,
#   4. else ``file``.
# The endpoint's kind is the first of KINDS any file field has; with no file field it is
# ``text`` when the output has a string field (or array of strings) named in TEXT_FIELDS, else
# ``other`` (ids, scores, embeddings, detections).
TYPE_WORDS: dict[str, Kind] = {"Video": "video", "Audio": "audio", "Image": "image"}
NAME_WORDS: dict[str, Kind] = {
    **dict.fromkeys(["video", "videos"], "video"),
    **dict.fromkeys(["audio", "audios", "vocals", "speech", "voice"], "audio"),
    **dict.fromkeys(["model", "mesh", "meshes", "glb", "obj", "fbx", "ply", "splat"], "3d"),
    **dict.fromkeys(["gaussian", "world", "body", "full", "base", "pbr"], "3d"),
    **dict.fromkeys(["image", "images", "mask", "masks", "thumbnail", "texture"], "image"),
    **dict.fromkeys(["textures", "preview", "rendered", "visualization", "depth"], "image"),
    **dict.fromkeys(["file", "lora", "config", "zip", "dir", "json", "latents"], "file"),
    **dict.fromkeys(["dataset", "embedding", "debug"], "file"),
}
ID_WORDS: dict[str, Kind] = {
    **dict.fromkeys(["video", "t2v", "i2v", "v2v"], "video"),
    **dict.fromkeys(["audio", "tts", "speech", "music", "sfx", "demucs", "dubbing"], "audio"),
    **dict.fromkeys(["3d", "mesh", "tripo", "trellis", "rodin"], "3d"),
    **dict.fromkeys(["image", "t2i", "i2i"], "image"),
}
MEDIA_FIELDS = frozenset(["video", "videos", "image", "images", "audio", "audios"])
TEXT_FIELDS = frozenset(
    ["output", "outputs", "text", "results", "caption", "description", "transcription"]
    + ["generated_text", "text_output", "prompt", "revised_prompt", "label"]
)
_ID_SPLIT = re.compile(r"[/\-_.]")


@dataclass(frozen=True)
class CatalogueEntry:
    """One endpoint: its types as ``EndpointTypeMap`` names them and self-contained schemas.

    ``input_schema`` and ``output_schema`` are draft-07 JSON Schemas carrying every definition
    they refer to (``definitions``); their ``title`` is the type's name after aliases. They are
    shared by every caller: copy before changing one."""

    endpoint_id: str
    input_type: str
    output_type: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    kind: Kind


class Catalogue:
    """The parsed catalogue file; entries are built on first ask and kept."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT:
            raise ValueError(f"catalogue format {document.get('format')!r}, expected {FORMAT}")
        self.source: dict[str, str] = document["source"]
        self.tools: dict[str, str] = document["tools"]
        self.definitions: dict[str, Any] = document["definitions"]
        self._endpoints: dict[str, dict[str, str]] = document["endpoints"]
        self._entries: dict[str, CatalogueEntry] = {}

    def __len__(self) -> int:
        return len(self._endpoints)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._endpoints))

    def __contains__(self, endpoint_id: object) -> bool:
        return endpoint_id in self._endpoints

    def endpoint(self, endpoint_id: str) -> CatalogueEntry | None:
        """The endpoint's entry, or None when the client types no such endpoint."""
        if (entry := self._entries.get(endpoint_id)) is not None:
            return entry
        pair = self._endpoints.get(endpoint_id)
        if pair is None:
            return None
        entry = CatalogueEntry(
            endpoint_id=endpoint_id,
            input_type=pair["input"],
            output_type=pair["output"],
            input_schema=self.schema(pair["input"]),
            output_schema=self.schema(pair["output"]),
            kind=self.kind(endpoint_id),
        )
        self._entries[endpoint_id] = entry
        return entry

    def resolve(self, type_name: str) -> str:
        """The type an alias chain ends at (``Ray2FlashOutput`` -> ``I2VOutput``)."""
        seen = {type_name}
        while set(rule := self.definitions[type_name]) == {"$ref"}:
            type_name = _ref_name(rule["$ref"])
            if type_name in seen:
                raise ValueError(f"alias loop at {type_name}")
            seen.add(type_name)
        return type_name

    def schema(self, type_name: str) -> dict[str, Any]:
        """A self-contained JSON Schema of one type: its definition, titled with its resolved
        name, with every definition it refers to (however deeply) under ``definitions``."""
        name = self.resolve(type_name)
        root = copy.deepcopy(self.definitions[name])
        wanted: dict[str, Any] = {}
        pending = _refs(root)
        while pending:
            ref = pending.pop()
            if ref not in wanted:
                wanted[ref] = copy.deepcopy(self.definitions[ref])
                pending |= _refs(wanted[ref])
        schema = {"$schema": DRAFT, "title": name, **root}
        if wanted:
            schema["definitions"] = dict(sorted(wanted.items()))
        return schema

    def kind(self, endpoint_id: str) -> Kind:
        """What the endpoint makes, guessed from its output type and id (the rules above)."""
        rule = self.definitions[self.resolve(self._endpoints[endpoint_id]["output"])]
        found: set[Kind] = set()
        has_text = False
        for name, field in rule.get("properties", {}).items():
            if (kind := self._file_kind(name, field, endpoint_id)) is not None:
                found.add(kind)
            elif name in TEXT_FIELDS and self._is_text(field):
                has_text = True
        for kind in KINDS:
            if kind in found:
                return kind
        return "text" if has_text else "other"

    def kinds(self) -> Counter[Kind]:
        """How many endpoints of each kind."""
        return Counter(self.kind(endpoint_id) for endpoint_id in self._endpoints)

    def _members(self, rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The schemas a field may hold: through arrays, unions and aliases."""
        if "$ref" in rule:
            name = self.resolve(_ref_name(rule["$ref"]))
            yield {"$name": name, **self.definitions[name]}
        elif "anyOf" in rule:
            for option in rule["anyOf"]:
                yield from self._members(option)
        elif rule.get("type") == "array" and isinstance(rule.get("items"), dict):
            yield from self._members(rule["items"])
        else:
            yield rule

    def _file_kind(self, name: str, rule: dict[str, Any], endpoint_id: str) -> Kind | None:
        members = list(self._members(rule))
        files = [m for m in members if "url" in m.get("properties", {})]
        url_string = name.endswith("_url") and any(m.get("type") == "string" for m in members)
        if not (files or url_string or name in MEDIA_FIELDS):
            return None
        for member in files:
            for word, kind in TYPE_WORDS.items():
                if word in member["$name"]:
                    return kind
        for word in name.split("_"):
            if word in NAME_WORDS:
                return NAME_WORDS[word]
        for word in reversed(_ID_SPLIT.split(endpoint_id.lower())):
            if word in ID_WORDS:
                return ID_WORDS[word]
        return "file"

    def _is_text(self, rule: dict[str, Any]) -> bool:
        return any(member.get("type") == "string" for member in self._members(rule))


def _ref_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"unexpected $ref {ref!r}")
    return ref[len(REF_PREFIX) :]


def _refs(node: Any) -> set[str]:
    """The definition names a schema refers to directly (at any depth of the node itself)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(_ref_name(ref))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue, read and parsed once per process (per path)."""
    return Catalogue(json.loads(gzip.decompress(path.read_bytes())))
