"""Content-addressed on-disk cache of rendered files, plus single-flight bookkeeping.

The key is a hash of everything that changes the bytes of the file (render parameters, image
digests, renderer version, ffmpeg version), so a key names one file forever: a hit needs no
re-validation, files survive restarts, and two processes sharing a media_dir agree on names.
Writes go to a temp file in the same directory and are renamed into place, so a reader never sees
a half-written MP4 and a crash leaves only a stray temp file (swept on a later start-up, once it is
older than any render can run: another process sharing the directory may be writing a young one).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

KEY_LENGTH = 32  # hex chars = 128 bits: collision-free in practice, short enough for URLs.
KEY_RE = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")
SUFFIX = ".mp4"
TEMP_PREFIX = ".tmp-"
STALE_TEMP_S = 3600.0
"""A temp entry this old belongs to no live render (renders time out long before)."""


def cache_key(parts: Mapping[str, Any]) -> str:
    """Hash canonical JSON of `parts` to a url-safe key (lowercase hex)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def is_valid_key(key: str) -> bool:
    return bool(KEY_RE.fullmatch(key))


class DiskCache:
    """Files named `{key}.mp4` in one directory; nothing else is ever looked up there."""

    def __init__(self, directory: Path, *, stale_after: float = STALE_TEMP_S) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sweep_temps(time.time() - stale_after)

    def path(self, key: str) -> Path:
        """Final path of `key`; refuses anything that is not a key (no traversal possible)."""
        if not is_valid_key(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.directory / f"{key}{SUFFIX}"

    def lookup(self, key: str) -> Path | None:
        if not is_valid_key(key):
            return None
        path = self.directory / f"{key}{SUFFIX}"
        return path if path.is_file() and not path.is_symlink() else None  # renders are files

    def temp_path(self, key: str) -> Path:
        """A unique sibling of the final path, so the rename is atomic (same filesystem)."""
        return self.directory / f"{TEMP_PREFIX}{key}-{uuid.uuid4().hex}{SUFFIX}"

    def commit(self, temp: Path, key: str) -> Path:
        final = self.path(key)
        os.replace(temp, final)
        return final

    def _sweep_temps(self, older_than: float) -> None:
        for stray in self.directory.glob(f"{TEMP_PREFIX}*"):
            try:
                if stray.lstat().st_mtime > older_than:
                    continue  # may be another process's render in progress
                if stray.is_dir():
                    for child in stray.iterdir():
                        child.unlink(missing_ok=True)
                    stray.rmdir()
                else:
                    stray.unlink(missing_ok=True)
            except OSError:
                pass  # another process may still be writing it; harmless to leave


class SingleFlight:
    """At most one running job per key; later callers share the first caller's future.

    Uses concurrent.futures so callers on any event loop (the app's, a TestClient's) can await it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, concurrent.futures.Future[Any]] = {}

    def run(
        self, key: str, start: Callable[[], concurrent.futures.Future[Any]]
    ) -> tuple[concurrent.futures.Future[Any], bool]:
        """The running future for `key`, or a new one from `start()`; True if it is new."""
        with self._lock:
            future = self._running.get(key)
            if future is not None:
                return future, False
            future = start()
            self._running[key] = future
        future.add_done_callback(lambda _f: self._forget(key, _f))
        return future, True

    def _forget(self, key: str, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._running)
