"""Shared by the state-machine tests: both store backends, and a way to let producers finish."""

from __future__ import annotations

import asyncio

import pytest

from mockserver.queue import RequestQueue
from mockserver.stores import RequestStore
from tests.support import STORE_KINDS, store_fixture


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path) -> RequestStore:
    return store_fixture(request, tmp_path / "q.sqlite3")


async def settle(queue: RequestQueue) -> None:
    """Let the producer tasks finish, then apply what is due."""
    for _ in range(5):
        await asyncio.sleep(0)
    queue.advance()
