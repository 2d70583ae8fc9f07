"""Input images for image-to-video, and the input-caused error type."""

from __future__ import annotations

from typing import Any

ERRORS_DOC_URL = "https://docs.fal.ai/errors"


class MediaInputError(Exception):
    """An input-caused failure: the app answers it in fal's 422 shape, never as a 500."""

    def __init__(
        self,
        field: str,
        error_type: str,
        msg: str,
        input_value: Any = None,
        *,
        ctx: dict[str, Any] | None = None,
        status_code: int = 422,
    ) -> None:
        super().__init__(msg)
        self.status_code = status_code
        entry: dict[str, Any] = {
            "loc": ["body", field],
            "msg": msg,
            "type": error_type,
            "url": f"{ERRORS_DOC_URL}#{error_type}",
        }
        if input_value is not None:
            entry["input"] = input_value
        if ctx:
            entry["ctx"] = ctx
        self.detail: list[dict[str, Any]] = [entry]
