"""Replicas on Redis (`serve --store redis://`): what each operation costs in Redis round trips,
and the throughput of one and two replicas beside one SQLite process, in the same run.

Round trips are counted in one emulator in this process, on the client side: every packet
redis-py writes is one round trip (a pipeline or a Lua script is one), grouped by the task that
wrote it (the request's handler, the queue driver and the producers for its lifecycle, the
journal's writer, the replica's own background loops), over a number of sequential requests.
Throughput: `serve --store redis://... --workers N` (N processes on one port, each its own
replica with its own replica id) against one Redis, the load generator on the same 2 cores.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import loadgen, servers
from bench.loadgen import Load

APP = "/fal-ai/luma-dream-machine"
AUTH = {"Authorization": "Key bench:key"}
COUNTED = int(os.environ.get("BENCH_REPLICA_REQUESTS", "200"))
CONNECTIONS = 32
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BACKGROUND = ("ray2-mock heartbeat", "ray2-mock orphan sweep", "ray2-mock replica events")
OUTSIDE = "outside the event loop"


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A redis-server of the benchmark's own (AOF with fsync every second: its default)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("the replica benchmark needs redis-server (scripts/ensure-redis.sh)")
    port = servers.free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    command += ["--save", "", "--appendonly", "yes", "--loglevel", "warning"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


class RoundTrips:
    """Counts redis-py's packet writes (sync and asyncio clients) by the writing task's name."""

    def __init__(self) -> None:
        self.by_task: collections.Counter[str] = collections.Counter()

    def _count(self) -> None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        name = task.get_name() if task is not None else OUTSIDE
        if name.startswith("produce "):
            name = "producer"
        elif name.startswith("Task-"):
            name = "request handler"
        self.by_task[name] += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import redis.asyncio.connection as async_connection
        import redis.connection as sync_connection

        sync_send = sync_connection.AbstractConnection.send_packed_command
        async_send = async_connection.AbstractConnection.send_packed_command

        def counted_sync(connection: Any, *args: Any, **kwargs: Any) -> Any:
            self._count()
            return sync_send(connection, *args, **kwargs)

        async def counted_async(connection: Any, *args: Any, **kwargs: Any) -> Any:
            self._count()
            return await async_send(connection, *args, **kwargs)

        sync_connection.AbstractConnection.send_packed_command = counted_sync  # type: ignore[method-assign]
        async_connection.AbstractConnection.send_packed_command = counted_async  # type: ignore[method-assign]
        try:
            yield
        finally:
            sync_connection.AbstractConnection.send_packed_command = sync_send  # type: ignore[method-assign]
            async_connection.AbstractConnection.send_packed_command = async_send  # type: ignore[method-assign]

    def take(self) -> dict[str, int]:
        taken = dict(self.by_task)
        self.by_task.clear()
        return taken


def _per_request(counts: dict[str, int], requests: int) -> dict[str, Any]:
    """Round trips per request: everything but this replica's background loops and the
    benchmark's own reads (made outside the event loop)."""
    ignored = (*BACKGROUND, OUTSIDE)
    lifecycle = {k: v for k, v in counts.items() if k not in ignored}
    return {
        "per_request": round(sum(lifecycle.values()) / requests, 2),
        "by_task_per_request": {k: round(v / requests, 2) for k, v in sorted(lifecycle.items())},
        "background_total": sum(v for k, v in counts.items() if k in BACKGROUND),
    }


def round_trips(url: str, work: Path) -> dict[str, Any]:
    import redis

    from mockserver.config import Config
    from mockserver.serving.background import BackgroundEmulator
    from mockserver.shared.connection import Keys

    counter = RoundTrips()
    config = Config(port=0, tls_port=0, state_dir=work, store=url, timing="instant")
    results: dict[str, Any] = {}
    watcher = redis.Redis.from_url(url)
    with BackgroundEmulator(config) as emulator, counter.installed(), httpx.Client() as http:
        base = f"{emulator.url}{APP}"
        ids = []
        counter.take()
        for n in range(COUNTED):
            answer = http.post(f"{base}/ray-2", json={"prompt": f"trips {n % 4}"}, headers=AUTH)
            ids.append(answer.json()["request_id"])
        while watcher.zcard(Keys().unfinished):  # every lifecycle done (not a status poll)
            time.sleep(0.01)
        time.sleep(0.2)  # the journal's writer flushes on the next tick
        results["submit (to completion)"] = _per_request(counter.take(), len(ids))
        for name, path in (("status", "/status"), ("result", "")):
            for request_id in ids:
                http.get(f"{base}/requests/{request_id}{path}", headers=AUTH)
            time.sleep(0.2)
            results[name] = _per_request(counter.take(), len(ids))
    return results


def throughput(url: str, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with (
        servers.emulator("sqlite", work / "sqlite", store="sqlite") as sqlite,
        servers.emulator("redis 1", work / "r1", store=url, workers=1) as one,
        servers.emulator("redis 2", work / "r2", store=url, workers=2) as two,
    ):
        targets = {"sqlite, 1 process": sqlite, "redis, 1 replica": one, "redis, 2 replicas": two}
        ids = {name: servers.completed_request(s.url) for name, s in targets.items()}
        for op, make in (
            ("submit", lambda _id: Load("POST", f"{APP}/ray-2", {"prompt": "replica bench"})),
            ("status", lambda rid: Load("GET", f"{APP}/requests/{rid}/status")),
        ):
            rounds: dict[str, list[loadgen.Result]] = {name: [] for name in targets}
            for _ in range(ROUNDS):
                for name, server in targets.items():
                    rounds[name].append(
                        loadgen.run(
                            server.url, make(ids[name]), connections=CONNECTIONS, seconds=SECONDS
                        )
                    )
            median = {
                n: sorted(v, key=lambda r: r.rps)[(len(v) - 1) // 2] for n, v in rounds.items()
            }
            row = {
                **{f"{n} rps": round(r.rps) for n, r in median.items()},
                **{f"{n} p99_ms": round(r.p99_ms, 2) for n, r in median.items()},
                "2 replicas / 1": round(
                    median["redis, 2 replicas"].rps / median["redis, 1 replica"].rps, 3
                ),
                "1 replica / sqlite": round(
                    median["redis, 1 replica"].rps / median["sqlite, 1 process"].rps, 3
                ),
            }
            results[op] = row
            print(f"replicas {op} c={CONNECTIONS}: {row}", flush=True)
    return results


def run() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    try:
        (work / "redis").mkdir()
        with redis_server(work / "redis") as url:
            trips = round_trips(url, work / "trips")
        (work / "redis2").mkdir()
        with redis_server(work / "redis2") as url:
            rates = throughput(url, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "round_trips": trips,
        "throughput": rates,
        "cpus": os.cpu_count(),
        "load_generator": loadgen.GENERATOR.describe(),
        "connections": CONNECTIONS,
    }


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for op, row in result["round_trips"].items():
        lines.append(f"replicas round trips {op:22}: {row['per_request']} per request")
    for op, row in result["throughput"].items():
        cells = ", ".join(
            f"{n} {row[f'{n} rps']}/s"
            for n in ("sqlite, 1 process", "redis, 1 replica", "redis, 2 replicas")
        )
        lines.append(f"replicas {op}: {cells} (2/1 x{row['2 replicas / 1']})")
    return lines
