"""A stand-alone queue client speaking the ``--client-cmd`` protocol (what a user would write).

Reads ``{"endpoint", "arguments", "queue_url", "run_url", "key", "mode"}`` on stdin and prints
``{"output": ...}`` or ``{"error": {"status", "detail", "message"}}``.
"""

import json
import sys
import time

import httpx


def main() -> None:
    call = json.load(sys.stdin)
    headers = {"Authorization": f"Key {call['key']}"}
    with httpx.Client(headers=headers, timeout=60) as http:
        if call["mode"] == "run":
            response = http.post(f"{call['run_url']}/{call['endpoint']}", json=call["arguments"])
        else:
            response = http.post(f"{call['queue_url']}/{call['endpoint']}", json=call["arguments"])
            if response.status_code == 200:
                urls = response.json()
                while http.get(urls["status_url"]).json()["status"] != "COMPLETED":
                    time.sleep(0.1)
                response = http.get(urls["response_url"])
    if response.status_code != 200:
        detail = response.json().get("detail")
        error = {"status": response.status_code, "detail": detail, "message": str(detail)}
        print(json.dumps({"error": error}))
        sys.exit(1)
    print(json.dumps({"output": response.json()}))


if __name__ == "__main__":
    main()
