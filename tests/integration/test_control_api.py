"""The ``/_mock`` control API over a real socket: journal, clock, reset, progression, metrics."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import TEST_KEY, make_config, route_fal_client

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
APP = "fal-ai/luma-dream-machine"
AUTH = {"Authorization": f"Key {TEST_KEY}"}


@contextlib.contextmanager
def serving(tmp_path: Path, **overrides: Any) -> Iterator[tuple[BackgroundEmulator, httpx.Client]]:
    """An emulator with these settings and a client of its plain listener (fal key sent)."""
    with (
        BackgroundEmulator(make_config(tmp_path, **overrides)) as emulator,
        httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30) as client,
    ):
        yield emulator, client


def wait_for_status(client: httpx.Client, url: str, wanted: str, timeout: float = 30) -> None:
    """Poll until ``wanted``: completion also waits for the video to finish rendering."""
    deadline = time.monotonic() + timeout
    while (status := client.get(url).json()["status"]) != wanted:
        assert time.monotonic() < deadline, f"still {status}, wanted {wanted}"
        time.sleep(0.02)


@pytest.fixture
def control(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=30) as client:
        yield client


def journal(client: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/_mock/journal", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_journal_records_what_the_real_client_did(
    fal: fal_client.SyncClient, control: httpx.Client
) -> None:
    arguments = {"prompt": "journal me", "resolution": "720p"}
    handle = fal.submit(T2V, arguments=arguments, hint="runner-7")
    handle.get()
    entries = journal(control)
    submit = entries[0]
    assert (submit["method"], submit["route"], submit["path"]) == ("POST", "submit", f"/{T2V}")
    assert submit["endpoint_id"] == T2V and submit["request_id"] == handle.request_id
    assert submit["status"] == 200 and submit["finished"] and submit["duration_ms"] >= 0
    assert submit["request_body"] == arguments
    assert submit["response_body"]["request_id"] == handle.request_id
    assert submit["request_headers"]["x-fal-runner-hint"] == "runner-7"
    assert submit["response_headers"]["x-fal-request-id"] == handle.request_id
    assert submit["timestamp"].startswith("20")
    polls = [e for e in entries if e["route"] == "status"]
    assert polls and all(e["request_id"] == handle.request_id for e in polls)
    assert all(e["endpoint_id"] == T2V for e in polls), "polls name the endpoint learnt at submit"
    assert polls[0]["query"] == "logs=false"
    result = [e for e in entries if e["route"] == "result"]
    assert len(result) == 1 and result[0]["response_body"]["video"]["content_type"] == "video/mp4"
    assert not any(e["route"] == "control" for e in entries), "control calls are not journaled"


def test_keys_are_masked_everywhere(tmp_path: Path) -> None:
    secret = "sk-live:0123456789abcdef"
    with serving(tmp_path) as (_, client):
        auth = {"Authorization": f"Key {secret}"}
        submitted = client.post(f"/{T2V}", json={"prompt": "masked"}, headers=auth).json()
        client.get(f"/{APP}/requests/{submitted['request_id']}/status", headers=auth)
        dump = client.get("/_mock/journal").text + client.get("/_mock/requests").text
        assert secret not in dump and "0123456789" not in dump
        entry = journal(client, route="submit")[0]
        assert entry["request_headers"]["authorization"] == "Key ****cdef"
        record = client.get(f"/_mock/requests/{submitted['request_id']}").json()
        assert record["headers"]["authorization"] == "Key ****cdef"


def test_journal_filters(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    first = fal.submit(T2V, arguments={"prompt": "one"})
    second = fal.submit(T2V, arguments={"prompt": "two"})
    first.get()
    assert [e["request_id"] for e in journal(control, route="submit")] == [
        first.request_id,
        second.request_id,
    ]
    mine = journal(control, request_id=first.request_id)
    assert mine and {e["request_id"] for e in mine} == {first.request_id}
    assert {e["method"] for e in journal(control, method="post")} == {"POST"}
    assert len(journal(control, path=f"/{T2V}")) == 2
    by_path = journal(control, path_prefix=f"/{APP}/requests/{first.request_id}")
    assert by_path == [e for e in mine if e["route"] != "submit"]
    i2v = fal.submit(I2V, arguments={"prompt": "three", "image_url": "data:,x"})
    with pytest.raises(fal_client.FalClientHTTPError):  # "data:,x" is no image: it fails ...
        i2v.get()  # ... with notes, which the reads below must not straddle
    by_endpoint = {e: journal(control, endpoint=e) for e in (T2V, I2V)}
    assert {x["request_id"] for x in by_endpoint[I2V]} == {i2v.request_id}
    assert i2v.request_id not in {x["request_id"] for x in by_endpoint[T2V]}
    assert {x["endpoint_id"] for x in by_endpoint[T2V]} == {T2V}
    assert {e["status"] for e in journal(control, status=200)} == {200}
    everything = journal(control)
    newest = journal(control, since=everything[-2]["id"])
    assert [e["id"] for e in newest] == [everything[-1]["id"]]
    assert journal(control, limit=1) == everything[-1:]
    bad = control.get("/_mock/journal", params={"status": "two hundred"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]
    negative = control.get("/_mock/journal", params={"limit": -2})
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["query", "limit"]


def test_journal_is_a_bounded_ring(tmp_path: Path) -> None:
    with serving(tmp_path, journal_size=3) as (_, c):
        for n in range(5):
            c.post(f"/{T2V}", json={"prompt": f"p prompt {n}"})
        body = c.get("/_mock/journal").json()
        assert body["size"] == 3 and body["evicted"] == 2
        assert [e["request_body"]["prompt"] for e in body["entries"]] == [
            "p prompt 2",
            "p prompt 3",
            "p prompt 4",
        ]
        assert c.delete("/_mock/journal").json() == {"cleared": 3}
        assert journal(c) == []


def test_streams_and_videos_pass_through_untouched(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, c):
        request_id = c.post(f"/{T2V}", json={"prompt": "stream"}).json()["request_id"]
        events = []
        with c.stream("GET", f"/{APP}/requests/{request_id}/status/stream?logs=1") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
        assert events[-1]["status"] == "COMPLETED"
        url = c.get(f"/{APP}/requests/{request_id}").json()["video"]["url"]
        video = c.get(url)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        entries = journal(c)
        stream_entry = next(e for e in entries if e["route"] == "stream")
        assert stream_entry["finished"] and stream_entry["status"] == 200
        assert stream_entry["response_body"].startswith("data: ")
        media = next(e for e in entries if e["route"] == "media")
        assert media["response_bytes"] == len(video.content)
        assert media["response_body"] is None, "binary bodies are counted, not stored"


def test_long_bodies_are_cut(control: httpx.Client) -> None:
    prompt = "x" * 40_000  # with an invalid field: refused (422) before anything renders
    control.post(f"/{T2V}", json={"prompt": prompt, "aspect_ratio": "1:1"}, headers=AUTH)
    entry = journal(control, route="submit")[0]
    assert entry["request_body_truncated"] and entry["request_bytes"] > 40_000
    assert isinstance(entry["request_body"], str) and len(entry["request_body"]) == 16 * 1024


def test_clock_advance_moves_timed_requests(tmp_path: Path) -> None:
    with serving(tmp_path, timing="realistic") as (_, c):
        request_id = c.post(f"/{T2V}", json={"prompt": "slow"}).json()["request_id"]
        status = f"/{APP}/requests/{request_id}/status"
        assert c.get(status).json()["status"] == "IN_QUEUE"
        before = c.get("/_mock/clock").json()["now"]
        moved = c.post("/_mock/clock/advance", json={"seconds": 5})
        assert moved.status_code == 200 and moved.json()["now"] >= before + 5
        assert c.get(status).json()["status"] == "IN_PROGRESS"
        c.post("/_mock/clock/advance", json={"seconds": 3600})
        wait_for_status(c, status, "COMPLETED")
        for bad in ({"seconds": -1}, {"seconds": "soon"}, {}, {"seconds": True}):
            refused = c.post("/_mock/clock/advance", json=bad)
            assert refused.status_code == 422, bad
            assert refused.json()["detail"][0]["loc"] == ["body", "seconds"]
        garbage = c.post("/_mock/clock/advance", content=b"{nope")
        assert garbage.status_code == 422
        assert garbage.json()["detail"][0]["type"] == "json_invalid"


def test_reset_forgets_requests_and_journal(control: httpx.Client) -> None:
    submitted = control.post(f"/{T2V}", json={"prompt": "gone"}, headers=AUTH).json()
    assert control.post("/_mock/reset").json()["status"] == "reset"
    assert journal(control) == []
    gone = control.get(f"/{APP}/requests/{submitted['request_id']}/status", headers=AUTH)
    assert gone.status_code == 404
    assert control.get("/_mock/requests").json() == {"requests": []}
    after = control.post(f"/{T2V}", json={"prompt": "fresh"}, headers=AUTH)
    assert after.status_code == 200


def test_manual_progression_holds_each_state_until_advanced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, progression="manual") as (emulator, c):
        route_fal_client(monkeypatch, emulator.url)
        fal = fal_client.SyncClient(key=TEST_KEY)
        handle = fal.submit(T2V, arguments={"prompt": "hold"})
        for _ in range(3):
            assert isinstance(handle.status(), fal_client.Queued)
        c.post("/_mock/clock/advance", json={"seconds": 3600})
        assert isinstance(handle.status(), fal_client.Queued), "time alone does not move it"
        step = c.post(f"/_mock/requests/{handle.request_id}/advance").json()
        assert (step["previous_status"], step["status"]) == ("IN_QUEUE", "IN_PROGRESS")
        assert isinstance(handle.status(), fal_client.InProgress)
        step = c.post(f"/_mock/requests/{handle.request_id}/advance").json()
        assert step["status"] == "COMPLETED"
        assert isinstance(handle.status(), fal_client.Completed)
        assert handle.get()["video"]["content_type"] == "video/mp4"
        done = c.post(f"/_mock/requests/{handle.request_id}/advance")
        assert done.status_code == 409 and done.json()["error_type"] == "already_completed"
        missing = c.post("/_mock/requests/nope/advance")
        assert missing.status_code == 404


def test_polls_progression_moves_one_state_per_n_polls(tmp_path: Path) -> None:
    with serving(tmp_path, progression="polls:2") as (_, c):
        request_id = c.post(f"/{T2V}", json={"prompt": "poll me"}).json()["request_id"]
        status = f"/{APP}/requests/{request_id}/status"
        assert c.get(f"/_mock/requests/{request_id}").json()["progression"] == "polls:2"
        seen = [c.get(status).json()["status"] for _ in range(4)]
        assert seen == ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS"]
        wait_for_status(c, status, "COMPLETED")  # the video may still be rendering


def test_immediate_progression_skips_the_profile_times(tmp_path: Path) -> None:
    with serving(tmp_path, timing="realistic", progression="immediate") as (_, c):
        response = c.post(f"/run/{T2V}", json={"prompt": "now"})
        assert response.status_code == 200 and "video" in response.json()


def test_priority_low_waits_behind_normal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, progression="manual", capacity=1) as (emulator, c):
        route_fal_client(monkeypatch, emulator.url)
        fal = fal_client.SyncClient(key=TEST_KEY)
        first = fal.submit(T2V, arguments={"prompt": "a prompt"})
        low = fal.submit(T2V, arguments={"prompt": "b prompt"}, priority="low")
        normal = fal.submit(T2V, arguments={"prompt": "c prompt"})
        positions = {h.request_id: h.status().position for h in (first, low, normal)}
        assert positions == {first.request_id: 0, normal.request_id: 1, low.request_id: 2}
        assert c.post(f"/_mock/requests/{first.request_id}/advance").json()["status"] == (
            "IN_PROGRESS"
        )
        blocked = c.post(f"/_mock/requests/{normal.request_id}/advance").json()
        assert (blocked["status"], blocked["waiting_for"]) == ("IN_QUEUE", "a free slot")
        record = c.get(f"/_mock/requests/{low.request_id}").json()
        assert record["headers"]["x-fal-queue-priority"] == "low"


def test_metrics_json_and_prometheus(fal: fal_client.SyncClient, control: httpx.Client) -> None:
    fal.subscribe(T2V, arguments={"prompt": "count me"})
    fal.subscribe(T2V, arguments={"prompt": "count me"})
    body = control.get("/_mock/metrics").json()
    counts = {(r["route"], r["status"]): r["count"] for r in body["requests"]}
    assert counts[("submit", "200")] == 2 and counts[("result", "200")] == 2
    assert body["latency_seconds"]["submit"]["count"] == 2
    assert body["latency_seconds"]["submit"]["buckets"]["+Inf"] == 2
    assert body["renders"] == {"requested": 2, "started": 1, "cache_hits": 1}
    text = control.get("/_mock/metrics", params={"format": "prometheus"})
    assert text.headers["content-type"].startswith("text/plain")
    assert 'ray2_mock_http_requests_total{route="submit",status="200"} 2' in text.text
    assert 'ray2_mock_http_request_duration_seconds_bucket{route="submit",le="+Inf"} 2' in (
        text.text
    )
    assert "ray2_mock_render_cache_hits_total 1" in text.text
    scraped = control.get("/_mock/metrics", headers={"Accept": "text/plain;version=0.0.4"})
    assert scraped.text == text.text


def test_ledger_bills_completed_generations_per_key(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom")
    with serving(tmp_path) as (_, c):
        # a given output instead of renders: billing depends on the input, not the bytes
        c.post("/_mock/scenarios", json={"output": {"video": str(clip)}})
        c.post(
            "/_mock/scenarios",
            json={
                "name": "fails",
                "match": {"input": {"prompt": "^x"}},
                "error": "internal_server_error",
            },
        )
        key_a = {"Authorization": "Key aaaaaaaa:1111"}
        key_b = {"Authorization": "Key bbbbbbbb:2222"}
        runs = [
            (key_a, {"prompt": "a prompt"}, 200),  # 1 unit
            (
                key_a,
                {"prompt": "a prompt", "resolution": "1080p", "duration": "9s"},
                200,
            ),  # 8 units
            (key_b, {"prompt": "b prompt", "resolution": "720p"}, 200),  # 2 units
            (key_b, {"prompt": "x prompt", "resolution": "720p"}, 500),  # failed: not billed
        ]
        for headers, arguments, status in runs:
            assert c.post(f"/run/{T2V}", json=arguments, headers=headers).status_code == status
        ledger = c.get("/_mock/ledger").json()
        rows = {row["key"]: row for row in ledger["keys"]}
        assert rows["Key ****1111"]["units"] == 9 and rows["Key ****1111"]["usd"] == 4.5
        assert rows["Key ****1111"]["billed_requests"] == 2
        assert rows["Key ****2222"]["units"] == 2 and rows["Key ****2222"]["usd"] == 1.0
        assert rows["Key ****2222"]["unbilled_requests"] == 1
        assert (ledger["total_units"], ledger["total_usd"]) == (11, 5.5)


def test_unknown_control_routes_are_fal_shaped(control: httpx.Client) -> None:
    missing = control.get("/_mock/nothing-here")
    assert missing.status_code == 404 and missing.json()["error_type"] == "not_found"
    wrong = control.put("/_mock/journal")
    assert wrong.status_code == 405 and "DELETE, GET" in wrong.json()["detail"]
    unknown = control.get("/_mock/requests/nope")
    assert unknown.status_code == 404


@pytest.mark.parametrize("seconds", [4.1e307, 10 * 365 * 86400 + 1])
def test_clock_cannot_jump_past_representable_time(tmp_path: Path, seconds: float) -> None:
    """A jump of 1e307 s once overflowed every log timestamp: the queue driver then failed on
    each tick and no request could finish. Such a jump is now a 422 and nothing moves."""
    with serving(tmp_path, timing="fast") as (_, client):
        request_id = client.post(
            "/fal-ai/luma-dream-machine/ray-2", json={"prompt": "x prompt"}
        ).json()["request_id"]
        refused = client.post("/_mock/clock/advance", json={"seconds": seconds})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "seconds"]
        assert client.post("/_mock/clock/advance", json={"seconds": 60}).status_code == 200
        status_url = f"/fal-ai/luma-dream-machine/requests/{request_id}/status"
        wait_for_status(client, status_url, "COMPLETED")


@pytest.mark.parametrize("body", ["null", "7", '"a scenario"', "true"])
def test_a_scenario_body_must_be_an_object_or_a_list(control: httpx.Client, body: str) -> None:
    """`null` used to be read as an empty document and answered 200 (found by fuzzing)."""
    response = control.post(
        "/_mock/scenarios", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert control.get("/_mock/scenarios").json()["scenarios"] == []


def test_a_huge_requests_limit_is_read_as_everything(tmp_path: Path) -> None:
    """2**68 overflowed SQLite's integer and answered 500 (found by make soak)."""
    with BackgroundEmulator(make_config(tmp_path, store="sqlite")) as emulator:
        url = f"{emulator.url}/_mock/requests"
        response = httpx.get(url, params={"limit": str(2**68)}, timeout=10)
        assert response.status_code == 200 and response.json() == {"requests": []}


@pytest.mark.parametrize("video", ["a\x00b.mp4", "\x00"])
def test_an_output_video_path_with_a_nul_is_a_422(control: httpx.Client, video: str) -> None:
    """A NUL in output.video made the existence check raise (500, found by make soak)."""
    response = control.post("/_mock/scenarios", json={"output": {"video": video}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "output", "video"]


def test_an_output_video_under_an_unknown_home_is_a_422(control: httpx.Client) -> None:
    response = control.post("/_mock/scenarios", json={"output": {"video": "~nobody-here/v.mp4"}})
    assert response.status_code == 422


def test_a_record_of_any_json_body_answers_as_the_document_declares(
    control: httpx.Client,
) -> None:
    """fal's queue accepts any well-formed JSON (the input fails at its result), so a record's
    input may be a string or a list; the control API's answers must still match the OpenAPI
    document that schemathesis holds them to (it declared an object: a fuzzed string body made
    GET /_mock/requests 'violate' it)."""
    import jsonschema

    from contracts.openapi import load_openapi

    paths = load_openapi()["paths"]

    def schema(path: str) -> dict[str, Any]:
        return paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]

    for body in ("just a string", ["a", "list"], 7):
        submitted = control.post(f"/{T2V}", json=body, headers=AUTH)
        assert submitted.status_code == 200
        request_id = submitted.json()["request_id"]
        one = control.get(f"/_mock/requests/{request_id}").json()
        assert one["input"] == body
        jsonschema.validate(one, schema("/_mock/requests/{request_id}"))
        jsonschema.validate(control.get("/_mock/requests").json(), schema("/_mock/requests"))
