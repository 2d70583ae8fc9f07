"""Client checks against the in-process emulator: the official clients and a reference client
pass; deliberately broken clients are caught, each with a readable traffic diff."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import fal_client
import pytest

from contracts.client.adapters import (
    CallableClient,
    ClientAdapter,
    ClientCall,
    CommandClient,
    FalClient,
    HttpxClient,
    JsClient,
)
from contracts.client.checks import CLIENT_CHECK_NAMES, run_client_checks
from contracts.server.suite import CaseResult
from contracts.server.targets import Target, open_target

COMMAND = Path(__file__).with_name("command_client.py")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with open_target("mock", state_dir=tmp_path_factory.mktemp("clients")) as running:
        yield running


def outcomes(results: list[CaseResult]) -> dict[str, str]:
    return {r.name.split(": ", 1)[1]: r.outcome for r in results}


def details(results: list[CaseResult]) -> str:
    return "\n".join(r.line() for r in results)


def run(adapter: ClientAdapter, target: Target, only: list[str] | None = None) -> list[CaseResult]:
    if (reason := adapter.unavailable()) is not None:
        pytest.skip(f"[required tool] {reason}")  # every adapter the tests use is required
    return run_client_checks(adapter, target, only=only)


@pytest.mark.parametrize(
    "adapter", [HttpxClient(), FalClient("sync"), JsClient()], ids=["httpx", "fal-sync", "js"]
)
def test_client_passes_every_check(adapter: ClientAdapter, target: Target) -> None:
    results = run(adapter, target)
    assert outcomes(results) == dict.fromkeys(CLIENT_CHECK_NAMES, "passed"), details(results)


def user_function(call: ClientCall) -> object:
    """What a user's own code might look like: the official client, routed by argument."""
    from contracts.client.adapters import _fal_routed

    with _fal_routed(call.queue_url, call.run_url):
        return fal_client.SyncClient(key=call.key).subscribe(
            call.endpoint, arguments=call.arguments
        )


@pytest.mark.parametrize(
    "adapter",
    [
        FalClient("async"),
        CallableClient(user_function, name="user function"),
    ],
    ids=["fal-async", "callable"],
)
def test_other_adapters_drive_their_client(adapter: ClientAdapter, target: Target) -> None:
    checks = ["valid_call", "surfaces_422", "survives_dropped_connection"]
    results = run(adapter, target, checks)
    assert outcomes(results) == dict.fromkeys(checks, "passed"), details(results)


def test_a_command_client_is_driven_and_its_missing_retry_is_caught(target: Target) -> None:
    """tests/contracts/command_client.py polls correctly but never retries a dropped
    connection: the first two checks pass, the third names what it observed."""
    adapter = CommandClient([sys.executable, str(COMMAND)], name="command")
    checks = ["valid_call", "surfaces_422", "survives_dropped_connection"]
    results = run(adapter, target, checks)
    assert outcomes(results) == {
        "valid_call": "passed",
        "surfaces_422": "passed",
        "survives_dropped_connection": "failed",
    }, details(results)
    assert "RemoteProtocolError" in results[2].detail or "exit 1" in results[2].detail


def test_js_streaming_mode_does_not_survive_a_cut_stream(target: Target) -> None:
    """A finding, not a wish: @fal-ai/client 1.10.1 in streaming mode rejects subscribe when
    the status stream's connection drops, where polling mode retries. The check reports it."""
    results = run(JsClient(streaming=True), target, ["valid_call", "survives_dropped_connection"])
    assert outcomes(results) == {"valid_call": "passed", "survives_dropped_connection": "failed"}
    report = results[1].detail
    assert "status/stream [Key ****-key] -> dropped" in report
    assert "the client failed: raised terminated" in report


# -- deliberately broken clients -------------------------------------------------------------


def test_a_wrong_auth_header_is_caught(target: Target) -> None:
    broken = HttpxClient(name="bearer", auth=lambda key: f"Bearer {key}")
    [result] = run(broken, target, ["valid_call"])
    assert result.outcome == "failed"
    assert "Authorization 'Bearer ****-key', expected 'Key ****-key'" in result.detail
    # the diff shows the header; the emulator (given a key) refuses the wrong scheme
    assert "-POST /fal-ai/luma-dream-machine/ray-2 [Key ****-key] -> 200" in result.detail
    assert "+POST /fal-ai/luma-dream-machine/ray-2 [Bearer ****-key] -> 401" in result.detail


def test_polling_without_delay_is_caught(target: Target) -> None:
    [result] = run(HttpxClient(name="eager", poll_interval=0), target, ["valid_call"])
    assert result.outcome == "failed"
    assert "ms after the previous one" in result.detail, result.detail
    assert (
        "-GET /fal-ai/luma-dream-machine/requests/{id}/status [Key ****-key] -> 202  (xN, >= 50 ms"
        in result.detail
    )


def test_ignoring_a_422_is_caught(target: Target) -> None:
    [result] = run(HttpxClient(name="deaf", ignore_422=True), target, ["surfaces_422"])
    assert result.outcome == "failed"
    assert "did not surface the 422" in result.detail
    assert "+POST /fal-ai/luma-dream-machine/ray-2 [Key ****-key] -> 422" not in result.detail


def test_retrying_without_backoff_is_caught(target: Target) -> None:
    impatient = HttpxClient(name="impatient", backoff=0)
    [result] = run(impatient, target, ["backs_off_on_429"])
    assert result.outcome == "failed"
    assert "without backing off" in result.detail


def test_a_client_that_queues_when_asked_to_run_is_caught(target: Target) -> None:
    def always_subscribe(call: ClientCall) -> object:
        return (
            HttpxClient()
            .call(
                ClientCall(
                    call.endpoint, call.arguments, call.queue_url, call.run_url, call.key, "queue"
                )
            )
            .output
        )

    [result] = run(CallableClient(always_subscribe, name="queues"), target, ["sync_run"])
    assert result.outcome == "failed"
    assert "0 run request(s), expected 1" in result.detail
    assert "used the submit API for a run call" in result.detail
