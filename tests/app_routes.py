"""Which routes this build of the emulator has: tests of features merged from other branches
(control API, storage) run once the routes exist and say why they skip until then."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import pytest

from mockserver.app import create_app


def _paths(routes: Iterable[Any]) -> Iterator[str]:
    for route in routes:
        yield getattr(route, "path", "")
        yield from _paths(getattr(route, "routes", None) or [])


@cache
def route_paths() -> frozenset[str]:
    return frozenset(_paths(create_app().routes))


def needs_route(path: str, feature: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        path not in route_paths(), reason=f"no {path} route on this branch yet ({feature})"
    )
