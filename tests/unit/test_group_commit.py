"""The SQLite store's group commit: writes of one event-loop tick share one transaction, and
``durable`` returns only once they are in the file (a submit is answered after it)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx

from mockserver.app import create_app
from mockserver.records import RequestRecord
from mockserver.serving.background import BackgroundEmulator
from mockserver.stores import SqliteStore
from tests.support import TEST_KEY, make_config


def _record(request_id: str) -> RequestRecord:
    return RequestRecord(
        request_id=request_id,
        endpoint_id="fal-ai/luma-dream-machine/ray-2",
        input={"prompt": "a prompt"},
        submitted_at=1.0,
        eligible_at=1.0,
        run_seconds=1.0,
    )


def _rows_on_disk(path: Path) -> list[tuple[str, str]]:
    """What another process would read from the file now."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT request_id, status FROM requests ORDER BY seq").fetchall()


async def test_writes_of_one_tick_share_one_commit_and_are_on_disk_once_durable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "g.sqlite3"
    store = SqliteStore(path)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    ids = [f"r{i}" for i in range(10)]
    for request_id in ids:
        store.add(_record(request_id))
    first = store.get("r0")
    assert first is not None
    first.status = "IN_PROGRESS"
    assert store.save(first)
    assert _rows_on_disk(path) == []  # held in memory until the tick ends
    assert store.view("r0") is not None and store.view("r0").status == "IN_PROGRESS"  # type: ignore[union-attr]

    await store.durable()

    assert [row[0] for row in _rows_on_disk(path)] == ids
    assert _rows_on_disk(path)[0] == ("r0", "IN_PROGRESS")
    assert sum(s.strip().upper() == "COMMIT" for s in statements) == 1
    store.close()


async def test_a_commit_is_scheduled_without_anyone_waiting(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    store = SqliteStore(path)
    store.add(_record("r1"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert [row[0] for row in _rows_on_disk(path)] == ["r1"]
    store.close()


def test_without_an_event_loop_each_write_commits_at_once(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    store = SqliteStore(path)
    store.add(_record("r1"))
    assert [row[0] for row in _rows_on_disk(path)] == ["r1"]
    store.close()


def test_a_reopened_store_continues_the_sequence_and_the_queue_order(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite3"
    first = SqliteStore(path)
    for request_id in ("a", "b"):
        first.add(_record(request_id))
    first.close()
    second = SqliteStore(path)
    late = _record("c")
    second.add(late)
    a, b = second.view("a"), second.view("b")
    assert a is not None and b is not None
    assert a.seq < b.seq < late.seq
    assert [second.position(r) for r in (a, b, late)] == [0, 1, 2]
    second.close()


def test_an_accepted_submit_is_already_in_the_file(tmp_path: Path) -> None:
    config = make_config(tmp_path, store="sqlite")
    auth = {"Authorization": f"Key {TEST_KEY}"}
    with BackgroundEmulator(config, create_app(config)) as emulator, httpx.Client() as client:
        for n in range(5):
            answer = client.post(
                f"{emulator.url}/fal-ai/luma-dream-machine/ray-2",
                json={"prompt": f"prompt {n}"},
                headers=auth,
            )
            assert answer.status_code == 200
            on_disk = {row[0] for row in _rows_on_disk(config.database_path)}
            assert answer.json()["request_id"] in on_disk


async def test_outputs_of_one_tick_are_served_at_once_and_on_disk_at_the_next(
    tmp_path: Path,
) -> None:
    from mockserver.clock import ManualClock
    from mockserver.storage.files import FileStore

    files = FileStore(tmp_path / "files", ManualClock())
    made = [files.add_output("a" * 64, "output.mp4") for _ in range(3)]
    assert all(files.output(o.file_id) == o for o in made)  # a URL resolves from the start

    def on_disk() -> set[str]:
        with sqlite3.connect(tmp_path / "files" / "files.sqlite3") as db:
            return {row[0] for row in db.execute("SELECT file_id FROM outputs")}

    assert on_disk() == set()
    await asyncio.sleep(0)
    assert on_disk() == {o.file_id for o in made}
    assert all(files.output(o.file_id) == o for o in made)
    files.close()
