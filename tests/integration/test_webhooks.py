"""fal_webhook delivery to a real local HTTP receiver, verified independently of the emulator.

The receiver checks signatures the way a production receiver does: it fetches the JWKS over
HTTP and verifies with ``cryptography``'s Ed25519 directly, rebuilding fal's documented
message itself (nothing from ``mockserver`` is used for verification).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mockserver.app import create_app
from mockserver.clock import ManualClock
from mockserver.serving.background import BackgroundEmulator
from mockserver.webhooks.dispatch import blocked_reason
from mockserver.webhooks.keys import KEY_FILE, WebhookSigner
from tests.support import (
    TEST_KEY,
    fal_js_153_payload_error,
    make_config,
    route_fal_client,
    wait_until,
    written_like_the_webhook_capture,
)

T2V = "fal-ai/luma-dream-machine/ray-2"
PROMPT = {"prompt": "webhook"}  # one prompt: each emulator renders one clip, shared by its tests


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    emulated_at: float | None = None
    """The emulator's clock when the delivery arrived (set when the receiver is given one)."""


@dataclass
class Receiver:
    """Answers each path from a script of statuses (the last one repeats); 0 means hang."""

    url: str
    scripts: dict[str, list[int]] = field(default_factory=dict)
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hang_seconds: float = 1.5
    """How long a 0 in a script hangs: longer than the emulator's 1 s timeout in most tests."""
    clock: Callable[[], float] | None = None
    """The emulator's clock, to stamp each arrival in emulated time."""

    def at(self, path: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.received if d.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 15.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{path}: {len(self.at(path))} of {count} arrived"
            time.sleep(0.02)
        return self.at(path)


@contextlib.contextmanager
def running_receiver(host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A receiver on ``host`` (``0.0.0.0`` for senders in a container) on a free port."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                script = state.scripts.setdefault(self.path, [200])
                status = script.pop(0) if len(script) > 1 else script[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                at = state.clock() if state.clock else None
                state.received.append(Delivery(self.path, headers, body, status, at))
            if status == 0:
                time.sleep(state.hang_seconds)
                return
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

        def handle(self) -> None:
            # The emulator may give up waiting (timeout test) before the answer is written.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

    server = ThreadingHTTPServer((host, 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


def fetch_keys(jwks_url: str, **headers: str) -> list[Ed25519PublicKey]:
    response = httpx.get(jwks_url, headers=headers)
    response.raise_for_status()
    keys = []
    for jwk in response.json()["keys"]:
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def verified(delivery: Delivery, keys: list[Ed25519PublicKey]) -> bool:
    """A production receiver's check: headers, ±300 s window, message, any published key."""
    h = delivery.headers
    request_id = h["x-fal-webhook-request-id"]
    user_id = h["x-fal-webhook-user-id"]
    timestamp = h["x-fal-webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    digest = hashlib.sha256(delivery.body).hexdigest()
    message = f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()
    for key in keys:
        try:
            key.verify(bytes.fromhex(h["x-fal-webhook-signature"]), message)
            return True
        except InvalidSignature:
            continue
    return False


def routed_client(emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    route_fal_client(monkeypatch, emulator.url)
    return fal_client.SyncClient(key=TEST_KEY)


def deliveries(emulator: BackgroundEmulator, request_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{emulator.url}/_mock/webhooks/deliveries?request_id={request_id}")
    return response.json()["deliveries"]


def test_signed_delivery_verifies_with_the_published_jwks(
    fal: fal_client.SyncClient, emulator: BackgroundEmulator, receiver: Receiver
) -> None:
    handle = fal.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/ok")
    result = handle.get()
    [delivery] = receiver.wait_for("/ok", 1)
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["x-fal-webhook-request-id"] == handle.request_id
    assert json.loads(delivery.body) == {
        "request_id": handle.request_id,
        "gateway_request_id": handle.request_id,
        "status": "OK",
        "error": None,
        "payload": result,  # the same video URL polling returned
    }
    assert written_like_the_webhook_capture(delivery.body)  # sorted keys, json.dumps spacing
    local_keys = fetch_keys(f"{emulator.url}/_mock/webhooks/jwks.json")
    # fal's docs (2026): "https://rest.fal.ai/.well-known/jwks.json"; older docs and verifiers
    # name rest.alpha.fal.ai: both hosts answer
    fal_keys = fetch_keys(f"{emulator.url}/.well-known/jwks.json", host="rest.fal.ai")
    alpha_keys = fetch_keys(f"{emulator.url}/.well-known/jwks.json", host="rest.alpha.fal.ai")
    raw = [k.public_bytes_raw() for k in local_keys]
    assert (
        raw
        == [k.public_bytes_raw() for k in fal_keys]
        == [k.public_bytes_raw() for k in alpha_keys]
    )
    assert verified(delivery, fal_keys)
    tampered = Delivery(delivery.path, delivery.headers, delivery.body + b" ", 200)
    assert not verified(tampered, fal_keys)
    [attempt] = deliveries(emulator, handle.request_id)
    assert (attempt["attempt"], attempt["status_code"], attempt["outcome"]) == (1, 200, "delivered")


def test_an_answer_that_is_not_json_reaches_the_webhook_as_payload_error(
    fal: fal_client.SyncClient, emulator: BackgroundEmulator, receiver: Receiver
) -> None:
    """An app that answers a page instead of JSON: fal's webhook carries ``payload: null`` and
    its ``payload_error`` (the text of a live delivery, fal-js issue #153)."""
    page = "<html><body><h1>404 Not Found</h1></body></html>"
    error = {"type": "no_media_generated", "status": 404, "body": page}
    scenario = {"match": {"input": {"prompt": "^not json$"}}, "error": error}
    assert httpx.post(f"{emulator.url}/_mock/scenarios", json=scenario).status_code == 200
    handle = fal.submit(T2V, arguments={"prompt": "not json"}, webhook_url=f"{receiver.url}/txt")
    [delivery] = receiver.wait_for("/txt", 1)
    assert json.loads(delivery.body) == {
        "request_id": handle.request_id,
        "gateway_request_id": handle.request_id,
        "status": "ERROR",
        "error": "Unexpected status code: 404",
        "payload": None,
        "payload_error": fal_js_153_payload_error(),
    }
    assert written_like_the_webhook_capture(delivery.body)
    result = httpx.get(
        f"{emulator.url}/fal-ai/luma-dream-machine/requests/{handle.request_id}",
        headers={"Authorization": f"Key {TEST_KEY}"},
    )
    assert (result.status_code, result.content) == (404, page.encode())


def test_a_retried_request_is_delivered_once_with_its_last_gateway_request_id(
    fal: fal_client.SyncClient, emulator: BackgroundEmulator, receiver: Receiver
) -> None:
    """fal's webhooks docs: "if the request failed and was retried, gateway_request_id will
    have the value of the last tried request, while request_id will be the value used in the
    queue API". Two attempts fail on a disconnected runner, the third succeeds."""
    error = {"type": "runner_disconnected"}
    scenario = {"times": 2, "match": {"input": {"prompt": "^retried$"}}, "error": error}
    assert httpx.post(f"{emulator.url}/_mock/scenarios", json=scenario).status_code == 200
    handle = fal.submit(T2V, arguments={"prompt": "retried"}, webhook_url=f"{receiver.url}/re")
    [delivery] = receiver.wait_for("/re", 1)
    body = json.loads(delivery.body)
    assert (body["status"], body["request_id"]) == ("OK", handle.request_id)
    last = body["gateway_request_id"]
    assert last != handle.request_id and str(uuid.UUID(last)) == last
    record = httpx.get(f"{emulator.url}/_mock/requests/{handle.request_id}").json()
    assert (record["attempt"], record["gateway_request_id"]) == (3, last)
    assert len(deliveries(emulator, handle.request_id)) == 1  # the failed attempts sent none


@pytest.fixture
def retrying(tmp_path: Path) -> Iterator[BackgroundEmulator]:
    config = make_config(
        tmp_path,
        webhook_max_retries=2,
        webhook_retry_base_seconds=0.05,
        webhook_timeout_seconds=1.0,  # generous: a loaded CI machine still answers in time
    )
    with BackgroundEmulator(config) as running:
        yield running


# fal's webhooks docs (2026): "Initial webhook deliveries have a 15-second timeout. If a
# delivery exceeds this time or fails to deliver the payload, it will retry 10 times in the
# span of 2 hours."
DOCUMENTED_TIMEOUT_SECONDS = 15
DOCUMENTED_RETRIES = 10
DOCUMENTED_SPAN_SECONDS = 2 * 3600
SPAN_LEEWAY = 0.1
""""In the span of 2 hours", read as within 10%: the spacing itself is not published."""


def test_delivery_follows_fals_documented_retry_policy(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of the box (nothing about webhooks configured): a first delivery that hangs is cut at
    15 s, then 10 retries follow, the last about 2 hours after the first, then no more."""
    clock = ManualClock()
    config = make_config(tmp_path)
    with BackgroundEmulator(config, create_app(config, clock=clock)) as emulator:
        client = routed_client(emulator, monkeypatch)
        receiver.clock = clock.now
        receiver.hang_seconds = DOCUMENTED_TIMEOUT_SECONDS + 5
        receiver.scripts["/policy"] = [0, 500]
        handle = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/policy")
        wait_until(lambda: len(deliveries(emulator, handle.request_id)) == 1, timeout=60)
        [first] = deliveries(emulator, handle.request_id)
        assert first["status_code"] is None and "Timeout" in first["error"]
        took = first["duration_ms"] / 1000
        assert DOCUMENTED_TIMEOUT_SECONDS <= took < DOCUMENTED_TIMEOUT_SECONDS + 1.5
        for _ in range(2 * DOCUMENTED_RETRIES):  # bounded: a runaway retry loop fails below
            rows = deliveries(emulator, handle.request_id)
            if rows[-1]["next_retry_in"] is None:
                break
            emulator.call(clock.advance, rows[-1]["next_retry_in"])
            made = len(rows)
            wait_until(lambda: len(deliveries(emulator, handle.request_id)) > made)  # noqa: B023
        arrivals = [d.emulated_at or 0.0 for d in receiver.at("/policy")]
        assert len(arrivals) == 1 + DOCUMENTED_RETRIES
        assert rows[-1]["outcome"] == "gave_up"
        span = arrivals[-1] - arrivals[0]
        assert abs(span - DOCUMENTED_SPAN_SECONDS) <= SPAN_LEEWAY * DOCUMENTED_SPAN_SECONDS


def test_failing_twice_then_succeeding_gets_exactly_one_success(
    retrying: BackgroundEmulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = routed_client(retrying, monkeypatch)
    receiver.scripts["/flaky"] = [500, 503, 200]
    handle = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/flaky")
    handle.get()
    receiver.wait_for("/flaky", 3)
    wait_until(
        lambda: (
            [d["outcome"] for d in deliveries(retrying, handle.request_id)][-1:] == ["delivered"]
        )
    )
    # nothing more can arrive: the dispatcher holds no retry for it (state, not a time window)
    assert deliveries(retrying, handle.request_id)[-1]["next_retry_in"] is None
    got = receiver.at("/flaky")
    assert [d.answered for d in got] == [500, 503, 200]
    keys = fetch_keys(f"{retrying.url}/_mock/webhooks/jwks.json")
    assert all(verified(d, keys) for d in got)
    assert len({d.body for d in got}) == 1  # the same payload each time, signed afresh
    attempts = deliveries(retrying, handle.request_id)
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [
        (1, 500, "retrying"),
        (2, 503, "retrying"),
        (3, 200, "delivered"),
    ]


def test_retries_are_bounded_and_timeouts_count_as_failures(
    retrying: BackgroundEmulator, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = routed_client(retrying, monkeypatch)
    receiver.scripts["/down"] = [500]
    receiver.scripts["/slow"] = [0, 200]
    down = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/down")
    slow = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/slow")
    receiver.wait_for("/down", 3)
    receiver.wait_for("/slow", 2)
    wait_until(lambda: len(deliveries(retrying, down.request_id)) == 3)
    wait_until(lambda: len(deliveries(retrying, slow.request_id)) == 2)
    assert deliveries(retrying, down.request_id)[-1]["next_retry_in"] is None  # no more tries
    assert len(receiver.at("/down")) == 3  # 1 + webhook_max_retries, then it gives up
    outcomes = [a["outcome"] for a in deliveries(retrying, down.request_id)]
    assert outcomes == ["retrying", "retrying", "gave_up"]
    first, second = deliveries(retrying, slow.request_id)
    assert first["status_code"] is None and "Timeout" in first["error"]
    assert (second["status_code"], second["outcome"]) == (200, "delivered")


def test_retry_waits_run_on_the_emulator_clock(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, webhook_retry_base_seconds=600.0)
    with BackgroundEmulator(config) as emulator:
        client = routed_client(emulator, monkeypatch)
        receiver.scripts["/later"] = [500, 200]
        handle = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/later")
        receiver.wait_for("/later", 1)
        [first] = deliveries(emulator, handle.request_id)
        assert (first["outcome"], first["next_retry_in"]) == ("retrying", 600.0)
        emulator.call(emulator.services.clock.advance, 600)  # ten minutes pass at once
        receiver.wait_for("/later", 2)
        assert [d.answered for d in receiver.at("/later")] == [500, 200]


def test_invalid_input_is_accepted_and_its_webhook_carries_the_422(
    fal: fal_client.SyncClient, receiver: Receiver
) -> None:
    """Live fal validates when the request runs: the webhook brings the app's 422 detail."""
    handle = fal.submit(
        T2V,
        arguments={"prompt": "a fox", "aspect_ratio": "1:1"},
        webhook_url=f"{receiver.url}/invalid",
    )
    [delivery] = receiver.wait_for("/invalid", 1)
    body = json.loads(delivery.body)
    assert (body["status"], body["error"]) == ("ERROR", "Unexpected status code: 422")
    assert body["request_id"] == handle.request_id
    [entry] = body["payload"]["detail"]
    assert (entry["type"], entry["loc"]) == ("literal_error", ["body", "aspect_ratio"])


def test_cancelled_request_delivers_an_error_payload(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with BackgroundEmulator(make_config(tmp_path, timing="realistic")) as emulator:
        client = routed_client(emulator, monkeypatch)
        handle = client.submit(T2V, arguments=PROMPT, webhook_url=f"{receiver.url}/err")
        handle.cancel()
        [delivery] = receiver.wait_for("/err", 1)
        assert json.loads(delivery.body) == {
            "request_id": handle.request_id,
            "gateway_request_id": handle.request_id,
            "status": "ERROR",
            "error": "Request cancelled by the client.",
            "payload": {
                "detail": "Request cancelled by the client.",
                "error_type": "client_cancelled",
            },
        }
        assert verified(delivery, fetch_keys(f"{emulator.url}/_mock/webhooks/jwks.json"))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com/hook", "--webhook-allow example.com"),
        ("https://10.0.0.1/hook", "--webhook-allow 10.0.0.1"),
        ("ftp://127.0.0.1/hook", "not an http(s) URL"),
        ("not a url", "not a URL"),
        ("http://127.0.0.1:99999/hook", "not a URL"),
    ],
)
def test_an_undeliverable_webhook_is_accepted_and_its_delivery_blocked(
    fal: fal_client.SyncClient,
    emulator: BackgroundEmulator,
    url: str,
    says: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Live fal is not known to refuse any webhook URL: the submit is accepted and the request
    runs; the emulator only holds back the delivery, and says so where a developer looks."""
    with caplog.at_level(logging.WARNING, logger="mockserver.webhooks"):
        handle = fal.submit(T2V, arguments=PROMPT, webhook_url=url)  # raises on any non-2xx
        assert "video" in handle.get()
        wait_until(lambda: deliveries(emulator, handle.request_id) != [])
    [row] = deliveries(emulator, handle.request_id)
    assert (row["outcome"], row["url"], row["status_code"]) == ("blocked", url, None)
    assert says in row["error"]
    [warning] = [r for r in caplog.records if handle.request_id in r.getMessage()]
    assert warning.levelno == logging.WARNING and says in warning.getMessage()
    journal = httpx.get(
        f"{emulator.url}/_mock/journal", params={"request_id": handle.request_id}
    ).json()["entries"]
    assert journal and all(
        any(says in note for note in entry["emulator_notes"]) for entry in journal
    )
    shown = httpx.get(f"{emulator.url}/_mock/ui/requests/{handle.request_id}").json()
    assert any(says in note for note in shown["notes"])


def test_webhook_allow_widens_the_loopback_rule() -> None:
    for url in (
        "http://127.0.0.1/h",
        "http://127.8.0.1:9/h",
        "http://[::1]/h",
        "http://localhost/h",
    ):
        assert blocked_reason(url, ()) is None
    assert blocked_reason("https://hooks.example.com/h", ()) is not None
    assert blocked_reason("http://hooks.localhost/h", ()) is not None  # would need DNS
    assert blocked_reason("https://Hooks.Example.com/h", ("hooks.example.com",)) is None
    assert blocked_reason("https://other.example.com/h", ("hooks.example.com",)) is not None


def test_signing_key_persists_in_the_state_dir(tmp_path: Path) -> None:
    first = WebhookSigner.load_or_create(tmp_path)
    again = WebhookSigner.load_or_create(tmp_path)
    assert first.kid == again.kid and first.public_bytes == again.public_bytes
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / "other").mkdir()
    assert WebhookSigner.load_or_create(tmp_path / "other").kid != first.kid
