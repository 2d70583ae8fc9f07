"""Registry of the emulated fal endpoints: ids, schemas and cost, as one data table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import load_schema

APP_ID = "fal-ai/luma-dream-machine"
"""fal addresses status/result/cancel by ``owner/alias`` only (both endpoints share it)."""

# fal pricing: one unit is a 540p, 5 s clip; 720p costs 2x, 1080p 4x, 9 s 2x.
RESOLUTION_UNITS = {"540p": 1, "720p": 2, "1080p": 4}
DURATION_UNITS = {"5s": 1, "9s": 2}


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    input_schema: str
    output_schema: str
    kind: str

    @property
    def app_id(self) -> str:
        return APP_ID

    def input_schema_doc(self) -> dict[str, Any]:
        return load_schema(self.input_schema)

    def output_schema_doc(self) -> dict[str, Any]:
        return load_schema(self.output_schema)

    def with_defaults(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The input as the model sees it: schema defaults filled in for absent fields."""
        properties = self.input_schema_doc()["properties"]
        filled = {k: v["default"] for k, v in properties.items() if "default" in v}
        filled.update(arguments)
        return filled


ENDPOINTS: dict[str, Endpoint] = {
    e.endpoint_id: e
    for e in (
        Endpoint(
            "fal-ai/luma-dream-machine/ray-2",
            "ray-2.input.json",
            "ray-2.output.json",
            "text-to-video",
        ),
        Endpoint(
            "fal-ai/luma-dream-machine/ray-2/image-to-video",
            "ray-2-image-to-video.input.json",
            "ray-2.output.json",
            "image-to-video",
        ),
    )
}


def cost_units(arguments: Mapping[str, Any]) -> int:
    """Cost of one generation in 540p/5 s units, from inputs with defaults applied."""
    return RESOLUTION_UNITS[arguments["resolution"]] * DURATION_UNITS[arguments["duration"]]
