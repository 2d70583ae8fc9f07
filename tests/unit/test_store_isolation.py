"""Stores hand out copies: what a caller does to its record reaches the store only via save.

The memory store copies one level deep (``RequestRecord.copy``) instead of a full ``asdict``
round trip; these pin the isolation that the cheaper copy must keep.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver.records import RequestRecord
from mockserver.stores import RequestStore, SharedSqliteStore
from tests.support import STORE_KINDS, make_store, store_fixture


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RequestStore:
    return store_fixture(request, tmp_path / "s.sqlite3")


def _record() -> RequestRecord:
    return RequestRecord(
        request_id="r1",
        endpoint_id="fal-ai/luma-dream-machine/ray-2",
        input={"prompt": "a prompt"},
        submitted_at=1.0,
        eligible_at=1.0,
        run_seconds=1.0,
        logs=[{"message": "m", "at": 1.0}],
        headers={"x-fal-runner-hint": "h"},
        arguments={"prompt": "a prompt", "duration": "5s"},
    )


def test_mutating_a_copy_changes_nothing_stored(store: RequestStore) -> None:
    mine = _record()
    store.add(mine)
    mine.logs.append({"message": "added after add", "at": 2.0})
    mine.input["prompt"] = "changed"
    mine.arguments["duration"] = "9s"
    got = store.get("r1")
    assert got is not None and got is not mine
    got.logs.append({"message": "added after get", "at": 3.0})
    got.headers["x"] = "y"
    got.status = "COMPLETED"
    again = store.get("r1")
    assert again is not None
    assert again.logs == [{"message": "m", "at": 1.0}]
    assert again.input == {"prompt": "a prompt"} and again.headers == {"x-fal-runner-hint": "h"}
    assert again.arguments == {"prompt": "a prompt", "duration": "5s"}
    assert again.status == "IN_QUEUE"


def test_save_writes_a_snapshot_and_refuses_stale_versions(store: RequestStore) -> None:
    store.add(_record())
    first, second = store.get("r1"), store.get("r1")
    assert first is not None and second is not None
    first.logs.append({"message": "saved", "at": 2.0})
    assert store.save(first)
    first.logs.append({"message": "not saved", "at": 3.0})
    second.status = "COMPLETED"
    assert not store.save(second)  # another writer changed it first
    stored = store.get("r1")
    assert stored is not None and stored.status == "IN_QUEUE"
    assert [line["message"] for line in stored.logs] == ["m", "saved"]
    assert [r.request_id for r in store.unfinished()] == ["r1"]
    assert store.recent(5)[0].logs == stored.logs


def test_sqlite_reads_what_another_worker_wrote(tmp_path: Path) -> None:
    """The decoded-record cache is keyed by version: a write from another connection (worker)
    is seen on the next read, never the cached copy."""
    path = tmp_path / "shared.sqlite3"
    mine, theirs = SharedSqliteStore(path), SharedSqliteStore(path)
    mine.add(_record())
    assert mine.get("r1") is not None  # cached here now
    other = theirs.get("r1")
    assert other is not None
    other.status = "IN_PROGRESS"
    other.logs.append({"message": "from the other worker", "at": 2.0})
    assert theirs.save(other)
    seen = mine.get("r1")
    assert seen is not None and seen.status == "IN_PROGRESS" and seen.version == other.version
    assert seen.logs[-1]["message"] == "from the other worker"
    stale = mine.get("r1")
    assert stale is not None
    assert theirs.save(theirs.get("r1"))  # type: ignore[arg-type]
    stale.status = "COMPLETED"
    assert not mine.save(stale)  # the optimistic check still holds


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "p", "seed": 10**30},  # beyond 64 bits: orjson refuses it, json keeps it
        {"prompt": "ünï ✓", "nested": [{"a": None, "b": 1.5e-7}], "big": -(2**63)},
        ["not", "an", "object"],
    ],
)
def test_any_input_survives_the_sqlite_file_exactly(tmp_path: Path, body: object) -> None:
    """The queue accepts any JSON body; a restart must hand the app the same one back."""
    path = tmp_path / "s.sqlite3"
    first = make_store("sqlite", path)
    record = _record()
    record.input = body
    first.add(record)
    first.flush()
    first.close()
    again = make_store("sqlite", path).get("r1")
    assert again is not None
    assert again.input == body and type(again.input) is type(body)
    if isinstance(body, dict) and "seed" in body:
        assert type(again.input["seed"]) is int
