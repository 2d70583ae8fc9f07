"""The ``ray2_mock`` plugin as a user meets it: a test file that uses only ``fal_client`` and the
fixture, run by pytest itself (``pytester``), and nothing left behind afterwards."""

from __future__ import annotations

import gc
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from contracts.pytest.fal_routing import CACHED_PROPERTIES, SHARED_CLIENTS, URL_TEMPLATES

pytest_plugins = ["pytester"]
T2V = "fal-ai/luma-dream-machine/ray-2"

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


# The control API and scenarios are built in another branch; these tests run once merged.

USER_TESTS = '''
import json, os
import fal_client
import httpx
import pytest

T2V = "fal-ai/luma-dream-machine/ray-2"
FOX = {"prompt": "a fox"}  # one parameter set: the session's render cache makes one video


@pytest.fixture
def users_key(monkeypatch):
    monkeypatch.setenv("FAL_KEY", "users:key")


def note(ray2_mock, name):
    """Tell the outer test where this emulator listened and which key the client used."""
    with open(f"{name}.json", "w") as fh:
        json.dump({"url": ray2_mock.url, "key": os.environ.get("FAL_KEY")}, fh)


def test_subscribe_with_logs(ray2_mock):
    updates = []
    result = fal_client.subscribe(
        T2V, arguments=FOX, with_logs=True, on_queue_update=updates.append
    )
    assert result["video"]["url"].startswith(ray2_mock.url + "/files/")
    assert isinstance(updates[-1], fal_client.Completed)
    note(ray2_mock, "subscribe")


def test_submit_status_result_and_run(ray2_mock):
    handle = fal_client.submit(T2V, arguments=FOX)
    assert handle.get()["video"]["content_type"] == "video/mp4"
    assert isinstance(fal_client.status(T2V, handle.request_id), fal_client.Completed)
    assert fal_client.result(T2V, handle.request_id) == handle.get()
    assert fal_client.run(T2V, arguments=FOX)["video"]["url"].endswith(".mp4")


@pytest.mark.asyncio
async def test_async_client(ray2_mock):
    result = await fal_client.subscribe_async(T2V, arguments=FOX)
    assert result["video"]["url"].startswith(ray2_mock.url)
    handle = await fal_client.submit_async(T2V, arguments=FOX)
    assert (await handle.get())["video"]["url"].endswith(".mp4")


@pytest.mark.asyncio
async def test_async_client_on_a_new_loop(ray2_mock):
    # A client cached on the previous test's (closed) loop would fail here.
    assert (await fal_client.run_async(T2V, arguments=FOX))["video"]


@pytest.mark.ray2(timing="realistic")
def test_marker_and_virtual_clock(ray2_mock):
    handle = fal_client.submit(T2V, arguments=FOX)
    assert isinstance(handle.status(), fal_client.Queued)
    ray2_mock.advance(3600)
    assert not isinstance(handle.status(), fal_client.Queued)
    assert handle.get()["video"]["url"].endswith(".mp4")


def test_reset_forgets_requests(ray2_mock):
    handle = fal_client.submit(T2V, arguments=FOX)
    handle.get()
    ray2_mock.reset()
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        handle.status()
    assert info.value.status_code == 404


@pytest.mark.ray2(api_key="the-only:key")
def test_key_set_by_the_fixture_when_unset(ray2_mock):
    assert fal_client.run(T2V, arguments=FOX)["video"]
    note(ray2_mock, "keyed")


@pytest.mark.ray2(api_key="users:key")
def test_a_users_own_key_is_kept(users_key, ray2_mock):
    assert fal_client.run(T2V, arguments=FOX)["video"]
    note(ray2_mock, "users")
'''


class Snapshot:
    """Everything the fixture touches, to compare before and after a run."""

    def __init__(self) -> None:
        self.threads = {t.ident for t in threading.enumerate()}
        self.globals = {name: getattr(fal_module, name) for name in URL_TEMPLATES}
        self.caches = {
            name: {a: vars(getattr(fal_client, name)).get(a) for a in CACHED_PROPERTIES}
            for name in SHARED_CLIENTS
        }
        self.env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}

    def assert_restored(self) -> None:
        after = Snapshot()
        assert after.threads == self.threads, threading.enumerate()
        assert after.globals == self.globals
        for name in SHARED_CLIENTS:
            for attr in CACHED_PROPERTIES:
                assert after.caches[name][attr] is self.caches[name][attr], (name, attr)
        assert after.env == self.env


def assert_closed(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
        pass


@pytest.fixture
def user_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("FAL_KEY", raising=False)
    pytester.makeini(INI)
    # The inner run is in this process and turns warnings into errors: garbage an earlier test
    # on this worker left (an unclosed client socket) must not be collected during it.
    gc.collect()
    return pytester


def test_user_test_file_passes_and_leaves_nothing_behind(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(test_user=USER_TESTS)
    # A client the user's own code already used (another key, another httpx client) must come
    # back untouched, not closed and not replaced.
    os.environ["FAL_KEY"] = "outer:key"
    pre_existing = fal_client.sync_client._client
    del os.environ["FAL_KEY"]
    before = Snapshot()

    result = user_project.runpytest("-W", "error", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=8)
    before.assert_restored()
    assert fal_client.sync_client._client is pre_existing and not pre_existing.is_closed
    assert pre_existing.headers["authorization"] == "Key outer:key"
    seen = {
        n: json.loads((user_project.path / f"{n}.json").read_text())
        for n in ("subscribe", "keyed", "users")
    }
    assert seen["subscribe"]["key"] == "ray2-mock-id:ray2-mock-secret"
    assert seen["keyed"]["key"] == "the-only:key"
    assert seen["users"]["key"] == "users:key"
    assert seen["subscribe"]["url"] != seen["keyed"]["url"]  # one emulator per test
    for entry in seen.values():
        assert_closed(entry["url"])


def test_session_fixture_is_shared_and_async_safe(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import fal_client, pytest

        T2V = "fal-ai/luma-dream-machine/ray-2"
        URLS = []  # one emulator for all four tests

        @pytest.mark.asyncio
        @pytest.mark.parametrize("n", range(3))
        async def test_async(ray2_mock_session, n):
            URLS.append(ray2_mock_session.url)
            assert (await fal_client.run_async(T2V, arguments={"prompt": "s prompt"}))["video"]

        def test_sync(ray2_mock_session):
            URLS.append(ray2_mock_session.url)
            assert fal_client.subscribe(T2V, arguments={"prompt": "s prompt"})["video"]
            assert len(set(URLS)) == 1 and len(URLS) == 4
            with open("session-url", "w") as fh:
                fh.write(URLS[0])
        """
    )
    before = Snapshot()
    result = user_project.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    before.assert_restored()
    assert_closed((user_project.path / "session-url").read_text())


def test_an_admin_token_closes_the_fixture_s_control_plane_and_its_handle_sends_it(
    user_project: pytest.Pytester,
) -> None:
    """``admin_token`` as a marker option and in ``ray2_mock_options``: a request without it is
    refused, the handle's calls (journal, scenario, fail_next, reset) carry it."""
    user_project.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def ray2_mock_options():
            return {"admin_token": "session-admin-token"}
        """
    )
    user_project.makepyfile(
        """
        import fal_client, httpx, pytest

        T2V = "fal-ai/luma-dream-machine/ray-2"

        def check(mock, token):
            refused = httpx.get(mock.url + "/_mock/journal")
            assert refused.status_code == 401 and "detail" in refused.json()
            mock.fail_next("internal_server_error")
            with pytest.raises(fal_client.FalClientHTTPError):
                fal_client.run(T2V, arguments={"prompt": "fails once"})
            assert fal_client.run(T2V, arguments={"prompt": "then works"})["video"]
            assert [e["status"] for e in mock.journal] == [500, 200]
            mock.reset()
            assert mock.journal == []
            bearer = {"Authorization": "Bearer " + token}
            assert httpx.get(mock.url + "/_mock/journal", headers=bearer).status_code == 200

        @pytest.mark.ray2(admin_token="marker-admin-token")
        def test_marker(ray2_mock):
            check(ray2_mock, "marker-admin-token")

        def test_options(ray2_mock):
            check(ray2_mock, "session-admin-token")

        def test_session(ray2_mock_session):
            check(ray2_mock_session, "session-admin-token")
        """
    )
    result = user_project.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_bad_options_fail_the_test_with_a_message_naming_the_fix(
    user_project: pytest.Pytester,
) -> None:
    user_project.makepyfile(
        """
        import pytest

        @pytest.mark.ray2(timing="glacial")
        def test_timing(ray2_mock):
            pass

        @pytest.mark.ray2(port=1)
        def test_owned_option(ray2_mock):
            pass

        @pytest.mark.ray2("instant")
        def test_positional(ray2_mock):
            pass

        @pytest.mark.ray2(timing="fast")
        def test_marker_on_session(ray2_mock_session):
            pass
        """
    )
    before = Snapshot()
    result = user_project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=4)
    output = result.stdout.str()
    for message in (
        "::test_timing: timing='glacial' is not one of ['fast', 'instant', 'realistic']",
        "::test_owned_option: unknown ray2_mock option(s) ['port']; allowed: ['admin_token', "
        "'api_key', 'api_keys'",
        "::test_positional: @pytest.mark.ray2 takes keyword options only, got ('instant',)",
        "::test_marker_on_session: @pytest.mark.ray2 configures the per-test ray2_mock fixture; "
        "ray2_mock_session is shared, configure it by overriding ray2_mock_options",
    ):
        assert message in output
    before.assert_restored()


def test_xdist_gives_each_worker_its_own_emulator(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        import json, os, fal_client, pytest

        @pytest.mark.parametrize("n", range(4))
        def test_it(ray2_mock_session, n):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            endpoint = "fal-ai/luma-dream-machine/ray-2"
            handle = fal_client.submit(endpoint, arguments={"prompt": "xyz"})
            seen = {e["request_id"] for e in ray2_mock_session.journal}
            assert handle.request_id in seen  # answered by this worker's emulator
            with open(f"{worker}-{n}.json", "w") as fh:
                json.dump([worker, ray2_mock_session.url], fh)
        """
    )
    result = user_project.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"
    )
    result.assert_outcomes(passed=4)
    rows = [json.loads(p.read_text()) for p in user_project.path.glob("gw*-*.json")]
    urls = {worker: {url for w, url in rows if w == worker} for worker, _ in rows}
    assert set(urls) == {"gw0", "gw1"}, rows  # both workers ran tests
    assert all(len(u) == 1 for u in urls.values()), urls  # one emulator per worker
    assert urls["gw0"] != urls["gw1"]


def test_journal_shows_what_the_client_sent(ray2_mock: Any) -> None:
    handle = fal_client.submit(T2V, arguments={"prompt": "journaled"})
    handle.get()
    entries = ray2_mock.journal
    submits = [e for e in entries if e["method"] == "POST" and e["path"] == f"/{T2V}"]
    assert len(submits) == 1 and submits[0]["request_id"] == handle.request_id
    assert any(e["path"].endswith(f"/requests/{handle.request_id}") for e in entries)
    ray2_mock.reset()  # the control API's reset empties the journal too
    assert [e for e in ray2_mock.journal if not e["path"].startswith("/_mock")] == []


def test_fail_next_fails_exactly_the_next_request(ray2_mock: Any) -> None:
    ray2_mock.fail_next("internal_server_error")
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        fal_client.run(T2V, arguments={"prompt": "fails"})
    assert info.value.status_code == 500
    assert fal_client.run(T2V, arguments={"prompt": "works"})["video"]


def test_uploads_are_routed_too(ray2_mock: Any, tmp_path: Path) -> None:
    """fal_client's storage (REST token + CDN upload) reaches the fixture's emulator."""
    from PIL import Image

    image = tmp_path / "first-frame.png"
    Image.new("RGB", (64, 36), (200, 40, 40)).save(image)
    url = fal_client.upload_file(image)
    assert url.startswith(ray2_mock.url)
    assert httpx.get(url).content == image.read_bytes()
