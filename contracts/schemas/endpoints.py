"""The emulated endpoints and what one generation costs, read from ``endpoints.json``.

The emulator, the contract suite and the strategies all take endpoint ids, schema names and
prices from here, so an endpoint is declared once, as data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar

from contracts.schemas import (
    CATALOGUE_SCHEMA,
    SPEC_SCHEMA,
    catalogue_schema_name,
    load_schema,
    owner_alias,
    schema_path,
)

MAX_INPUT_VIDEO_SECONDS = 10.0
"""The longest input video Luma's Ray 2 takes (Luma's docs for modify: ray-2, max 10 s, 100 MB);
a budget that cannot read the input video yet assumes this much."""
SECONDS_EPSILON = 1e-6
"""A 120-frame clip at 24 fps is 5.000000001 s in floating point: still 5 started seconds."""


@dataclass(frozen=True)
class Price:
    """fal's price of one endpoint: ``unit_usd`` per unit, times each input's multiplier.

    A per-second price (``per_second_of`` names the input video) bills each started second of
    that video: its units are only known once the video has been read."""

    unit_usd: float
    unit: str
    multipliers: Mapping[str, Mapping[str, float]]
    per_second_of: str | None = None
    evidence: str = ""
    """DOC, 3P or INF, as in docs/fidelity.md."""
    source: str = ""

    @property
    def per_second(self) -> bool:
        return self.per_second_of is not None

    def units(self, arguments: Mapping[str, Any], seconds: float | None = None) -> int:
        """Units of one generation from validated input (defaults filled); 0 if the input is
        not one the price knows (fal bills a rejected input nothing: x-fal-billable-units 0).

        ``seconds``: the duration of the input video of a per-second price; None (not read
        yet) counts as 0 units."""
        total = 1.0
        for name, table in self.multipliers.items():
            factor = table.get(arguments.get(name))  # type: ignore[arg-type]
            if factor is None:
                return 0
            total *= factor
        if self.per_second:
            if seconds is None:
                return 0
            total *= max(1, math.ceil(seconds - SECONDS_EPSILON))
        return round(total)


Fidelity = Literal["exact", "generic"]


@dataclass(frozen=True)
class EndpointFacts:
    """One row of ``endpoints.json``: everything the emulator and the suite need to know of an
    endpoint, so none of them branches on an endpoint id or a family."""

    endpoint_id: str
    input_schema: str
    output_schema: str
    kind: str
    """fal's category (``text-to-video``, ``video-to-video``, ...), as its OpenAPI says."""
    price: Price | None
    """None: fal's price is not known (the ledger says so instead of inventing one)."""
    fidelity: Fidelity = "exact"
    """exact: every behaviour rests on evidence (docs/fidelity.md); generic: answered by rule."""
    validation: str = "fastapi"
    """How its input is judged (``mockserver.fal.endpoints.VALIDATORS``)."""
    producer: str = "video"
    """What makes its output (the emulator's producers by name, ``mockserver.assembly``)."""
    timing: str = "video"
    """Its run-time class in every timing profile (``mockserver.timing``)."""
    short: str = ""
    """The contract suite's name for it (``invalid_inputs[<short>]``)."""
    label: str = ""
    """What frames and the dashboard call it."""
    render: str = "generate"
    """The video rule (``geometry.OUTPUT_RULES``): generate, reframe or modify."""
    start_log: str = "Starting generation"
    """The model's first log line, formatted with the input (defaults filled in)."""
    progress_log: str = ""
    """The model's progress lines, formatted with ``percent``."""
    finished_log: str = ""
    """The model's last line, once its output exists."""
    video_fields: tuple[str, ...] = field(default=())
    """Input fields that hold a video URL (the per-second price's, and the render rule's)."""
    image_fields: tuple[str, ...] = field(default=())
    """Input fields that hold an image URL (read as frames, previewed by the dashboard)."""

    @property
    def app_id(self) -> str:
        """``owner/alias``: fal addresses a request's status, result and cancel by it alone."""
        return owner_alias(self.endpoint_id)


@cache
def _table() -> dict[str, Any]:
    return json.loads(schema_path("endpoints.json").read_text(encoding="utf-8"))


def app_id() -> str:
    """fal addresses status/result/cancel by ``owner/alias`` only, shared by every endpoint."""
    return str(_table()["app_id"])


def _facts(row: Mapping[str, Any]) -> EndpointFacts:
    fields = list(load_schema(row["input"])["properties"])
    return EndpointFacts(
        endpoint_id=row["id"],
        input_schema=row["input"],
        output_schema=row["output"],
        kind=row["kind"],
        price=None if row["price"] is None else Price(**row["price"]),
        fidelity=row["fidelity"],
        validation=row["validation"],
        producer=row["producer"],
        timing=row["timing"],
        short=row["short"],
        label=row["label"],
        render=row["render"],
        start_log=row["start_log"],
        progress_log=row["progress_log"],
        finished_log=row["finished_log"],
        video_fields=tuple(name for name in fields if name.startswith("video_")),
        image_fields=tuple(name for name in fields if name.endswith("image_url")),
    )


@cache
def endpoint_facts() -> dict[str, EndpointFacts]:
    return {row["id"]: _facts(row) for row in _table()["endpoints"]}


def input_fields(endpoint_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The endpoint's image arguments, in the order their inputs are resolved, and its video
    arguments (its row's, read from its input schema); none for an id the table lacks."""
    facts = ENDPOINT_FACTS.get(endpoint_id)
    return (facts.image_fields, facts.video_fields) if facts else ((), ())


GENERIC_TIMING: dict[str, str] = {"video": "video", "3d": "video"}
"""A catalogue endpoint's run-time class by the kind of its output: videos and 3D models take
the video class (minutes in ``realistic``), every other kind the ``media`` class (seconds)."""


CATEGORY_KINDS: dict[str, str] = {"video": "video", "image": "image", "speech": "audio"}
CATEGORY_KINDS |= {"audio": "audio", "3d": "3d", "text": "text", "json": "text"}
"""A spec's kind from the last word of fal's category (``image-to-video`` -> video)."""


def catalogue_facts(endpoint_id: str) -> EndpointFacts | None:
    """A row for an endpoint of a user's fal OpenAPI document (``specs``) or of fal's catalogue
    (``catalogue.json.gz``): answered by rule, its input judged by the document's model or the
    generated types (which carry no bounds), its price unknown."""
    from contracts.schemas.catalogue import load_catalogue  # read on first use only
    from contracts.schemas.specs import registered_spec

    spec = registered_spec(endpoint_id)
    if spec is not None:
        kind = CATEGORY_KINDS.get(spec.category.rsplit("-", 1)[-1], "other")
        prefix = SPEC_SCHEMA
    else:
        entry = load_catalogue().endpoint(endpoint_id)
        if entry is None:
            return None
        kind, prefix = entry.kind, CATALOGUE_SCHEMA
    return EndpointFacts(
        endpoint_id=endpoint_id,
        input_schema=catalogue_schema_name(endpoint_id, "input", prefix),
        output_schema=catalogue_schema_name(endpoint_id, "output", prefix),
        kind=kind,
        price=None,
        fidelity="generic",
        producer="synthesis",
        timing=GENERIC_TIMING.get(kind, "media"),
        label=endpoint_id,
        start_log=f"Starting {kind} generation",
        progress_log="{percent}% done",
        finished_log="Generation finished",
    )


V = TypeVar("V")


class EndpointTable(dict[str, V]):
    """The exact rows of ``endpoints.json`` (what iteration, ``len`` and ``keys`` see) and, on
    lookup by id, every endpoint of fal's catalogue too: ``table[id]``, ``table.get(id)`` and
    ``id in table`` find ``fal-ai/flux/dev``, while the suite, the published OpenAPI and the
    dashboard's forms, which iterate, keep to the exact rows. Catalogue rows are made on first
    lookup and kept (the catalogue bounds how many); a miss reads nothing but the catalogue."""

    def __init__(self, rows: Mapping[str, V], make: Callable[[str], V | None]) -> None:
        super().__init__(rows)
        self._make = make
        self._generic: dict[str, V] = {}

    def is_row(self, endpoint_id: str) -> bool:
        """Whether the id is one of the table's own rows (not only found in the catalogue)."""
        return dict.__contains__(self, endpoint_id)

    def lookup(self, endpoint_id: str) -> V | None:
        if dict.__contains__(self, endpoint_id):
            return dict.__getitem__(self, endpoint_id)
        if (found := self._generic.get(endpoint_id)) is not None:
            return found
        if not isinstance(endpoint_id, str) or endpoint_id.count("/") < 1:
            return None
        made = self._make(endpoint_id)
        if made is not None:
            self._generic[endpoint_id] = made
        return made

    def forget_generic(self) -> None:
        """Drop the rows made on lookup (after endpoint documents were registered)."""
        self._generic.clear()

    def __missing__(self, endpoint_id: str) -> V:
        found = self.lookup(endpoint_id)
        if found is None:
            raise KeyError(endpoint_id)
        return found

    def get(self, endpoint_id: str, default: Any = None) -> Any:  # type: ignore[override]
        found = self.lookup(endpoint_id)
        return default if found is None else found

    def __contains__(self, endpoint_id: object) -> bool:
        return isinstance(endpoint_id, str) and self.lookup(endpoint_id) is not None


def is_app_id(target: str) -> bool:
    """Whether fal would address requests under ``target`` (``owner/alias`` of an endpoint)."""
    if target == APP_ID:
        return True
    if target.count("/") != 1:  # owner/alias has two parts, so no catalogue read for others
        return False
    from contracts.schemas.catalogue import load_catalogue
    from contracts.schemas.specs import registered_ids

    specs = {owner_alias(endpoint_id) for endpoint_id in registered_ids()}
    return target in specs or target in _catalogue_app_ids(load_catalogue())


@cache
def _catalogue_app_ids(catalogue: Any) -> frozenset[str]:
    return frozenset(owner_alias(e) for e in catalogue)


APP_ID = app_id()
ENDPOINT_FACTS: EndpointTable[EndpointFacts] = EndpointTable(endpoint_facts(), catalogue_facts)
INPUT_SCHEMAS: dict[str, str] = {e: f.input_schema for e, f in ENDPOINT_FACTS.items()}
SHORT_NAMES: dict[str, str] = {f.short: e for e, f in ENDPOINT_FACTS.items()}
"""``t2v`` -> ``fal-ai/luma-dream-machine/ray-2``, and so on for every endpoint."""


def cost_units(endpoint_id: str, arguments: Mapping[str, Any], seconds: float | None = None) -> int:
    """Units of one generation from validated input (defaults filled in); ``seconds`` is the
    input video's duration for a per-second price (None: not read yet, 0 units). An endpoint
    whose price is unknown counts one unit a generation."""
    price = ENDPOINT_FACTS[endpoint_id].price
    return 1 if price is None else price.units(arguments, seconds)


def billed_units(endpoint_id: str, body: Any, seconds: float | None = None) -> int:
    """What a request body will cost, judged by the schema alone (the contract suite's view):
    nothing if the schema refuses it, else its units with the schema's defaults filled in. A
    per-second price whose input video has not been measured is charged the longest input
    Ray 2 takes, so a budget never spends more than it allows."""
    from jsonschema import Draft202012Validator  # only the suite's budget needs it

    schema = load_schema(ENDPOINT_FACTS[endpoint_id].input_schema)
    if not isinstance(body, Mapping) or not Draft202012Validator(schema).is_valid(body):
        return 0
    defaults = {k: v["default"] for k, v in schema["properties"].items() if "default" in v}
    if seconds is None and per_second(endpoint_id):
        seconds = MAX_INPUT_VIDEO_SECONDS
    return cost_units(endpoint_id, {**defaults, **body}, seconds)


def per_second(endpoint_id: str) -> bool:
    """Whether the endpoint bills the started seconds of an input video."""
    price = ENDPOINT_FACTS[endpoint_id].price
    return price is not None and price.per_second


def cost_usd(endpoint_id: str, units: int) -> float | None:
    """Dollars for ``units`` of the endpoint; None when fal's price is unknown."""
    price = ENDPOINT_FACTS[endpoint_id].price
    return None if price is None else round(units * price.unit_usd, 4)
