"""ray2-mock's emulator of fal's Luma Ray 2 endpoints.

The public names, imported on first use so ``import mockserver`` stays cheap::

    from mockserver import Config, create_app, BackgroundEmulator
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

PUBLIC = {
    "Config": "mockserver.config",
    "create_app": "mockserver.app",
    "BackgroundEmulator": "mockserver.serving.background",
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
