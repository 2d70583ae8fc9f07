"""contracts/schemas against the endpoint types fal ships in the pinned @fal-ai/client.

Runs on every ``make test``: the JS client tests install the pinned package, so spec drift
(a field, enum value, default, required-ness or description fal changed) fails here offline,
before the live drift check ever runs.
"""

from __future__ import annotations

import copy
import gzip
import json
import shutil
from pathlib import Path

import pytest

from contracts import load_schema
from contracts.catalogue.generate import generate
from contracts.live.typedrift import ShippedTypes, compare, load_types, parse_types
from contracts.schemas.catalogue import CATALOGUE_FILE, load_catalogue
from contracts.schemas.endpoints import APP_ID, ENDPOINT_FACTS, INPUT_SCHEMAS

NODE_MODULES = Path(__file__).resolve().parents[1] / "js" / "node_modules"
UNTYPED = {"fal-ai/luma-dream-machine/ray-2/modify": "LumaDreamMachineRay2FlashModifyInput"}
"""Family members the pinned client has no types for, and the shipped type their schema is
judged by instead: fal-js PR #187 (generated from fal's live model list, 2026-02) gives
ray-2/modify the Flash modify body under the name LumaDreamMachineRay2ModifyInput."""


@pytest.fixture(scope="module")
def shipped() -> ShippedTypes:
    if not (NODE_MODULES / "@fal-ai" / "client").is_dir():
        pytest.skip(
            "[required tool] @fal-ai/client is not installed (make test installs it with npm)"
        )
    return load_types(NODE_MODULES)


def test_the_family_is_every_luma_ray_2_endpoint_fal_ships_types_for(
    shipped: ShippedTypes,
) -> None:
    shipped_ids = {e for e in shipped.endpoints if e.startswith(APP_ID + "/")}
    assert shipped_ids == set(INPUT_SCHEMAS) - set(UNTYPED)
    assert not set(UNTYPED) & set(shipped.endpoints), "now typed: compare it directly"


@pytest.mark.parametrize("endpoint", sorted(INPUT_SCHEMAS))
def test_input_schema_is_the_shipped_type(shipped: ShippedTypes, endpoint: str) -> None:
    """Flash's input types are aliases of Ray 2's: the resolved type is the schema's title."""
    schema = load_schema(INPUT_SCHEMAS[endpoint])
    input_type = UNTYPED.get(endpoint) or shipped.endpoints[endpoint][0]
    assert shipped.resolve(input_type) == schema["title"]
    assert compare(schema, shipped, schema["title"]) == []


@pytest.mark.parametrize("endpoint", sorted(set(INPUT_SCHEMAS) - set(UNTYPED)))
def test_output_schema_is_the_shipped_type(shipped: ShippedTypes, endpoint: str) -> None:
    schema = load_schema(ENDPOINT_FACTS[endpoint].output_schema)
    _, output_type = shipped.endpoints[endpoint]
    assert shipped.resolve(output_type) == schema["title"] == "I2VOutput"
    assert compare(schema, shipped, schema["title"]) == []  # video: File, field by field


def test_a_changed_schema_is_reported(shipped: ShippedTypes) -> None:
    schema = copy.deepcopy(load_schema(INPUT_SCHEMAS["fal-ai/luma-dream-machine/ray-2"]))
    schema["properties"]["aspect_ratio"]["enum"].append("1:1")
    schema["properties"]["resolution"]["default"] = "720p"
    schema["properties"]["duration"]["description"] = "How long"
    schema["properties"]["seed"] = {"type": "integer"}
    schema["required"] = []
    problems = compare(schema, shipped, schema["title"])
    assert any(p.startswith("LumaDreamMachineRay2Input.aspect_ratio: enum") for p in problems)
    assert any(p.startswith("LumaDreamMachineRay2Input.resolution: default") for p in problems)
    assert any(p.startswith("LumaDreamMachineRay2Input.duration: description") for p in problems)
    assert "LumaDreamMachineRay2Input.seed: not in fal's types" in problems
    assert "LumaDreamMachineRay2Input.prompt: required True in fal's types" in problems


SAMPLE = """export type ThingInput = {
    /**
     * How big. Default value: `"large"`
     */
    size?: "small" | "large";
    /**
     * Whether to shine
     */
    shiny?: boolean;
    /**
     *
     */
    photo: string | Blob | File;
};
export type ThingOutput = {
    /**
     * The file
     */
    file: File;
};
export type File = {
    /**
     * Where it is.
     */
    url: string;
};
export type OtherOutput = ThingOutput;
export type EndpointTypeMap = {
    "acme/thing": {
        input: ThingInput;
        output: OtherOutput;
    };
};
"""


def test_the_parser_reads_members_defaults_aliases_and_the_endpoint_map() -> None:
    shipped = parse_types(SAMPLE)
    assert shipped.endpoints == {"acme/thing": ("ThingInput", "OtherOutput")}
    assert shipped.resolve("OtherOutput") == "ThingOutput"
    size = shipped.members("ThingInput")["size"]
    assert (size.description, size.default, size.required) == ("How big.", "large", False)
    schema = {
        "properties": {
            "size": {"type": "string", "enum": ["small", "large"], "default": "large",
                     "description": "How big."},
            "shiny": {"type": "boolean", "default": False, "description": "Whether to shine"},
            "photo": {"type": "string"},
        },
        "required": ["photo"],
    }  # fmt: skip
    assert compare(schema, shipped, "ThingInput") == []  # a false default is left out there
    schema["properties"]["shiny"]["default"] = True
    assert compare(schema, shipped, "ThingInput") == [
        "ThingInput.shiny: default True, none in fal's types"
    ]
    output = {
        "properties": {
            "file": {
                "type": "object",
                "description": "The file",
                "properties": {"url": {"type": "string", "description": "Where"}},
                "required": ["url"],
            }
        },
        "required": ["file"],
    }
    assert compare(output, shipped, "OtherOutput") == [
        "File.url: description 'Where it is.' in fal's types, 'Where'"
    ]
    assert json.loads(json.dumps(shipped.members("File")["url"].description)) == "Where it is."


# The endpoint catalogue (contracts/schemas/catalogue.json.gz), generated from the same types.


def test_the_catalogue_is_what_the_pinned_client_gives(shipped: ShippedTypes) -> None:
    """Regenerating from the pinned client gives the committed file byte for byte, so the
    catalogue cannot drift from the client (python -m contracts.catalogue.generate)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("[required tool] node and npm make the catalogue")
    data = generate(NODE_MODULES)
    committed = CATALOGUE_FILE.read_bytes()
    if data != committed:
        same_json = gzip.decompress(data) == gzip.decompress(committed)
        pytest.fail(
            "same JSON, other gzip bytes: this zlib compresses differently"
            if same_json
            else "the catalogue is not what the pinned client gives: "
            "run python -m contracts.catalogue.generate and commit the file"
        )


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_catalogue_agrees_with_the_drift_parser_on_every_type(shipped: ShippedTypes) -> None:
    """Two readers of endpoints.d.ts, the TypeScript tool and typedrift's regular expressions,
    agree on every endpoint's pair and on every object type's fields: names, required-ness,
    string enums, defaults and descriptions, up to white space (typedrift folds the white space
    of a whole member, inside string literals too: ``"Trevor  in Plaid Shirt"``)."""
    catalogue = load_catalogue()
    assert {e: catalogue.endpoint(e) is not None for e in shipped.endpoints} == dict.fromkeys(
        shipped.endpoints, True
    )
    assert len(catalogue) == len(shipped.endpoints)
    for endpoint_id, (input_type, output_type) in shipped.endpoints.items():
        entry = catalogue.endpoint(endpoint_id)
        assert entry is not None
        assert (entry.input_type, entry.output_type) == (input_type, output_type)
        assert entry.input_schema["title"] == shipped.resolve(input_type)
    problems = []
    for name, rule in catalogue.definitions.items():
        if name in shipped.aliases:
            assert rule == {"$ref": f"#/definitions/{shipped.aliases[name]}"}, name
            continue
        members, fields = shipped.types[name], rule.get("properties", {})
        if set(members) != set(fields):
            problems.append(f"{name}: fields {sorted(members)} != {sorted(fields)}")
            continue
        required = {m for m, member in members.items() if member.required}
        if required != set(rule.get("required", [])):
            problems.append(f"{name}: required {sorted(required)}")
        for field, member in members.items():
            got = fields[field]
            options = [part.strip() for part in member.type.split("|")]
            if all(option.startswith('"') for option in options):
                enum = [_words(json.loads(option)) for option in options]
                if [_words(v) for v in got.get("enum", [got.get("const")])] != enum:
                    problems.append(f"{name}.{field}: enum {enum}, {got.get('enum')}")
            if member.has_default and got.get("default") != member.default:
                problems.append(f"{name}.{field}: default {member.default!r}")
            if not member.has_default and "default" in got:
                problems.append(f"{name}.{field}: default {got['default']!r} not in the types")
            if _words(member.description) != _words(got.get("description", "")):
                problems.append(f"{name}.{field}: description")
    assert problems == []
    assert len(shipped.types) + len(shipped.aliases) > len(catalogue.definitions) > 2000
