"""Registry of the emulated fal endpoints: ids, schemas and cost, as one data table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts import load_schema
from mockserver.fal.validation import Validation, validator_for

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

    def input_schema_doc(self) -> dict[str, Any]:
        return load_schema(self.input_schema)

    def validate(self, body: Any) -> Validation:
        """The input as the app behind fal's queue judges it (pydantic, FastAPI's rules)."""
        return validator_for(self.input_schema).validate(body)

    def with_defaults(self, body: Any) -> dict[str, Any]:
        """The input as the model sees it: validated and coerced, defaults filled in.

        An invalid input (the queue accepts those; they fail when they run) still gets the
        schema's defaults under whatever fields it sent, so views and fault rules can read it.
        """
        validation = self.validate(body)
        if validation.arguments is not None:
            return validation.arguments
        properties = self.input_schema_doc()["properties"]
        filled = {k: v["default"] for k, v in properties.items() if "default" in v}
        if isinstance(body, Mapping):
            filled.update(body)
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
    """Cost of one generation in 540p/5 s units, from validated inputs (defaults applied).

    An input the app rejects costs nothing: fal marks its 422 ``x-fal-billable-units: 0``."""
    resolution = RESOLUTION_UNITS.get(arguments.get("resolution"))  # type: ignore[arg-type]
    duration = DURATION_UNITS.get(arguments.get("duration"))  # type: ignore[arg-type]
    if resolution is None or duration is None:
        return 0
    return resolution * duration
