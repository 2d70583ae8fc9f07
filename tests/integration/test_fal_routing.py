"""``FalClientRoute`` on its own: the routing the ray2_mock fixture is built on."""

from __future__ import annotations

import os
import sys

import fal_client
import pytest

from contracts.pytest.fal_routing import FalClientRoute, import_fal_client
from mockserver.serving.background import BackgroundEmulator

T2V = "fal-ai/luma-dream-machine/ray-2"


def test_a_proxy_in_the_environment_does_not_capture_loopback(
    emulator: BackgroundEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY/ALL_PROXY set (a corporate proxy), httpx would send even loopback calls
    there; the route adds the emulator's host to NO_PROXY for its duration."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: would fail
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "corp.example")
    monkeypatch.delenv("no_proxy", raising=False)
    with FalClientRoute(emulator.url, default_key="k:s"):
        assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "corp.example,127.0.0.1"
        assert fal_client.run(T2V, arguments={"prompt": "through no proxy"})["video"]
    assert os.environ["NO_PROXY"] == "corp.example"
    assert "no_proxy" not in os.environ


def test_leaving_twice_is_harmless(emulator: BackgroundEmulator) -> None:
    def queue_url() -> str:
        return fal_client.client.QUEUE_URL_FORMAT

    before = queue_url()
    route = FalClientRoute(emulator.url, default_key="k:s")
    with route:
        assert queue_url() == emulator.url + "/"
    route.__exit__(None, None, None)
    assert queue_url() == before


def test_only_the_emulators_plain_http_url_is_accepted() -> None:
    with pytest.raises(ValueError, match="plain http URL"):
        FalClientRoute("https://queue.fal.run", default_key="k:s")


def test_without_fal_client_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fal_client", None)  # import fal_client -> ImportError
    with pytest.raises(RuntimeError, match="pip install fal-client"):
        import_fal_client()
