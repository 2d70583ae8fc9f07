"""Pass-through, opt in: a named endpoint's calls go to "live fal" (here a second emulator that
accepts only the user's real key) with that key, budget-capped; the client's own key and the
real one never meet, and without the flag nothing is forwarded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import fal_client
import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from mockserver.serving.server import ServerInfo
from tests.support import TEST_KEY, make_config, route_fal_client, serve_process

REAL_KEY = "real-id:real-secret-not-for-the-journal"
FORWARDED = "fal-ai/flux/dev"
UNKNOWN = "fal-ai/brand-new-model"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundEmulator]:
    """Stands in for fal: accepts only the real key, and knows the endpoints fal has."""
    config = make_config(tmp_path_factory.mktemp("live"), timing="instant", api_key=REAL_KEY)
    with BackgroundEmulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def forwarding(
    tmp_path_factory: pytest.TempPathFactory, live: BackgroundEmulator
) -> Iterator[ServerInfo]:
    state = tmp_path_factory.mktemp("forwarding") / "state"
    flags = ["--passthrough", FORWARDED, "--passthrough", "*"]
    flags += ["--passthrough-budget", "3"]
    flags += ["--passthrough-upstream", live.url]
    with serve_process(state, *flags, env={"RAY2_MOCK_PASSTHROUGH_KEY": REAL_KEY}) as info:
        yield info


def journal(url: str) -> list[dict]:
    return httpx.get(f"{url}/_mock/journal").json()["entries"]


def test_a_named_endpoint_goes_to_fal_with_the_real_key_and_comes_back(
    forwarding: ServerInfo, live: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    route_fal_client(monkeypatch, forwarding.url)
    client = fal_client.SyncClient(key=TEST_KEY)  # the client holds only its test key
    handle = client.submit(FORWARDED, arguments={"prompt": "forwarded"})
    assert handle.status_url.startswith(forwarding.url + "/fal-ai/flux/requests/")
    output = handle.get()
    assert output["images"][0]["url"].startswith(live.url)  # made upstream, not here
    assert handle.request_id in {e["request_id"] for e in journal(live.url)}
    seen_upstream = [e for e in journal(live.url) if e["route"] == "submit"]
    assert seen_upstream[-1]["request_headers"]["authorization"] == f"Key ****{REAL_KEY[-4:]}"
    here = journal(forwarding.url)
    assert [e["route"] for e in here if e["endpoint_id"] == FORWARDED][:1] == ["submit"]
    assert REAL_KEY not in str(here) and "real-secret" not in str(here)
    masked = {e["request_headers"].get("authorization") for e in here if e["route"] == "submit"}
    assert masked == {f"Key ****{TEST_KEY[-4:]}"}


def test_a_caller_the_emulator_refuses_never_spends_the_real_key(
    forwarding: ServerInfo, live: BackgroundEmulator
) -> None:
    before = len([e for e in journal(live.url) if e["route"] in ("submit", "run")])
    for path in (FORWARDED, f"run/{FORWARDED}", UNKNOWN):
        refused = httpx.post(f"{forwarding.url}/{path}", json={"prompt": "x"})  # no key at all
        assert refused.status_code == 401, path
    assert len([e for e in journal(live.url) if e["route"] in ("submit", "run")]) == before


def test_a_status_answer_sends_the_client_back_here(
    forwarding: ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = {"Authorization": f"Key {TEST_KEY}"}
    submitted = httpx.post(f"{forwarding.url}/{FORWARDED}", json={"prompt": "x"}, headers=auth)
    status = httpx.get(submitted.json()["status_url"], headers=auth).json()
    assert status["response_url"].startswith(forwarding.url + "/fal-ai/flux/requests/")


def test_every_unknown_endpoint_is_forwarded_with_star_and_the_budget_caps_them(
    tmp_path: Path, live: BackgroundEmulator
) -> None:
    auth = {"Authorization": f"Key {TEST_KEY}"}
    flags = ["--passthrough", FORWARDED, "--passthrough", "*", "--passthrough-budget", "2"]
    flags += ["--passthrough-upstream", live.url]
    with serve_process(
        tmp_path / "state", *flags, env={"RAY2_MOCK_PASSTHROUGH_KEY": REAL_KEY}
    ) as info:
        answered = httpx.post(f"{info.url}/{UNKNOWN}", json={"prompt": "x"}, headers=auth)
        # fal (the stand-in) does not have it either: its own missing-app answer comes back
        assert answered.status_code == 404
        assert answered.json() == {"detail": "Application 'brand-new-model' not found"}
        ran = httpx.post(f"{info.url}/run/{FORWARDED}", json={"prompt": "x"}, headers=auth)
        assert ran.status_code == 200  # the second call of two
        refused = httpx.post(f"{info.url}/{FORWARDED}", json={"prompt": "x"}, headers=auth)
    assert refused.status_code == 402  # not retried by fal's clients: it never comes back
    assert refused.json()["error_type"] == "passthrough_budget"
    assert "--passthrough-budget" in refused.json()["detail"]


def test_passthrough_without_the_real_key_or_with_workers_will_not_start(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]
    base += ["--state-dir", str(tmp_path / "state"), "--passthrough", FORWARDED]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY2_MOCK_")}
    no_key = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
    assert no_key.returncode == 2 and "RAY2_MOCK_PASSTHROUGH_KEY" in no_key.stderr
    env["RAY2_MOCK_PASSTHROUGH_KEY"] = REAL_KEY
    workers = subprocess.run(
        [*base, "--workers", "2"], capture_output=True, text=True, timeout=60, env=env
    )
    assert workers.returncode == 2 and "--workers 1" in workers.stderr


def test_without_the_flag_nothing_is_forwarded_and_the_refusal_names_it(tmp_path: Path) -> None:
    with serve_process(tmp_path / "state") as info:
        answer = httpx.post(
            f"{info.url}/{UNKNOWN}", json={}, headers={"Authorization": f"Key {TEST_KEY}"}
        )
    assert answer.status_code == 404
    assert "--passthrough" in answer.headers["x-ray2-mock-note"]
