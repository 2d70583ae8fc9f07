"""`serve --workers 2`: two processes on one port share the SQLite state.

Which worker holds a connection is read from /proc (the accepted socket's inode in a worker's
fd table), so the test can submit through one worker and follow the request through the other.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import time
from pathlib import Path

from tests.reliability.serveproc import ServeProcess, child_pids, listening_addresses, start_serve
from tests.support import TEST_KEY

AUTH = {"Authorization": f"Key {TEST_KEY}", "Content-Type": "application/json"}
REQUESTS = "/fal-ai/luma-dream-machine/requests"


def _workers(served: ServeProcess) -> list[int]:
    return [
        pid
        for pid in child_pids(served.proc.pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _server_side_inode(server_port: int, client_port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if local == f"0100007F:{server_port:04X}" and remote == f"0100007F:{client_port:04X}":
            return fields[9]
    raise LookupError("accepted socket not found")


def _owner(pids: list[int], inode: str) -> int:
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except FileNotFoundError:  # a short-lived child (a render's ffmpeg) already exited
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise LookupError("no worker holds the connection")


def _connection_per_worker(served: ServeProcess) -> dict[int, http.client.HTTPConnection]:
    """Open connections until each worker holds one (the kernel picks the acceptor)."""
    pids = _workers(served)
    found: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", served.info.port, timeout=10)
        conn.request("GET", "/_mock/health")  # answered: the connection has been accepted
        assert conn.getresponse().read() == b'{"status":"ok"}'
        assert conn.sock is not None
        inode = _server_side_inode(served.info.port, conn.sock.getsockname()[1])
        owner = _owner(pids, inode)
        if owner in found:
            conn.close()
        else:
            found[owner] = conn
        if len(found) == len(pids):
            return found
    raise AssertionError(f"connections never reached every worker: {sorted(found)} of {pids}")


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> tuple:
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=AUTH)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_a_request_submitted_to_one_worker_is_followed_through_the_other(tmp_path: Path) -> None:
    """Graceful SIGTERM of the workers is covered by test_security_defaults' loopback check."""
    served = start_serve(tmp_path / "state", "--workers", "2", "--timing", "fast")
    workers = _workers(served)
    try:
        assert len(workers) == 2
        assert listening_addresses([served.proc.pid, *workers]) == {"0100007F"}  # loopback
        first, second = _connection_per_worker(served).values()
        status, submitted = _call(
            first, "POST", "/fal-ai/luma-dream-machine/ray-2", {"prompt": "w prompt"}
        )
        assert status == 200
        request_id = submitted["request_id"]
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, body = _call(second, "GET", f"{REQUESTS}/{request_id}/status")
            assert status in (200, 202) and body["request_id"] == request_id
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            if body["status"] == "COMPLETED":
                break
            time.sleep(0.1)
        assert seen[-1] == "COMPLETED" and "IN_PROGRESS" in seen, seen
        status, output = _call(second, "GET", f"{REQUESTS}/{request_id}")
        assert status == 200 and output["video"]["url"].endswith(".mp4")
        # the other direction, and a cancel answered by the worker that did not accept it
        status, queued = _call(
            second, "POST", "/fal-ai/luma-dream-machine/ray-2", {"prompt": "x prompt"}
        )
        status, cancelled = _call(first, "PUT", f"{REQUESTS}/{queued['request_id']}/cancel")
        assert (status, cancelled["status"]) == (202, "CANCELLATION_REQUESTED")
        # no worker outlives its parent, however the parent goes
        os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
            time.sleep(0.1)
        assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
    finally:  # leak nothing, and signal only our own processes
        if served.proc.poll() is None:
            served.proc.kill()
        for pid in workers:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
