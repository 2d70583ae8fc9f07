"""A generation's files on the emulated CDN keep the type the output gives them, also in a
store written before outputs had one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mockserver.clock import ManualClock
from mockserver.storage.files import FileStore

OLD_OUTPUTS = """CREATE TABLE outputs (
    file_id TEXT PRIMARY KEY, shard TEXT NOT NULL, file_name TEXT NOT NULL,
    media_key TEXT NOT NULL, created_at REAL NOT NULL)"""


def test_an_output_keeps_its_content_type_across_a_reopen(tmp_path: Path) -> None:
    store = FileStore(tmp_path, ManualClock(1000.0))
    made = store.add_output("a" * 32, "voice.wav", "audio/wav")
    render = store.add_output("b" * 32, "output.mp4")
    store.flush_outputs()
    store.close()
    reopened = FileStore(tmp_path, ManualClock(1000.0))
    assert reopened.output(made.file_id).content_type == "audio/wav"
    assert reopened.output(render.file_id).content_type is None  # served as its name says


def test_a_store_from_before_output_types_gains_the_column(tmp_path: Path) -> None:
    database = tmp_path / "files.sqlite3"
    with sqlite3.connect(database) as old:
        old.execute(OLD_OUTPUTS)
        old.execute(
            "INSERT INTO outputs VALUES ('old-id', 'abcd1234', 'output.mp4', ?, 1.0)", ("c" * 32,)
        )
    store = FileStore(tmp_path, ManualClock(1000.0))
    kept = store.output("old-id")
    assert kept is not None and (kept.file_name, kept.content_type) == ("output.mp4", None)
    new = store.add_output("d" * 32, "image.png", "image/png")
    store.flush_outputs()
    assert store.output(new.file_id).content_type == "image/png"
