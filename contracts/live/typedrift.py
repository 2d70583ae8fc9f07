"""Spec drift caught offline: ``contracts/schemas`` against the endpoint types fal ships.

``@fal-ai/client`` carries fal's generated types for every endpoint in
``src/types/endpoints.d.ts``: one ``export type <Title> = { ... }`` per input and output
(JSDoc comments hold the descriptions and ``Default value: `...` ``), aliases such as
``export type Ray2FlashOutput = I2VOutput;`` and an ``EndpointTypeMap`` binding each endpoint
id to its input and output types. A schema's ``title`` is its type's name, so each schema can
be compared with what fal publishes: fields, required-ness, types, enum values, defaults and
descriptions. The generator leaves out falsy defaults (``false``, ``0``, ``""``), so a schema
default of that kind with no comment is not drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TYPES_FILE = Path("@fal-ai") / "client" / "src" / "types" / "endpoints.d.ts"
"""Where the types live inside a ``node_modules`` folder."""

_BLOCK = re.compile(r"^export type (\w+) = \{\n(.*?)^\};", re.M | re.S)
_ALIAS = re.compile(r"^export type (\w+) = (\w+);", re.M)
_MEMBER = re.compile(
    r"(?:/\*\*(?P<doc>.*?)\*/\s*)?(?P<name>\w+)(?P<optional>\?)?: (?P<type>[^;]+);", re.S
)
_MAP_ENTRY = re.compile(
    r'"(?P<id>[^"]+)": \{\s*input: (?P<input>\w+);\s*output: (?P<output>\w+);\s*\}'
)
_DEFAULT = re.compile(r"\s*Default value: `(?P<value>.*)`\s*$", re.S)
FILE_INPUT = {"string", "Blob", "File"}
"""Inputs typed ``string | Blob | File``: the client uploads a Blob; on the wire a string."""


@dataclass(frozen=True)
class Member:
    name: str
    required: bool
    type: str
    description: str
    default: Any = None
    has_default: bool = False


@dataclass
class ShippedTypes:
    """The parts of ``endpoints.d.ts`` a drift check reads."""

    types: dict[str, dict[str, Member]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, tuple[str, str]] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        while name in self.aliases:
            name = self.aliases[name]
        return name

    def members(self, name: str) -> dict[str, Member]:
        return self.types[self.resolve(name)]


def _doc_text(raw: str | None) -> str:
    lines = [line.strip().lstrip("*").strip() for line in (raw or "").splitlines()]
    return " ".join(line for line in lines if line)


def _literal(text: str) -> Any:
    """A default as written in the comment: JSON when it is JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_default(text: str) -> tuple[str, Any, bool]:
    """A description without its trailing ``Default value: `...` ``, the default it states
    (JSON when it is JSON, else the text itself) and whether it states one."""
    if found := _DEFAULT.search(text):
        return text[: found.start()].strip(), _literal(found["value"]), True
    return text, None, False


def _member(match: re.Match[str]) -> Member:
    text, default, has_default = split_default(_doc_text(match["doc"]))
    return Member(
        name=match["name"],
        required=match["optional"] is None,
        type=" ".join(match["type"].split()),
        description=text,
        default=default,
        has_default=has_default,
    )


def parse_types(source: str) -> ShippedTypes:
    shipped = ShippedTypes()
    for block in _BLOCK.finditer(source):
        shipped.types[block[1]] = {m["name"]: _member(m) for m in _MEMBER.finditer(block[2])}
    shipped.aliases = {alias: target for alias, target in _ALIAS.findall(source)}
    shipped.endpoints = {m["id"]: (m["input"], m["output"]) for m in _MAP_ENTRY.finditer(source)}
    return shipped


def load_types(node_modules: Path) -> ShippedTypes:
    return parse_types((node_modules / TYPES_FILE).read_text(encoding="utf-8"))


def _type_of(member: Member) -> dict[str, Any]:
    """The JSON Schema facts a TypeScript member type states (type and enum)."""
    options = [part.strip() for part in member.type.split("|")]
    if all(option.startswith('"') for option in options):
        return {"type": "string", "enum": [json.loads(option) for option in options]}
    if "string" in options and set(options) <= FILE_INPUT:
        return {"type": "string"}
    simple = {"string": "string", "boolean": "boolean", "number": "number"}
    if len(options) == 1 and options[0] in simple:
        return {"type": simple[options[0]]}
    return {"ref": options[0]}


def _falsy(value: Any) -> bool:
    return value in (False, 0, "") and value is not None


def compare(schema: Mapping[str, Any], shipped: ShippedTypes, type_name: str) -> list[str]:
    """Every difference between one schema and the shipped type of that name (empty: none)."""
    members = shipped.members(type_name)
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    problems = [f"{type_name}.{name}: not in the schema" for name in members.keys() - properties]
    problems += [f"{type_name}.{name}: not in fal's types" for name in properties.keys() - members]
    for name in sorted(members.keys() & properties.keys()):
        member, rule = members[name], properties[name]
        where = f"{type_name}.{name}"
        if member.required != (name in required):
            problems.append(f"{where}: required {member.required} in fal's types")
        if member.description != rule.get("description", ""):
            problems.append(
                f"{where}: description {member.description!r} in fal's types,"
                f" {rule.get('description', '')!r}"
            )
        stated = _type_of(member)
        if "ref" in stated:
            nested = shipped.resolve(stated["ref"])
            if rule.get("type") != "object":
                problems.append(f"{where}: fal's type is {nested}, the schema's {rule.get('type')}")
            elif nested in shipped.types:
                problems += compare(rule, shipped, nested)
            continue
        wanted_type = {"number": ("number", "integer")}.get(stated["type"], (stated["type"],))
        if rule.get("type") not in wanted_type:
            problems.append(f"{where}: type {stated['type']} in fal's types, {rule.get('type')}")
        if "enum" in stated and sorted(stated["enum"]) != sorted(rule.get("enum", [])):
            problems.append(f"{where}: enum {stated['enum']} in fal's types, {rule.get('enum')}")
        if member.has_default:
            if rule.get("default") != member.default:
                problems.append(
                    f"{where}: default {member.default!r} in fal's types, {rule.get('default')!r}"
                )
        elif "default" in rule and not _falsy(rule["default"]):
            problems.append(f"{where}: default {rule['default']!r}, none in fal's types")
    return problems
