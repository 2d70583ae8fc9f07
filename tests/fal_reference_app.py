"""The FastAPI app a fal model author writes for the Ray 2 family, by hand, as the oracle for the
emulator's input validation.

fal's model servers are FastAPI apps whose input is a pydantic v2 model (fal's app framework,
``fal/api/api.py``). Nothing here is read from the emulator or from ``contracts/schemas``: every
field, type, bound, default, enum and the field order is typed in from fal's published OpenAPI
for each endpoint (``x-fal-order-properties`` and the properties, as fal-js PR #187/#212 generated
them and fal's llms.txt pages list them; docs/evidence.md). Enums are ``Literal`` because fal's
OpenAPI writes them inline (a pydantic ``Enum`` would be a ``$ref`` component); an optional field
without a default is ``Optional[...] = None``, the pydantic idiom for fal's ``field?: type``
[inferred: no Ray 2 app source is public]. ``tests/integration/test_validation_fastapi.py``
checks these models against the schema files, then holds the emulator's 422 bytes to this
app's.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field

AspectRatio = Literal["16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
Resolution = Literal["540p", "720p", "1080p"]
Duration = Literal["5s", "9s"]


class LumaDreamMachineRay2Input(BaseModel):
    prompt: str = Field(min_length=3, max_length=5000)
    aspect_ratio: AspectRatio = "16:9"
    loop: bool = False
    resolution: Resolution = "540p"
    duration: Duration = "5s"


class LumaDreamMachineRay2ImageToVideoInput(BaseModel):
    prompt: str = Field(min_length=3, max_length=5000)
    image_url: str | None = None
    end_image_url: str | None = None
    aspect_ratio: AspectRatio = "16:9"
    loop: bool = False
    resolution: Resolution = "540p"
    duration: Duration = "5s"


class LumaDreamMachineRay2ReframeInput(BaseModel):
    video_url: str
    aspect_ratio: Literal["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
    image_url: str | None = None
    grid_position_x: int | None = None
    grid_position_y: int | None = None
    prompt: str | None = Field(default=None, min_length=1, max_length=5000)
    x_end: int | None = None
    x_start: int | None = None
    y_end: int | None = None
    y_start: int | None = None


class LumaDreamMachineRay2FlashModifyInput(BaseModel):
    video_url: str
    image_url: str | None = None
    prompt: str | None = Field(default=None, min_length=3, max_length=5000)
    mode: Literal[
        "adhere_1",
        "adhere_2",
        "adhere_3",
        "flex_1",
        "flex_2",
        "flex_3",
        "reimagine_1",
        "reimagine_2",
        "reimagine_3",
    ] = "flex_1"


MODELS: dict[str, type[BaseModel]] = {
    "ray-2.input.json": LumaDreamMachineRay2Input,
    "ray-2-image-to-video.input.json": LumaDreamMachineRay2ImageToVideoInput,
    "ray-2-reframe.input.json": LumaDreamMachineRay2ReframeInput,
    "ray-2-modify.input.json": LumaDreamMachineRay2FlashModifyInput,
}
"""Each of the family's input schema files and the model fal's app declares for it."""


def reference_app(model: type[BaseModel]) -> FastAPI:
    """One endpoint, as fal's framework serves it: the model as the JSON body."""
    app = FastAPI()

    def generate(body: Any) -> dict[str, Any]:
        return body.model_dump()

    generate.__annotations__ = {"body": model, "return": dict}  # a real class, not a string
    app.post("/")(generate)
    return app
