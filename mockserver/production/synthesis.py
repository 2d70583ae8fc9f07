"""An output for any endpoint, synthesised from its output JSON Schema and the request.

``synthesise`` walks a self-contained JSON Schema (``$ref`` into ``#/definitions`` or ``#/$defs``,
``allOf`` merged, ``anyOf``/``oneOf`` and ``type`` lists taking their first non-null choice) and
builds a value that validates against it. Every file it names is real: the walk plans the files,
then each is made and handed to ``publish`` (which stores it and gives its URL), and the URLs and
sizes go into the output. Text and numbers are drawn from a hash of the request and its id, so the
same request with the same id gives the same output; each value's hash also covers its place in
the output, so no value depends on the order of the walk.

Files are recognised by shape, by the rules of ``KIND_RULES`` (data, first match wins): an object
with a ``url`` property is a file, and so is a string field named ``*_url`` or ``video``/``audio``/
``image``... Its kind comes from its ``content_type`` values, its ``file_name`` extension, its
properties (``sample_rate``: audio; ``fps``: video; ``width``: a still), its type's name
(``VideoFile``), then the words of its field's name read from the end (``end_frame_url``: a
frame, an image). Then:

- image: a PNG/JPEG/WebP/GIF drawn by ``media.stills`` (size from ``image_size``/``aspect_ratio``,
  format from ``output_format``; see there), ``num_images`` of them in an array;
- video: ``render_video(width, height, seconds, fps, label)``, the caller's renderer, at the size
  and length ``media.clips`` reads from the request;
- audio: a tone by ``media.audio`` (length from ``duration`` or the text, format from
  ``output_format``);
- 3d: a cube by ``media.files``: GLB, or OBJ/PLY/STL when the schema's content type or file
  name or the field's words ask (``model_obj``, ``gaussian_splat``); FBX and USDZ get a GLB;
- other files by their field's words (``lora``: safetensors; ``zip``/``archive``: zip;
  ``json``/``config``: JSON; else text).

Fields of a file object are filled from what was made (``url``, ``file_size`` = the bytes' length,
``file_name``, ``content_type``, ``width``/``height``, ``duration``, ``fps``, ``num_frames``,
``sample_rate``, ``bitrate``...), when the schema's type allows the value; the rest by the walk.
A video's optional ``audio`` track description is left out: the rendered MP4 has no sound.

Other fields: ``seed`` echoes the request's integer seed (else one drawn from the hash);
``prompt`` echoes the request's prompt; ``timings`` is ``{"inference": seconds}``;
``has_nsfw_concepts``/``nsfw_content_detected`` are ``false`` once per image made beside them;
``width``/``height``/``duration``/``fps``/``num_frames`` outside a file repeat the first file's;
a ``timestamp`` array (a transcript chunk's) is ``[0.0, end]``.
Anything else takes the schema's ``default``, first ``examples`` entry or first ``enum`` value,
else a minimal value of its type: a sentence for text fields (``output``, ``text``...), a short
token for other strings, a number within the schema's bounds (whole when the name says it counts:
``INTEGER_WORDS``, as fal's TypeScript types call every integer a ``number``), ``false``, an array
of one item (of none past ``MAX_DEPTH``). Optional properties are filled too, as fal's apps
serialise every field of their output models, except those of ``SKIPPED_OPTIONAL`` (``file_data``,
which fal's toolkit excludes; error fields, which a success leaves empty) and past ``MAX_DEPTH``.

A request value the rules cannot read falls back (the media modules document how) and adds a line
to ``notes`` when the caller passes a list; a request never makes this raise. (A schema with a
video and no ``render_video`` is the caller's error: ``ValueError``.)
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from mockserver.media import audio, clips, files, stills

Publish = Callable[[bytes, str, str], "str | Awaitable[str]"]
"""Stores ``(data, file_name, content_type)`` and returns the file's URL."""
RenderVideo = Callable[[int, int, float, int, str], "bytes | Awaitable[bytes]"]
"""Renders an MP4 of ``(width, height, seconds, fps, label)`` and returns its bytes."""

MAX_DEPTH = 6
"""Past this nesting only required properties are filled and arrays take their minimum."""
HARD_DEPTH = 4 * MAX_DEPTH
MAX_REF_HOPS = 64
MAX_MEDIA_COUNT = 16
"""The most files one array holds (``num_images`` above it is cut, with a note)."""
SEED_RANGE = 2**31
SKIPPED_OPTIONAL = frozenset(
    {"file_data", "error", "errors", "error_message", "error_code", "failure_reason"}
)
"""Optional fields left out: bytes fal's toolkit never serialises; errors (a success has none)."""
INTEGER_WORDS = frozenset(
    ["count", "num", "number", "tokens", "channels", "level", "steps", "index", "seed"]
    + ["width", "height", "frames", "id", "size", "bitrate", "bytes", "pages", "sample"]
)
"""A ``number`` field with one of these words holds a whole number (fal's types, written in
TypeScript, call every integer a ``number``)."""
_OMIT = object()  # a file's fact meaning "leave this optional field out"

# (probe, needle, kind): the first rule whose probe finds its needle names a file's kind.
KIND_RULES: tuple[tuple[str, str, str], ...] = (
    ("content_type", "image/", "image"),
    ("content_type", "video/", "video"),
    ("content_type", "audio/", "audio"),
    ("content_type", "model/", "3d"),
    *(("extension", ext, "image") for ext in (".png", ".jpg", ".jpeg", ".webp", ".gif")),
    *(("extension", ext, "video") for ext in (".mp4", ".webm", ".mov")),
    *(("extension", ext, "audio") for ext in (".wav", ".mp3", ".flac", ".ogg", ".m4a")),
    *(("extension", ext, "3d") for ext in (".glb", ".gltf", ".obj")),
    ("property", "sample_rate", "audio"),
    ("property", "fps", "video"),
    ("property", "num_frames", "video"),
    ("property", "frame_count", "video"),
    ("property", "width", "image"),
    ("type_name", "video", "video"),
    ("type_name", "audio", "audio"),
    ("type_name", "image", "image"),
    ("field", "", ""),  # the field's words, read from the end, in FIELD_WORDS
)
FIELD_WORDS: Mapping[str, str] = {
    **dict.fromkeys(["video", "videos", "clip", "clips", "movie"], "video"),
    **dict.fromkeys(["audio", "audios", "speech", "voice", "music", "song", "sound"], "audio"),
    **dict.fromkeys(["vocals", "instrumental", "tts", "stem", "stems"], "audio"),
    **dict.fromkeys(["bass", "drums", "guitar", "piano"], "audio"),  # a separator's stems
    **dict.fromkeys(["image", "images", "mask", "masks", "thumbnail", "frame", "depth"], "image"),
    **dict.fromkeys(["preview", "picture", "photo", "sketch", "texture", "textures"], "image"),
    **dict.fromkeys(["depths", "visualization", "albedo", "normal", "roughness"], "image"),
    **dict.fromkeys(["color", "metallic"], "image"),  # PBR texture maps
    **dict.fromkeys(["mesh", "meshes", "glb", "glbs", "gltf", "obj", "model", "3d"], "3d"),
    **dict.fromkeys(["splat", "splats", "ply", "stl", "fbx", "usdz"], "3d"),
}
URL_FIELD_NAMES = frozenset(
    ["video", "videos", "audio", "audios", "image", "images", "mask", "masks", "thumbnail"]
    + ["mesh", "glb", "model_mesh", "model_glb"]
)
"""String fields named exactly so hold a file's URL (as do ``*_url`` and ``*_urls``); names
that may hold a name (``voice``, ``model``) are not among them."""
MESH_WORDS: Mapping[str, str] = {
    **dict.fromkeys(["obj"], "obj"),
    **dict.fromkeys(["ply", "splat", "splats"], "ply"),
    **dict.fromkeys(["stl"], "stl"),
}
"""The mesh format a 3D field's words ask for; GLB otherwise."""
FILE_WORDS: Mapping[str, str] = {
    **dict.fromkeys(["lora", "safetensors", "weights", "checkpoint"], "safetensors"),
    **dict.fromkeys(["zip", "archive", "dataset", "bundle"], "zip"),
    **dict.fromkeys(["json", "config", "metadata", "manifest", "lottie"], "json"),
}
TEXT_FIELDS = frozenset(
    ["output", "outputs", "text", "caption", "description", "transcription", "transcript"]
    + ["generated_text", "answer", "response", "content", "message", "summary", "reasoning"]
    + ["result", "revised_prompt", "enhanced_prompt", "expanded_prompt", "lyrics"]
)
PARALLEL_FLAGS = frozenset({"has_nsfw_concepts", "nsfw_content_detected"})
"""Arrays with one boolean per image made beside them."""
SHARED_FACTS = frozenset({"width", "height", "duration", "fps", "num_frames"})
"""Fields outside a file that repeat the first file's value."""
PROMPT_FIELDS: tuple[str, ...] = ("prompt", "text", "gen_text", "input")
_WORD_SPLIT = re.compile(r"[_\-\s.]+")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_NONE = object()  # "no value from this rule"


@dataclass(eq=False)
class _Job:
    """One file to make: its kind, names, and how to make its bytes."""

    kind: str
    file_name: str
    content_type: str
    make: Callable[[], bytes] | None = None
    video: tuple[int, int, float, int, str] | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class _Later:
    """A value known once the job's file exists: its URL, size or bitrate."""

    job: _Job
    what: str  # "url" | "file_size" | "bitrate"

    @property
    def json_type(self) -> str:
        return "string" if self.what == "url" else "integer"


@dataclass(frozen=True)
class _At:
    """Where the walk is: the path (for hashes), the field's name, the depth, the array slot."""

    path: tuple[str, ...] = ()
    name: str = ""
    depth: int = 0
    index: int = 0
    count: int = 1

    def child(self, name: str) -> _At:
        return _At((*self.path, name), name, self.depth + 1)

    def item(self, i: int, count: int) -> _At:
        return _At((*self.path, str(i)), self.name, self.depth + 1, i, count)


def _words(name: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(name.lower()) if w]


def _json_type(schema: Mapping[str, Any]) -> str | None:
    """The schema's JSON type (the first non-null of a list), inferred when not written."""
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "null" if declared else None)
    if isinstance(declared, str):
        return declared
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return None


def _type_of_value(value: Any) -> str:
    if isinstance(value, _Later):
        return value.json_type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` has a type (and enum member) ``schema`` allows: a cheap, partial check."""
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    declared = schema.get("type")
    if declared is None:
        return True
    allowed = set(declared) if isinstance(declared, list) else {declared}
    kind = _type_of_value(value)
    if kind == "integer" and "number" in allowed:
        return True
    return kind in allowed or (kind == "number" and "integer" in allowed and value == int(value))


def _is_null_only(schema: Mapping[str, Any]) -> bool:
    return (
        schema.get("type") == "null"
        or ("const" in schema and schema["const"] is None)
        or schema.get("enum") == [None]
    )


class _Walk:
    """One synthesis: the schema, the request, the plans read from it, and the files to make."""

    def __init__(
        self, schema: Mapping[str, Any], request: Mapping[str, Any], request_id: str, title: str
    ) -> None:
        self.root = schema
        self.request = request
        self.request_id = request_id
        self.title = title
        canonical = json.dumps(request, sort_keys=True, default=str, ensure_ascii=False)
        self.key = hashlib.sha256(f"{canonical}\0{request_id}".encode()).digest()
        self.jobs: list[_Job] = []
        self.notes: list[str] = []
        self.facts: dict[str, Any] = {}  # the first file's geometry, for SHARED_FACTS
        self.scopes: list[Mapping[str, Any]] = []  # the facts of the files being filled
        self.images_beside = 0  # images of the last image array: the parallel flags' length

    # -- hashes -----------------------------------------------------------------------------

    def digest(self, path: Iterable[str], salt: str = "") -> bytes:
        return hashlib.sha256(self.key + "/".join((*path, salt)).encode("utf-8")).digest()

    def fraction(self, path: Iterable[str]) -> float:
        return int.from_bytes(self.digest(path)[:8], "big") / 2**64

    def token(self, path: Iterable[str], length: int = 12) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
        number = int.from_bytes(self.digest(path, "token"), "big")
        chars = []
        for _ in range(length):
            number, rest = divmod(number, len(alphabet))
            chars.append(alphabet[rest])
        return "".join(chars)

    def note(self, lines: Iterable[str]) -> None:
        self.notes.extend(line for line in lines if line not in self.notes)

    # -- what the request says ---------------------------------------------------------------

    @cached_property
    def prompt(self) -> str:
        for name in PROMPT_FIELDS:
            if isinstance(self.request.get(name), str):
                return " ".join(self.request[name].split())
        return ""

    @cached_property
    def seed(self) -> int:
        given = self.request.get("seed")
        is_number = isinstance(given, int | float) and not isinstance(given, bool)
        if is_number and math.isfinite(given) and given == int(given):
            return int(given)
        return int.from_bytes(self.digest(("seed",))[:8], "big") % SEED_RANGE

    @cached_property
    def image_size(self) -> stills.Sized:
        sized = stills.image_size_of(self.request)
        self.note(sized.notes)
        return sized

    @cached_property
    def clip(self) -> clips.ClipPlan:
        plan = clips.clip_plan(self.request)
        self.note(plan.notes)
        return plan

    def count_for(self, kind: str, name: str) -> int:
        """How many files an array of ``kind`` named ``name`` holds: ``num_<name>``, else
        ``num_images`` for images, else 1."""
        fields = [f"num_{name}"] + (["num_images"] if kind == "image" else [])
        for field_name in dict.fromkeys(fields):
            value = self.request.get(field_name)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                if value > MAX_MEDIA_COUNT:
                    self.note([f"{field_name} {value} is over {MAX_MEDIA_COUNT}; cut"])
                return min(value, MAX_MEDIA_COUNT)
            self.note([f"{field_name} {value!r} is not a count the emulator reads; 1"])
        return 1

    # -- schema reading -----------------------------------------------------------------------

    def pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {}  # remote references: nothing to read offline; any value passes
        node: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node if isinstance(node, Mapping) else {}

    def resolve(self, schema: Any) -> tuple[Mapping[str, Any], str]:
        """``schema`` with its ``$ref``s followed, ``allOf`` merged and one ``anyOf``/``oneOf``
        choice taken; and the last referenced definition's name (``Image``, ``VideoFile``)."""
        if not isinstance(schema, Mapping):
            return {}, ""  # `true` and the like: anything passes
        name = ""
        for _ in range(MAX_REF_HOPS):
            if "$ref" in schema:
                ref = schema["$ref"]
                name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else name
                target = self.pointer(ref) if isinstance(ref, str) else {}
                schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            elif "allOf" in schema:
                parts = [self.resolve(part) for part in schema["allOf"]]
                name = next((n for _, n in reversed(parts) if n), name)
                schema = _merge(
                    [{k: v for k, v in schema.items() if k != "allOf"}, *(p for p, _ in parts)]
                )
            elif "anyOf" in schema or "oneOf" in schema:
                choices = schema.get("anyOf") or schema.get("oneOf") or []
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                chosen = next((c for c in choices if not _is_null_only(self.resolve(c)[0])), None)
                if chosen is None:
                    return {**rest, "type": "null"}, name
                schema = _merge([rest, chosen if isinstance(chosen, Mapping) else {}])
            else:
                return schema, name
        return {}, name

    # -- the walk -----------------------------------------------------------------------------

    def value(self, schema: Any, at: _At) -> Any:
        if at.depth > HARD_DEPTH:  # only a schema that requires itself gets here
            return None
        resolved, type_name = self.resolve(schema)
        if "const" in resolved:
            return resolved["const"]
        kind = self.file_kind(resolved, type_name, at)
        if kind is not None:
            return self.file(resolved, kind, at)
        json_type = _json_type(resolved)
        for rule in (self.named, self.given):
            found = rule(resolved, json_type, at)
            if found is not _NONE:
                return found
        return MAKERS.get(json_type, _untyped)(self, resolved, at)

    def is_file_field(self, schema: Any, at: _At) -> bool:
        """Whether a property holds files (itself or as an array): those are made first."""
        resolved, type_name = self.resolve(schema)
        if self.file_kind(resolved, type_name, at) is not None:
            return True
        if _json_type(resolved) == "array" and isinstance(resolved.get("items"), Mapping):
            item, item_type = self.resolve(resolved["items"])
            return self.file_kind(item, item_type, at) is not None
        return False

    def file_kind(self, schema: Mapping[str, Any], type_name: str, at: _At) -> str | None:
        json_type = _json_type(schema)
        properties = schema.get("properties")
        if json_type == "object" and isinstance(properties, Mapping) and "url" in properties:
            return self.kind_by_rules(schema, type_name, at.name)
        words = _words(at.name)
        is_url_name = bool(words) and (
            words[-1] in ("url", "urls") or at.name.lower() in URL_FIELD_NAMES
        )
        if json_type == "string" and is_url_name and "enum" not in schema:
            return self.kind_by_rules({}, "", at.name)
        return None

    def kind_by_rules(self, schema: Mapping[str, Any], type_name: str, name: str) -> str:
        probes: dict[str, Callable[[str], bool]] = {
            "content_type": lambda n: any(c.startswith(n) for c in _hinted(schema, "content_type")),
            "extension": lambda n: any(f.lower().endswith(n) for f in _hinted(schema, "file_name")),
            "property": lambda n: n in schema.get("properties", {}),
            "type_name": lambda n: n in (w.lower() for w in _CAMEL.findall(type_name)),
        }
        for probe, needle, kind in KIND_RULES:
            if probe == "field":
                found = next(
                    (FIELD_WORDS[w] for w in reversed(_words(name)) if w in FIELD_WORDS), ""
                )
                if found:
                    return found
            elif probes[probe](needle):
                return kind
        return "file"

    def named(self, schema: Mapping[str, Any], json_type: str | None, at: _At) -> Any:
        """The fields with a meaning of their own: seed, prompt, timings, flags, shared facts."""
        name = at.name
        candidates: list[Any] = []
        if name == "seed":
            candidates.append(self.seed)
        elif name == "prompt" and self.prompt:
            candidates.append(self.prompt)
        elif name == "timings" and not schema.get("properties"):
            candidates.append({"inference": round(0.5 + 4.5 * self.fraction(at.path), 4)})
        elif name in PARALLEL_FLAGS and json_type == "array":
            candidates.append([False] * (self.images_beside or 1))
        elif name == "timestamp" and json_type == "array":  # a chunk's [start, end]
            end = self.facts.get("duration") or round(1 + 4 * self.fraction(at.path), 2)
            candidates.append([0.0, end])
        if self.scopes:  # inside a file: its facts, for nested objects (resolution, format)
            scope: Mapping[str, Any] = self.scopes[-1]
        else:
            scope = self.facts if name in SHARED_FACTS else {}
        if name in scope:
            candidates.append(scope[name])
        for candidate in candidates:
            if _fits(candidate, schema) and (
                json_type != "array" or _array_fits(candidate, schema)
            ):
                return candidate
        return _NONE

    def given(self, schema: Mapping[str, Any], json_type: str | None, at: _At) -> Any:
        """The schema's own suggestion: its default, first example or first enum value."""
        if "default" in schema and _fits(schema["default"], schema):
            return schema["default"]
        examples = schema.get("examples")
        if isinstance(examples, list) and examples and _fits(examples[0], schema):
            return examples[0]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return next((v for v in enum if v is not None), enum[0])
        return _NONE

    # -- makers by type -----------------------------------------------------------------------

    def object(
        self, schema: Mapping[str, Any], at: _At, facts: Mapping[str, Any] | None = None
    ) -> dict:
        facts = facts or {}
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        names = [
            n
            for n in properties
            if n in required or (at.depth < MAX_DEPTH and n not in SKIPPED_OPTIONAL)
        ]
        names += [r for r in required if r not in properties]

        def order(n: str) -> int:
            if n in PARALLEL_FLAGS:
                return 2
            return 0 if n in properties and self.is_file_field(properties[n], at.child(n)) else 1

        values: dict[str, Any] = {}
        for n in sorted(names, key=order):
            prop = properties.get(n, {})
            fact = facts.get(n, _NONE)
            if fact is _OMIT and n not in required:
                continue
            if fact is not _NONE and fact is not _OMIT and _fits(fact, self.resolve(prop)[0]):
                values[n] = fact
            else:
                values[n] = self.value(prop, at.child(n))
        return {n: values[n] for n in names if n in values}

    def array(self, schema: Mapping[str, Any], at: _At) -> list:
        items = schema.get("prefixItems", schema.get("items"))
        low = schema.get("minItems", 0) if isinstance(schema.get("minItems"), int) else 0
        high = schema.get("maxItems") if isinstance(schema.get("maxItems"), int) else None
        if isinstance(items, list):  # a tuple: one value per place
            return [self.value(item, at.item(i, len(items))) for i, item in enumerate(items)]
        item_schema, type_name = self.resolve(items if isinstance(items, Mapping) else {})
        kind = self.file_kind(item_schema, type_name, at)
        if kind is not None:
            count = self.count_for(kind, at.name)
        else:
            count = 1 if at.depth < MAX_DEPTH else 0
        count = max(low, count if high is None else min(high, count))
        values = [self.value(items or {}, at.item(i, count)) for i in range(count)]
        if kind == "image":
            self.images_beside = count
        return values

    def string(self, schema: Mapping[str, Any], at: _At) -> str:
        token = self.token(at.path, 8)
        formats = {
            "date-time": "2025-01-01T00:00:00Z",
            "date": "2025-01-01",
            "time": "00:00:00",
            "email": f"{token.lower()}@example.com",
            "uri": f"https://example.com/{token}",
            "uuid": _uuid(self.digest(at.path, "uuid")),
        }
        if schema.get("format") in formats:
            text = formats[schema["format"]]
        elif at.name in TEXT_FIELDS:
            label = at.name.replace("_", " ")
            about = f" for “{self.prompt}”" if self.prompt else ""
            text = f"Synthetic {label} from ray2-mock{about} ({token})."
        else:
            text = f"{at.name or 'value'}-{token}"
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text

    def number(self, schema: Mapping[str, Any], at: _At, integer: bool = False) -> float | int:
        low, high = _bounds(schema, integer)
        fraction = self.fraction(at.path)
        if integer:
            return low + math.floor(fraction * (high - low + 1))
        value = round(low + (high - low) * fraction, 4)
        return min(max(value, low), high)

    # -- files --------------------------------------------------------------------------------

    def file(self, schema: Mapping[str, Any], kind: str, at: _At) -> Any:
        job, facts = FILE_MAKERS[kind](self, schema, at)
        self.jobs.append(job)
        facts = {
            "url": _Later(job, "url"),
            "file_size": _Later(job, "file_size"),
            "file_name": job.file_name,
            "content_type": job.content_type,
            **({"media_type": kind} if kind in ("image", "video", "audio") else {}),
            **facts,
        }
        for name in SHARED_FACTS:
            if name in facts:
                self.facts.setdefault(name, facts[name])
        if _json_type(schema) != "object":
            return facts["url"]
        self.scopes.append(facts)
        try:
            return self.object(schema, at, facts)
        finally:
            self.scopes.pop()

    def file_name(self, at: _At, extension: str) -> str:
        return f"{self.token(at.path)}{extension}"

    def image_file(self, schema: Mapping[str, Any], at: _At) -> tuple[_Job, dict[str, Any]]:
        scope = self.scopes[-1] if self.scopes else {}
        if isinstance(scope.get("width"), int) and isinstance(scope.get("height"), int):
            width, height = scope["width"], scope["height"]  # a frame of the file around it
        else:
            width, height = self.image_size.width, self.image_size.height
        requested = self.request.get("output_format")
        chosen, format_notes = stills.still_format_of(requested)
        self.note(format_notes)
        pinned = _pinned_format(
            schema, stills.FORMAT_BY_CONTENT_TYPE, stills.STILL_FORMATS[chosen].content_type
        )
        if pinned and (requested is None or pinned[1]):
            chosen = pinned[0]
        fmt = stills.STILL_FORMATS[chosen]
        lines = [
            f"ray2-mock · {self.title}" if self.title else "ray2-mock",
            f"“{self.prompt}”" if self.prompt else "(no prompt)",
            f"{width}x{height} · {fmt.pil_format} · image {at.index + 1} of {at.count}",
            f"seed {self.seed} · request {self.request_id}",
        ]
        look = f"{self.prompt}\0{self.seed}\0{'/'.join(at.path)}"
        job = _Job(
            "image",
            self.file_name(at, fmt.extension),
            fmt.content_type,
            make=lambda: stills.still_bytes(width, height, chosen, look, lines),
        )
        return job, {"width": width, "height": height}

    def video_file(self, schema: Mapping[str, Any], at: _At) -> tuple[_Job, dict[str, Any]]:
        plan = self.clip
        label = " · ".join(part for part in (self.title, self.prompt) if part) or "ray2-mock"
        job = _Job(
            "video",
            self.file_name(at, ".mp4"),
            "video/mp4",
            video=(plan.width, plan.height, plan.seconds, plan.fps, label),
            seconds=plan.seconds,
        )
        divisor = math.gcd(plan.width, plan.height)
        return job, {
            "width": plan.width,
            "height": plan.height,
            "fps": plan.fps,
            "duration": plan.seconds,
            "num_frames": plan.frame_count,
            "frame_count": plan.frame_count,
            "aspect_ratio": f"{plan.width // divisor}:{plan.height // divisor}",
            "codec": "h264",
            "video_codec": "h264",
            "container": "mp4",
            "pixel_format": "yuv420p",
            "bitrate": _Later(job, "bitrate"),
            "audio": _OMIT,  # the rendered MP4 has no audio track
        }

    def audio_file(self, schema: Mapping[str, Any], at: _At) -> tuple[_Job, dict[str, Any]]:
        plan = audio.audio_plan(self.request)
        self.note(plan.notes)
        pinned = _pinned_format(
            schema, audio.FORMAT_BY_CONTENT_TYPE, audio.AUDIO_FORMATS[plan.format].content_type
        )
        named = any(self.request.get(f) is not None for f in audio.FORMAT_FIELDS)
        if pinned and (not named or pinned[1]):
            plan = replace(plan, format=pinned[0])
        fmt = audio.AUDIO_FORMATS[plan.format]
        seed_text = f"{self.prompt}\0{'/'.join(at.path)}"
        job = _Job(
            "audio",
            self.file_name(at, fmt.extension),
            fmt.content_type,
            make=lambda: audio.audio_bytes(plan, seed_text),
            seconds=plan.seconds,
        )
        return job, {
            "duration": plan.seconds,
            "sample_rate": plan.sample_rate,
            "channels": audio.CHANNELS,
            "codec": fmt.codec,
            "container": fmt.container,
            "bitrate": _Later(job, "bitrate"),
        }

    def other_file(self, schema: Mapping[str, Any], at: _At, kind: str) -> tuple[_Job, dict]:
        types = _hinted(schema, "content_type")
        hinted = next(
            (files.KIND_BY_CONTENT_TYPE[t] for t in types if t in files.KIND_BY_CONTENT_TYPE), None
        )
        if hinted is None:
            extensions = (f.lower().rsplit(".", 1)[-1] for f in _hinted(schema, "file_name"))
            hinted = next((files.KIND_BY_EXTENSION.get(f".{e}") for e in extensions), None)
        words = list(reversed(_words(at.name)))
        if kind == "3d":
            by_word = next((MESH_WORDS[w] for w in words if w in MESH_WORDS), "glb")
            chosen = hinted if hinted in files.MESH_KINDS else by_word
        else:
            chosen = hinted or next((FILE_WORDS[w] for w in words if w in FILE_WORDS), "txt")
        file_kind = files.FILE_KINDS[chosen]
        caption = " · ".join(p for p in (self.title, self.prompt, at.name) if p)
        seed_text = f"{self.prompt}\0{'/'.join(at.path)}"
        job = _Job(
            kind,
            self.file_name(at, file_kind.extension),
            file_kind.content_type,
            make=lambda: files.file_bytes(chosen, seed_text, caption),
        )
        return job, {}


def _untyped(walk: _Walk, schema: Mapping[str, Any], at: _At) -> Any:
    return None


MAKERS: Mapping[str | None, Callable[[_Walk, Mapping[str, Any], _At], Any]] = {
    "object": lambda w, s, at: w.object(s, at),
    "array": lambda w, s, at: w.array(s, at),
    "string": lambda w, s, at: w.string(s, at),
    "integer": lambda w, s, at: w.number(s, at, integer=True),
    "number": lambda w, s, at: w.number(s, at, integer=bool(INTEGER_WORDS & set(_words(at.name)))),
    "boolean": lambda w, s, at: False,
    "null": _untyped,
}
FILE_MAKERS: Mapping[str, Callable[[_Walk, Mapping[str, Any], _At], tuple[_Job, dict]]] = {
    "image": lambda w, s, at: w.image_file(s, at),
    "video": lambda w, s, at: w.video_file(s, at),
    "audio": lambda w, s, at: w.audio_file(s, at),
    "3d": lambda w, s, at: w.other_file(s, at, "3d"),
    "file": lambda w, s, at: w.other_file(s, at, "file"),
}


def _merge(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Schemas that must all hold, as one: properties joined (a shared one as ``allOf``),
    ``required`` united, any other key from the first part that has it."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                props = dict(merged.get("properties", {}))
                for name, prop in value.items():
                    props[name] = {"allOf": [props[name], prop]} if name in props else prop
                merged["properties"] = props
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _hinted(schema: Mapping[str, Any], name: str) -> list[str]:
    """The values a file schema declares for one of its properties (const, enum, default):
    how a schema says which content type or file name its file has. Not ``examples``: fal's
    documents give every file class ``File``'s ``image/png`` and ``z9RV14K95DvU.png`` as
    examples, a ``VideoFile`` included (docs/evidence.md, the happy-horse document)."""
    prop = schema.get("properties", {}).get(name)
    if not isinstance(prop, Mapping):
        return []
    values = [prop.get("const"), prop.get("default"), *prop.get("enum", [])]
    return [v for v in values if isinstance(v, str)]


def _pinned_format(
    schema: Mapping[str, Any], by_content_type: Mapping[str, str], wanted: str
) -> tuple[str, bool] | None:
    """The format to write instead of the one whose content type is ``wanted``, when the file
    schema says otherwise: (format, True) when its ``const``/``enum`` excludes ``wanted``
    (that wins over the request), (format, False) for a ``default`` (the request wins)."""
    prop = schema.get("properties", {}).get("content_type")
    if not isinstance(prop, Mapping):
        return None
    allowed = [v for v in [prop.get("const"), *prop.get("enum", [])] if isinstance(v, str)]
    if allowed:
        if wanted in allowed:
            return None
        found = next((by_content_type[v] for v in allowed if v in by_content_type), None)
        return (found, True) if found else None
    default = prop.get("default")
    if default in by_content_type and default != wanted:
        return by_content_type[default], False
    return None


def _array_fits(value: list, schema: Mapping[str, Any]) -> bool:
    low, high = schema.get("minItems"), schema.get("maxItems")
    return not (isinstance(low, int) and len(value) < low) and not (
        isinstance(high, int) and len(value) > high
    )


def _bounds(schema: Mapping[str, Any], integer: bool) -> tuple[Any, Any]:
    """The closed range a number may take: the schema's bounds, else [0, 100] or [0, 1)."""

    def num(key: str) -> float | None:
        value = schema.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    low, high = num("minimum"), num("maximum")
    ex_low, ex_high = num("exclusiveMinimum"), num("exclusiveMaximum")
    if integer:
        lo = math.ceil(low) if low is not None else None
        if ex_low is not None:
            lo = max(lo if lo is not None else -math.inf, math.floor(ex_low) + 1)
        hi = math.floor(high) if high is not None else None
        if ex_high is not None:
            hi = min(hi if hi is not None else math.inf, math.ceil(ex_high) - 1)
        lo = int(lo) if lo is not None else (0 if hi is None or hi >= 0 else int(hi) - 100)
        hi = int(hi) if hi is not None else lo + 100
        return lo, max(lo, hi)
    span = 1.0
    lo_f = low if low is not None else (ex_low + 1e-3 if ex_low is not None else None)
    hi_f = high if high is not None else (ex_high - 1e-3 if ex_high is not None else None)
    if lo_f is None:
        lo_f = 0.0 if hi_f is None or hi_f >= span else hi_f - span
    if hi_f is None:
        hi_f = lo_f + span
    return lo_f, max(lo_f, hi_f)


def _uuid(digest: bytes) -> str:
    h = bytearray(digest[:16])
    h[6] = (h[6] & 0x0F) | 0x40  # version 4 layout, deterministic content
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _make(job: _Job, render_video: RenderVideo | None) -> bytes:
    if job.video is not None:
        if render_video is None:
            raise ValueError("the output schema has a video: synthesise needs render_video")
        data = await _settle(await asyncio.to_thread(render_video, *job.video))
    else:
        assert job.make is not None
        data = await asyncio.to_thread(job.make)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"the {job.kind} maker returned {type(data).__name__}, not bytes")
    return bytes(data)


def _fill(value: Any, made: Mapping[_Job, tuple[str, int]]) -> Any:
    """The walk's output with every ``_Later`` replaced by what the made file says."""
    if isinstance(value, _Later):
        url, size = made[value.job]
        if value.what == "url":
            return url
        if value.what == "file_size":
            return size
        seconds = value.job.seconds or 0
        return round(size * 8 / seconds) if seconds > 0 else 0
    if isinstance(value, dict):
        return {k: _fill(v, made) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, made) for v in value]
    return value


async def synthesise(
    output_schema: Mapping[str, Any],
    request_input: Mapping[str, Any] | None,
    *,
    request_id: str,
    publish: Publish,
    render_video: RenderVideo | None = None,
    title: str = "",
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """An output that validates against ``output_schema``, its files made and published.

    ``title`` (the endpoint id, say) is drawn on images and passed in the video's label;
    ``notes`` receives a line for each request value the rules could not read. Stills, audio and
    other files are made in a worker thread, one after another, in the order the walk met them;
    ``publish`` and ``render_video`` may be plain or async callables."""
    request = request_input if isinstance(request_input, Mapping) else {}
    walk = _Walk(output_schema, request, request_id, title)
    tree = walk.value(output_schema, _At())
    made: dict[_Job, tuple[str, int]] = {}
    for job in walk.jobs:
        data = await _make(job, render_video)
        url = await _settle(publish(data, job.file_name, job.content_type))
        made[job] = (str(url), len(data))
    if notes is not None:
        notes.extend(walk.notes)
    return _fill(tree, made)
