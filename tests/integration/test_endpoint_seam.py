"""The endpoint table is the one place that says what an endpoint is.

Every row names parts the emulator has (a validator, a producer, a timing class) and says
whether it is exact or generic and what it costs (or that nobody knows). A new endpoint is a new
row: the second test adds one, with no price and marked generic, and the emulator serves it
through the queue, validation, production, journal, dashboard and ledger without a line of
code naming it; the Ray 2 rows are served exactly as before (the rest of the suite).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.schemas import endpoints as table
from contracts.schemas.endpoints import ENDPOINT_FACTS, Price
from mockserver.assembly import PRODUCERS
from mockserver.fal import endpoints as served
from mockserver.fal.endpoints import VALIDATORS, Endpoint
from mockserver.serving.background import BackgroundEmulator
from mockserver.timing import TIMING_PROFILES
from tests.support import TEST_KEY, make_config, wait_until

APP = "fal-ai/luma-dream-machine"
NEW = f"{APP}/ray-2-by-rule"
KEY = {"authorization": f"Key {TEST_KEY}"}


@pytest.mark.parametrize("endpoint_id", list(ENDPOINT_FACTS))
def test_every_row_names_parts_the_emulator_has(endpoint_id: str) -> None:
    facts = ENDPOINT_FACTS[endpoint_id]
    assert facts.fidelity in ("exact", "generic")
    assert facts.validation in VALIDATORS
    assert facts.producer in PRODUCERS
    assert all(facts.timing in profile.runs for profile in TIMING_PROFILES.values())
    assert facts.price is None or isinstance(facts.price, Price)
    assert facts.fidelity == "exact"  # the Ray 2 family: every behaviour in docs/fidelity.md


@pytest.fixture
def new_row(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A row like Ray 2's text-to-video under a new id, answered by rule, its price unknown."""
    facts = dataclasses.replace(
        ENDPOINT_FACTS[f"{APP}/ray-2"],
        endpoint_id=NEW,
        fidelity="generic",
        price=None,
        label="by rule",
        start_log="Starting: {prompt}",
        progress_log="Working: {percent}%",
        finished_log="Done",
    )
    monkeypatch.setitem(ENDPOINT_FACTS, NEW, facts)
    monkeypatch.setitem(table.INPUT_SCHEMAS, NEW, facts.input_schema)
    monkeypatch.setitem(served.ENDPOINTS, NEW, Endpoint(facts))
    yield NEW


def test_a_new_row_is_served_by_data_alone(new_row: str, tmp_path: Path) -> None:
    with (
        BackgroundEmulator(make_config(tmp_path, timing="instant")) as running,
        httpx.Client(base_url=running.url, headers=KEY, timeout=60) as http,
    ):
        refused = http.post(f"/run/{new_row}", json={"prompt": "ab"})
        assert refused.status_code == 422  # its row's validator: the input schema's bounds
        assert refused.json()["detail"][0]["type"] == "string_too_short"
        submitted = http.post(f"/{new_row}", json={"prompt": "a fox by rule"}).json()
        status = wait_until(
            lambda: (
                (s := http.get(submitted["status_url"], params={"logs": 1}).json())["status"]
                == "COMPLETED"
                and s
            ),
            what="the new endpoint's request to complete",
        )
        messages = [line["message"] for line in status["logs"]]
        assert messages == [
            "Starting: a fox by rule",
            "Working: 25%",
            "Working: 50%",
            "Working: 75%",
            "Done",
        ]  # the row's log lines
        video = http.get(submitted["response_url"]).json()["video"]
        assert http.get(video["url"]).headers["content-type"] == "video/mp4"  # its producer
        entries = http.get("/_mock/journal", params={"route": "submit"}).json()["entries"]
        assert {e["endpoint_id"]: e["fidelity"] for e in entries} == {new_row: "generic"}
        view = http.get(f"/_mock/ui/requests/{submitted['request_id']}").json()
        assert view["fidelity"] == "generic"
        ledger = http.get("/_mock/ledger").json()
        assert ledger["prices"][new_row] is None
        (row,) = ledger["keys"]
        assert (row["billed_requests"], row["unpriced_requests"], row["usd"]) == (1, 1, 0.0)
