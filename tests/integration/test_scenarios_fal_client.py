"""Every scenario outcome, met by the real ``fal_client`` as it would meet it at fal.

Each test sets a scenario through the control API (or a scenario file), drives the unmodified
client, and checks what it raised and, in the journal, how many attempts it made: the client
retries 408/409/429, transport errors and nginx-style 502-504 ingress pages, and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import fal_client.client as fal_client_module
import httpx
import pytest

from mockserver import cli
from mockserver.chaos.parse import ScenarioError
from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config, route_fal_client

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
APP = "fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}
HTTPError = fal_client_module.FalClientHTTPError


@pytest.fixture
def control(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's retry sleeps (0.1 s doubling) cost time, not behaviour: skip them."""
    monkeypatch.setattr(fal_client_module, "_get_retry_delay", lambda *args, **kwargs: 0.0)


def scenario(control: httpx.Client, **spec: Any) -> dict[str, Any]:
    response = control.post("/_mock/scenarios", json=spec)
    assert response.status_code == 200, response.text
    return response.json()


def journal(control: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    return control.get("/_mock/journal", params=filters).json()["entries"]


def statuses(control: httpx.Client, **filters: Any) -> list[int | None]:
    return [e["status"] for e in journal(control, **filters)]


@contextlib.contextmanager
def serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> Iterator[tuple[fal_client.SyncClient, httpx.Client]]:
    with (
        BackgroundEmulator(make_config(tmp_path, **overrides)) as emulator,
        httpx.Client(base_url=emulator.url, timeout=30) as control,
    ):
        route_fal_client(monkeypatch, emulator.url)
        yield fal_client.SyncClient(key=TEST_KEY), control


# -- HTTP errors at submit --------------------------------------------------------------------


def test_ingress_5xx_is_retried_until_it_clears(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(
        control, times=2, match={"route": "submit"}, http_error={"status": 503, "ingress": True}
    )
    handle = fal.submit(T2V, arguments={"prompt": "eventually"})
    assert handle.request_id
    attempts = journal(control, route="submit")
    assert [e["status"] for e in attempts] == [503, 503, 200]
    assert "nginx" in attempts[0]["response_body"]
    assert "x-fal-request-id" not in attempts[0]["response_headers"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_with_a_request_id_is_final(
    fal: fal_client.SyncClient, control: httpx.Client, status: int
) -> None:
    scenario(control, match={"route": "submit"}, http_error={"status": status})
    with pytest.raises(HTTPError) as info:
        fal.submit(T2V, arguments={"prompt": "refused"})
    error = info.value
    assert error.status_code == status
    assert error.error_type == error.response.json()["error_type"]
    assert error.response_headers["x-fal-request-id"]
    assert statuses(control, route="submit") == [status], "never retried"


def test_5xx_without_request_id_and_not_nginx_is_final(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(
        control,
        match={"route": "submit"},
        http_error={"status": 502, "request_id": False, "message": "upstream says no"},
    )
    with pytest.raises(HTTPError) as info:
        fal.submit(T2V, arguments={"prompt": "refused"})
    assert (info.value.status_code, info.value.message) == (502, "upstream says no")
    assert statuses(control, route="submit") == [502]


def test_a_sync_run_429_is_retried(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    """fal's concurrency 429 (its docs: type ``concurrent_requests_limit``, header
    ``X-Fal-needs-retry: 1``; "the fal client handles retries automatically")."""
    scenario(control, times=2, match={"route": "run"}, http_error={"status": 429})
    assert "video" in fal.run(T2V, arguments={"prompt": "busy"})
    attempts = journal(control, route="run")
    assert [e["status"] for e in attempts] == [429, 429, 200]
    refused = attempts[0]
    assert refused["response_headers"]["x-fal-needs-retry"] == "1"
    assert refused["response_headers"]["x-fal-error-type"] == "concurrent_requests_limit"
    assert refused["response_body"]["error_type"] == "concurrent_requests_limit"
    assert "retry-after" not in refused["response_headers"], "fal documents no Retry-After"


def test_persistent_429_gives_up_after_ten_attempts(
    fal: fal_client.SyncClient, control: httpx.Client, no_backoff: None
) -> None:
    scenario(control, match={"route": "run"}, http_error={"status": 429, "retry_after": 5})
    with pytest.raises(HTTPError) as info:
        fal.run(T2V, arguments={"prompt": "never"})
    assert (info.value.status_code, info.value.error_type) == (429, "concurrent_requests_limit")
    assert info.value.response_headers["retry-after"] == "5", "still settable"
    assert statuses(control, route="run") == [429] * 10


def test_user_timeout_504_is_never_retried(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(
        control,
        match={"route": "submit"},
        http_error={
            "status": 504,
            "request_id": False,
            "ingress": True,
            "headers": {"X-Fal-Request-Timeout-Type": "user"},
        },
    )
    with pytest.raises(HTTPError) as info:
        fal.submit(T2V, arguments={"prompt": "late"})
    assert info.value.status_code == 504
    assert statuses(control, route="submit") == [504], "an nginx 504 is final once user-typed"


def test_drops_and_ingress_errors_are_retried(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(control, times=2, match={"route": "submit"}, drop=True)
    scenario(control, times=1, match={"route": "status"}, drop=True)
    ingress = {"status": 502, "ingress": True}
    scenario(control, times=1, match={"route": "result"}, http_error=ingress)
    result = fal.subscribe(T2V, arguments={"prompt": "flaky network"})
    assert result["video"]["content_type"] == "video/mp4"
    submits = journal(control, route="submit")
    assert [(e["status"], e["dropped"]) for e in submits] == [
        (None, True),
        (None, True),
        (200, False),
    ]
    polls = journal(control, route="status")
    assert polls[0]["dropped"] and all(e["status"] in (200, 202) for e in polls[1:])
    assert statuses(control, route="result") == [502, 200], "an ingress 502 is retried"


def test_drop_persisting_ends_in_a_transport_error(
    fal: fal_client.SyncClient, control: httpx.Client, no_backoff: None
) -> None:
    scenario(control, match={"route": "submit"}, drop=True)
    with pytest.raises(httpx.TransportError):
        fal.submit(T2V, arguments={"prompt": "offline"})
    assert statuses(control, route="submit") == [None] * 10


# -- fal errors at completion -----------------------------------------------------------------

COMPLETION_ERRORS = [
    # (error type, endpoint, status, error_type the client reports, body shape)
    ("content_policy_violation", T2V, 422, None, "model"),
    ("image_load_error", I2V, 422, None, "model"),
    ("internal_server_error", T2V, 500, None, "model"),
    ("generation_timeout", T2V, 504, None, "model"),
    ("downstream_service_unavailable", T2V, 500, None, "model"),  # fal's docs: 500
    ("runner_disconnected", T2V, 503, "runner_disconnected", "request"),
]


@pytest.mark.parametrize(("kind", "endpoint", "status", "error_type", "shape"), COMPLETION_ERRORS)
def test_errors_at_completion_surface_from_subscribe(
    fal: fal_client.SyncClient,
    control: httpx.Client,
    kind: str,
    endpoint: str,
    status: int,
    error_type: str | None,
    shape: str,
) -> None:
    scenario(control, match={"endpoint": endpoint, "input": {"prompt": "^doomed"}}, error=kind)
    arguments = {"prompt": "doomed clip", "image_url": "data:,x"} if endpoint == I2V else {}
    arguments.setdefault("prompt", "doomed clip")
    updates: list[Any] = []
    with pytest.raises(HTTPError) as info:
        fal.subscribe(endpoint, arguments=arguments, on_queue_update=updates.append)
    error = info.value
    assert error.status_code == status and error.error_type == error_type
    if shape == "model":
        assert error.response_headers["x-fal-retryable"] == "false"
        assert error.response_headers["x-fal-billable-units"] == "0"
        (detail,) = error.message
        assert detail["type"] == kind and detail["loc"][0] == "body" and detail["msg"]
        assert detail["url"] == f"https://docs.fal.ai/errors#{kind}"
        # live: the whole input at loc ["body"] and for a content-policy violation; a file
        # field's own value otherwise
        whole = len(detail["loc"]) == 1 or kind == "content_policy_violation"
        assert detail["input"] == (arguments if whole else arguments[detail["loc"][1]])
    else:
        assert error.message == "The runner disconnected unexpectedly"
        assert "x-fal-retryable" not in error.response_headers  # model errors only
    final = updates[-1]
    assert isinstance(final, fal_client.Completed)
    # a gateway error shows on the status; the app's own errors only in the result
    assert final.error_type == (kind if shape == "request" else None)
    assert statuses(control, route="result") == [status], "the result is fetched once"


def test_sync_run_returns_the_scenario_error(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(
        control,
        match={"route": "run"},
        error={"type": "generation_timeout", "message": "too slow", "retryable": True},
    )
    with pytest.raises(HTTPError) as info:
        fal.run(T2V, arguments={"prompt": "sync"})
    assert info.value.status_code == 504
    assert info.value.message[0]["msg"] == "too slow"
    assert info.value.response_headers["x-fal-retryable"] == "true"
    assert info.value.response_headers["x-fal-billable-units"] == "0"
    assert statuses(control, route="run") == [504]


# -- fal's own retries of queued requests --------------------------------------------------------
# fal's docs (2026): "If a runner fails during processing (503, 504, or a connection error), the
# request is automatically re-queued and retried up to 10 times" (queue); "queue-based requests
# are retried for up to 10 total attempts on server errors (503, 504, connection errors)",
# X-Fal-No-Retry "1", "true", "yes" to disable; X-Fal-Retry-Config "is ignored on shared or
# public model APIs" (platform headers); 500 and 502 "not retried", "4XX responses ... are never
# retried" (retries); "Automatic retries only apply to queue-based requests" (reliability).
FAL_ATTEMPTS = 10
RUNNER_GONE = {"type": "runner_disconnected"}


def attempts_of(control: httpx.Client, request_id: str) -> int:
    return int(control.get(f"/_mock/requests/{request_id}").json()["attempt"])


def remaining(control: httpx.Client, name: str) -> int:
    [found] = [s for s in control.get("/_mock/scenarios").json()["scenarios"] if s["name"] == name]
    return int(found["remaining"])


def test_a_runner_failure_is_retried_transparently(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    """Two attempts fail on a disconnected runner; fal re-queues the request and the third
    attempt's video is the result: the client sees a success."""
    scenario(control, name="flaky-runner", times=2, error=RUNNER_GONE)
    handle = fal.submit(T2V, arguments={"prompt": "third time lucky"})
    assert "video" in handle.get()
    assert isinstance(handle.status(), fal_client.Completed)
    assert attempts_of(control, handle.request_id) == 3
    assert remaining(control, "flaky-runner") == 0
    assert statuses(control, route="result") == [200]


@pytest.mark.parametrize("status", [503, 504])
def test_every_attempt_failing_ends_after_fals_ten(
    fal: fal_client.SyncClient, control: httpx.Client, status: int
) -> None:
    scenario(control, name="broken", times=50, error={**RUNNER_GONE, "status": status})
    handle = fal.submit(T2V, arguments={"prompt": "never works"})
    with pytest.raises(HTTPError) as info:
        handle.get()
    assert (info.value.status_code, info.value.error_type) == (status, "runner_disconnected")
    assert attempts_of(control, handle.request_id) == FAL_ATTEMPTS
    assert remaining(control, "broken") == 50 - FAL_ATTEMPTS


@pytest.mark.parametrize("status", [500, 502, 400])
def test_500_502_and_4xx_are_final(
    fal: fal_client.SyncClient, control: httpx.Client, status: int
) -> None:
    scenario(control, name="final", times=2, error={**RUNNER_GONE, "status": status})
    handle = fal.submit(T2V, arguments={"prompt": "not retried"})
    with pytest.raises(HTTPError) as info:
        handle.get()
    assert info.value.status_code == status
    assert attempts_of(control, handle.request_id) == 1
    assert remaining(control, "final") == 1


def test_the_apps_own_errors_are_final(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    """A model error is the app's answer (a 504 generation timeout included): not retried
    here [INF: the docs' 504 rule names the runner]."""
    scenario(control, name="model", times=2, error={"type": "generation_timeout"})
    handle = fal.submit(T2V, arguments={"prompt": "slow model"})
    with pytest.raises(HTTPError):
        handle.get()
    assert attempts_of(control, handle.request_id) == 1


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_x_fal_no_retry_makes_the_first_failure_final(
    fal: fal_client.SyncClient, control: httpx.Client, value: str
) -> None:
    scenario(control, name="flaky-runner", times=2, error=RUNNER_GONE)
    handle = fal.submit(
        T2V, arguments={"prompt": "no second chance"}, headers={"X-Fal-No-Retry": value}
    )
    with pytest.raises(HTTPError) as info:
        handle.get()
    assert (info.value.status_code, info.value.error_type) == (503, "runner_disconnected")
    assert attempts_of(control, handle.request_id) == 1
    assert remaining(control, "flaky-runner") == 1


def test_x_fal_retry_config_is_ignored_on_a_public_model(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(control, name="flaky-runner", times=2, error=RUNNER_GONE)
    no_retries = json.dumps({"server_error": {"retries": 0}, "connection_error": {"retries": 0}})
    handle = fal.submit(
        T2V, arguments={"prompt": "retried anyway"}, headers={"X-Fal-Retry-Config": no_retries}
    )
    assert "video" in handle.get()
    assert attempts_of(control, handle.request_id) == 3


def test_a_sync_run_is_never_retried(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    scenario(control, name="flaky-runner", times=2, match={"route": "run"}, error=RUNNER_GONE)
    with pytest.raises(HTTPError) as info:
        fal.run(T2V, arguments={"prompt": "direct"})
    assert info.value.status_code == 503
    assert remaining(control, "flaky-runner") == 1


def test_the_start_timeout_ends_the_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed attempt past the request's start deadline is not retried: fal's 504 with
    ``X-Fal-Request-Timeout-Type: user``. Meanwhile the retried request shows IN_QUEUE (INF)."""
    with serving(tmp_path, monkeypatch, progression="manual") as (fal, control):
        scenario(control, name="flaky-runner", error=RUNNER_GONE)
        handle = fal.submit(T2V, arguments={"prompt": "late retry"}, start_timeout=30)
        advance = f"/_mock/requests/{handle.request_id}/advance"
        control.post(advance)  # attempt 1 starts
        control.post(advance)  # ... and fails: back in the queue
        assert isinstance(handle.status(), fal_client.Queued)
        assert attempts_of(control, handle.request_id) == 2
        control.post(advance)  # attempt 2 starts in time
        control.post("/_mock/clock/advance", json={"seconds": 31})
        control.post(advance)  # ... and fails after the deadline
        final = handle.status()
        assert isinstance(final, fal_client.Completed) and final.error_type == "request_timeout"
        with pytest.raises(HTTPError) as info:
            handle.get()
        assert (info.value.status_code, info.value.error_type) == (504, "request_timeout")
        assert info.value.response_headers["x-fal-request-timeout-type"] == "user"
        assert attempts_of(control, handle.request_id) == 2


# -- X-Fal-Request-Timeout ----------------------------------------------------------------------


def test_start_timeout_fails_a_request_that_did_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch, progression="manual") as (fal, control):
        handle = fal.submit(T2V, arguments={"prompt": "stuck"}, start_timeout=30)
        assert isinstance(handle.status(), fal_client.Queued)
        control.post("/_mock/clock/advance", json={"seconds": 31})
        final = handle.status()
        assert isinstance(final, fal_client.Completed) and final.error_type == "request_timeout"
        with pytest.raises(HTTPError) as info:
            handle.get()
        error = info.value
        assert (error.status_code, error.error_type) == (504, "request_timeout")
        assert error.response_headers["x-fal-request-timeout-type"] == "user"
        assert error.response_headers["x-fal-error-type"] == "request_timeout"
        assert statuses(control, route="result") == [504], "a user timeout is not retried"
        submit = journal(control, route="submit")[0]
        assert submit["request_headers"]["x-fal-request-timeout"] == "30.0"


def test_start_timeout_does_not_limit_a_started_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch, progression="manual") as (fal, control):
        handle = fal.submit(T2V, arguments={"prompt": "started"}, start_timeout=30)
        control.post(f"/_mock/requests/{handle.request_id}/advance")
        control.post("/_mock/clock/advance", json={"seconds": 600})
        control.post(f"/_mock/requests/{handle.request_id}/advance")
        assert "video" in handle.get()


def test_sync_run_start_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, progression="manual") as (fal, control):
        started = time.monotonic()
        with pytest.raises(HTTPError) as info:
            fal.run(T2V, arguments={"prompt": "waits"}, start_timeout=1.2)
        assert time.monotonic() - started >= 1.2
        assert info.value.status_code == 504
        assert info.value.response_headers["x-fal-request-timeout-type"] == "user"
        assert statuses(control, route="run") == [504]


def test_malformed_timeout_header_is_a_400(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    with pytest.raises(HTTPError) as info:
        fal.submit(T2V, arguments={"prompt": "x prompt"}, headers={"X-Fal-Request-Timeout": "soon"})
    assert (info.value.status_code, info.value.error_type) == (400, "bad_request")
    assert "X-Fal-Request-Timeout" in info.value.message or "x-fal-request-timeout" in (
        info.value.message
    )
    assert statuses(control, route="submit") == [400]


# -- timing, streams, logs, output ------------------------------------------------------------


def test_slow_queue_reports_a_stuck_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch) as (fal, control):
        scenario(control, slow_queue={"seconds": 120, "position": 7})
        handle = fal.submit(T2V, arguments={"prompt": "patience"})
        assert [handle.status().position for _ in range(3)] == [7, 7, 7]
        control.post("/_mock/clock/advance", json={"seconds": 121})
        assert "video" in handle.get()


def test_latency_per_route(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    scenario(control, match={"route": "status"}, latency=0.3, times=1)
    handle = fal.submit(T2V, arguments={"prompt": "lag"})
    started = time.monotonic()
    handle.status()
    assert time.monotonic() - started >= 0.3
    (slow,) = journal(control, route="status")
    assert slow["duration_ms"] >= 300 and slow["faults"] == ["scenario-1"]


def test_slow_and_stalled_status_streams(tmp_path: Path) -> None:
    with (
        BackgroundEmulator(make_config(tmp_path, progression="manual")) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=5) as c,
    ):
        c.post("/_mock/scenarios", json={"stream": {"stall_after": 1}, "times": 1})
        c.post("/_mock/scenarios", json={"stream": {"delay": 0.25}})
        request_id = c.post(f"/{T2V}", json={"prompt": "watch"}).json()["request_id"]
        url = f"/{APP}/requests/{request_id}/status/stream"
        events: list[dict[str, Any]] = []
        with (
            pytest.raises(httpx.ReadTimeout),
            c.stream("GET", url, timeout=httpx.Timeout(5, read=1.0)) as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    c.post(f"/_mock/requests/{request_id}/advance")
        assert [e["status"] for e in events] == ["IN_QUEUE"], "silent after the first event"
        arrivals: list[float] = []
        with c.stream("GET", url) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    arrivals.append(time.monotonic())
                    if json.loads(line[5:])["status"] != "COMPLETED":
                        c.post(f"/_mock/requests/{request_id}/advance")
        assert len(arrivals) == 2  # IN_PROGRESS, then COMPLETED; then the stream closes
        assert arrivals[1] - arrivals[0] >= 0.25


def test_custom_logs_and_output(
    fal: fal_client.SyncClient, control: httpx.Client, tmp_path: Path
) -> None:
    clip = tmp_path / "given.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    scenario(
        control,
        match={"input": {"prompt": "^mine$"}},
        output={"video": str(clip), "file_name": "given.mp4"},
        logs=["warming up", {"message": "WARNING:app:almost there", "at": 0.9}],
    )
    updates: list[Any] = []
    result = fal.subscribe(
        T2V, arguments={"prompt": "mine"}, with_logs=True, on_queue_update=updates.append
    )
    video = result["video"]
    assert (video["file_name"], video["file_size"]) == ("given.mp4", clip.stat().st_size)
    assert httpx.get(video["url"]).content == clip.read_bytes()
    handle = fal.get_handle(T2V, journal(control, route="submit")[0]["request_id"])
    final = handle.status(with_logs=True)
    lines = [line["message"] for line in final.logs or []]
    assert lines.index("warming up") < lines.index("WARNING:app:almost there")


def test_header_match_and_recorded_headers(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(control, match={"headers": {"X-Test-Case": "^reject$"}}, error="no_media_generated")
    lifecycle = json.dumps({"expiration_duration_seconds": 3600})
    handle = fal.submit(
        T2V,
        arguments={"prompt": "kept"},
        hint="gpu-a",
        headers={"X-Fal-Object-Lifecycle-Preference": lifecycle},
    )
    assert "video" in handle.get()
    record = control.get(f"/_mock/requests/{handle.request_id}").json()
    assert record["headers"]["x-fal-runner-hint"] == "gpu-a"
    assert record["headers"]["x-fal-object-lifecycle-preference"] == lifecycle
    rejected = fal.submit(T2V, arguments={"prompt": "x prompt"}, headers={"X-Test-Case": "reject"})
    with pytest.raises(HTTPError) as info:
        rejected.get()
    assert info.value.message[0]["type"] == "no_media_generated"


# -- scenario files, the API, random faults ---------------------------------------------------

SCENARIO_FILE = """\
scenarios:
  - name: moderated
    match: {input: {prompt: "(?i)forbidden"}}
    error: content_policy_violation
  - name: warm-up
    times: 1
    match: {route: submit}
    http_error: {status: 503, ingress: true}
"""


def test_scenario_file_at_start_and_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(SCENARIO_FILE)
    with serving(tmp_path, monkeypatch, scenarios_path=path) as (fal, control):
        fal.submit(T2V, arguments={"prompt": "hello"})
        assert statuses(control, route="submit") == [503, 200]
        with pytest.raises(HTTPError) as info:
            fal.subscribe(T2V, arguments={"prompt": "Forbidden words"})
        assert info.value.status_code == 422
        scenario(control, name="extra", drop=True)
        listed = control.get("/_mock/scenarios").json()["scenarios"]
        assert [(s["name"], s["hits"]) for s in listed] == [
            ("moderated", 1),
            ("warm-up", 1),
            ("extra", 0),
        ]
        control.post("/_mock/reset")
        listed = control.get("/_mock/scenarios").json()["scenarios"]
        assert [(s["name"], s["hits"], s["remaining"]) for s in listed] == [
            ("moderated", 0, None),
            ("warm-up", 0, 1),
        ]


def test_bad_scenario_files_are_rejected_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("scenarios:\n  - error: meteor_strike\n  - http_error: {status: 200}\n")
    with pytest.raises(ScenarioError):
        BackgroundEmulator(make_config(tmp_path, scenarios_path=path))
    state = tmp_path / "cli-state"
    code = cli.main(
        [
            "serve",
            "--scenarios",
            str(path),
            "--port",
            "0",
            "--tls-port",
            "0",
            "--store",
            "memory",
            "--state-dir",
            str(state),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err
    assert "scenarios[0].error.type: 'meteor_strike' is not one of" in err
    assert "scenarios[1].http_error.status: 200 is less than the minimum of 400" in err


def test_scenario_api_validation_and_deletion(control: httpx.Client) -> None:
    refused = control.post("/_mock/scenarios", json={"http_error": {"status": "soon"}})
    assert refused.status_code == 422
    (detail,) = refused.json()["detail"]
    assert detail["loc"] == ["body", "http_error", "status"] and "is not of type" in detail["msg"]
    refused = control.post("/_mock/scenarios", json={"scenarios": [{"latency": -1}]})
    assert refused.json()["detail"][0]["loc"] == ["body", "scenarios", 0, "latency"]
    assert control.post("/_mock/scenarios", content=b"{").status_code == 422
    added = control.post(
        "/_mock/scenarios",
        json={
            "scenarios": [{"drop": True}, {"name": "lag", "latency": 1}],
            "fault_rate": 0.5,
            "seed": 9,
        },
    ).json()
    assert added["added"] == ["scenario-1", "lag"]
    assert added["random"]["seed"] == 9 and added["random"]["rates"]["drop"] == 0.5
    assert control.delete("/_mock/scenarios/lag").json() == {"deleted": "lag"}
    assert control.delete("/_mock/scenarios/lag").status_code == 404
    assert control.delete("/_mock/scenarios").json() == {"cleared": 1}
    assert control.get("/_mock/scenarios").json() == {"scenarios": [], "random": None}


def run_chaos(tmp_path: Path, seed: int) -> list[tuple[int | None, list[str]]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom")
    config = make_config(tmp_path / str(seed), seed=seed, fault_rate=0.15)
    with (
        BackgroundEmulator(config) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=10) as c,
    ):
        c.post("/_mock/scenarios", json={"name": "no-render", "output": {"video": str(clip)}})
        for _ in range(40):
            with contextlib.suppress(httpx.TransportError):
                c.post(f"/{T2V}", json={"prompt": "chaos"})
        metrics = c.get("/_mock/metrics").json()["faults"]
        entries = journal(c, route="submit")
        assert sum(metrics.values()) == sum(len(e["faults"]) for e in entries)
        return [(e["status"], [f for f in e["faults"] if f != "no-render"]) for e in entries]


def test_same_seed_same_fault_sequence(tmp_path: Path) -> None:
    first, again, other = (
        run_chaos(tmp_path, 7),
        run_chaos(tmp_path / "b", 7),
        run_chaos(tmp_path, 8),
    )
    assert first == again
    assert first != other
    assert any(faults for _, faults in first), "a 15% rate per kind fires within 40 submits"


def test_input_rules_reach_later_routes_of_the_same_request(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    """A rule on the status route with an input condition judges the request's stored input
    (the engine looks the record up): only the matching request's polls are touched."""
    scenario(control, match={"route": "status", "input": {"prompt": "^watched"}}, latency=0.01)
    watched = fal.submit(T2V, arguments={"prompt": "watched clip"})
    other = fal.submit(T2V, arguments={"prompt": "other clip"})
    watched.status()
    other.status()
    fired = {entry["request_id"]: entry["faults"] for entry in journal(control, route="status")}
    assert fired[watched.request_id] and not fired[other.request_id]


def test_after_lets_calls_pass_before_the_scenario_fires(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    scenario(control, match={"route": "status"}, after=2, times=1, http_error={"status": 500})
    handle = fal.submit(T2V, arguments={"prompt": "patient"})
    answers = [
        httpx.get(f"{control.base_url}/{APP}/requests/{handle.request_id}/status", headers=AUTH)
        for _ in range(4)
    ]
    codes = [a.status_code for a in answers]
    assert codes[2] == 500 and 500 not in codes[:2] + codes[3:], codes


def test_a_cut_stream_ends_after_its_first_event(tmp_path: Path) -> None:
    with (
        BackgroundEmulator(make_config(tmp_path, progression="manual")) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=10) as c,
    ):
        c.post("/_mock/scenarios", json={"stream": {"cut_after": 1}, "times": 1})
        request_id = c.post(f"/{T2V}", json={"prompt": "cut short"}).json()["request_id"]
        url = f"/{APP}/requests/{request_id}/status/stream"
        events = []
        with contextlib.suppress(httpx.RemoteProtocolError), c.stream("GET", url) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:])["status"])
        assert events == ["IN_QUEUE"]  # then the connection closed, not COMPLETED
        [entry] = c.get("/_mock/journal", params={"route": "stream"}).json()["entries"]
        assert entry["dropped"]
