"""The container's health check: ``python -m mockserver.serving.health`` exits 0 when the
emulator of this state dir answers ``/_mock/health``, 1 otherwise.

It runs every few seconds inside the image, which has no curl, so it imports nothing of the
emulator: the listening port comes from the state dir's ``server.json`` (any ``--port``
works), the request goes to loopback with the standard library.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

SERVER_INFO_FILE = "server.json"  # mockserver.serving.server writes it once listening
TIMEOUT_SECONDS = 2.0


def healthy(state_dir: Path, token: str | None = None) -> bool:
    try:
        port = int(json.loads((state_dir / SERVER_INFO_FILE).read_text())["port"])
        request = urllib.request.Request(f"http://127.0.0.1:{port}/_mock/health")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def main() -> int:
    state_dir = Path(os.environ.get("RAY2_MOCK_STATE_DIR", ".ray2-mock"))
    return 0 if healthy(state_dir, os.environ.get("RAY2_MOCK_ADMIN_TOKEN")) else 1


if __name__ == "__main__":
    sys.exit(main())
