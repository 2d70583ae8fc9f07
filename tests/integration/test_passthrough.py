"""Pass-through, opt in: a named endpoint's calls go to "live fal" (here a second emulator that
accepts only the user's real key) with that key, budget-capped; the client's own key and the
real one never meet, and without the flag nothing is forwarded."""

from __future__ import annotations

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
    flags += ["--passthrough-key", REAL_KEY, "--passthrough-budget", "3"]
    flags += ["--passthrough-upstream", live.url, "--log-level", "info"]
    with serve_process(state, *flags) as info:
        yield info


def journal(url: str) -> list[dict]:
    return httpx.get(f"{url}/_mock/journal").json()["entries"]


def test_a_named_endpoint_goes_to_fal_with_the_real_key_and_comes_back(
    forwarding: ServerInfo, live: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    route_fal_client(monkeypatch, forwarding.url)  # the client holds only its test key
    handle = fal_client.submit(FORWARDED, arguments={"prompt": "forwarded"})
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


def test_every_unknown_endpoint_is_forwarded_with_star_and_the_budget_caps_them(
    forwarding: ServerInfo,
) -> None:
    auth = {"Authorization": f"Key {TEST_KEY}"}
    answered = httpx.post(f"{forwarding.url}/{UNKNOWN}", json={"prompt": "x"}, headers=auth)
    # fal (the stand-in) does not have it either: its own missing-app answer comes back
    assert answered.status_code == 404
    assert answered.json() == {"detail": "Application 'brand-new-model' not found"}
    capped = httpx.post(f"{forwarding.url}/run/{FORWARDED}", json={"prompt": "x"}, headers=auth)
    assert capped.status_code == 200  # the third call of three
    refused = httpx.post(f"{forwarding.url}/{FORWARDED}", json={"prompt": "x"}, headers=auth)
    assert refused.status_code == 429
    assert refused.json()["error_type"] == "passthrough_budget"
    assert "--passthrough-budget" in refused.json()["detail"]


def test_without_the_flag_nothing_is_forwarded_and_the_refusal_names_it(tmp_path: Path) -> None:
    with serve_process(tmp_path / "state") as info:
        answer = httpx.post(
            f"{info.url}/{UNKNOWN}", json={}, headers={"Authorization": f"Key {TEST_KEY}"}
        )
    assert answer.status_code == 404
    assert "--passthrough" in answer.headers["x-ray2-mock-note"]
