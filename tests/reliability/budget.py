"""How hard the reliability suite pushes: bounded for `make test`, longer under `make soak`."""

from __future__ import annotations

import os

SOAK = os.environ.get("RAY2_SOAK") == "1"


def scaled(quick: int, soak: int) -> int:
    """`quick` in `make test`, `soak` in `make soak` (RAY2_SOAK=1)."""
    return soak if SOAK else quick
