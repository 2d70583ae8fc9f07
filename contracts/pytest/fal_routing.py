"""Point the already-imported, unmodified ``fal_client`` at an emulator, and put everything back.

fal_client reads its base URLs from module globals at call time, so patching them routes every
call: run, queue, storage (REST), CDN uploads and realtime. The module-level ``sync_client`` and
``async_client`` however cache their credentials, httpx client and CDN token manager on first use:
a client cached before the patch would keep an old key, and an async one stays bound to the event
loop it was made on (pytest-asyncio gives each test a new loop). So the caches are emptied on
entry and between tests, and the originals go back on exit, as do the globals and the environment.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

# Global in fal_client.client -> its value for an emulator at {authority} (plain loopback layout:
# queue, storage and CDN at the root, sync run under /run).
URL_TEMPLATES: dict[str, str] = {
    "RUN_URL_FORMAT": "http://{authority}/run/",
    "QUEUE_URL_FORMAT": "http://{authority}/",
    "REST_URL": "http://{authority}",
    "CDN_URL": "http://{authority}",
    # Realtime is not emulated: routing it here makes such calls fail locally, never reach fal.
    "REALTIME_URL_FORMAT": "ws://{authority}/",
}
SHARED_CLIENTS = ("sync_client", "async_client")
CACHED_PROPERTIES = ("_auth", "_client", "_token_manager")
# With one of these set, httpx would send even loopback calls through that proxy.
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
_ABSENT = object()


def import_fal_client() -> ModuleType:
    try:
        import fal_client
        import fal_client.client  # noqa: F401  (the module whose globals are patched)
    except ImportError as exc:  # the plugin is installed everywhere; fal_client may not be
        raise RuntimeError(
            "ray2_mock routes the official fal_client, which is not installed: "
            "pip install fal-client"
        ) from exc
    return fal_client


def _close_cached(value: Any) -> None:
    """Close a sync httpx client made while routed; async ones belong to a loop that has ended."""
    import httpx

    if isinstance(value, httpx.Client):
        value.close()


class FalClientRoute:
    """Context manager: while active, ``fal_client`` talks to the emulator at ``base_url``."""

    def __init__(self, base_url: str, *, default_key: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.netloc:
            raise ValueError(f"expected the emulator's plain http URL, got {base_url!r}")
        self.base_url = base_url
        self._authority = parts.netloc
        self._host = parts.hostname or ""
        self._default_key = default_key
        self._globals: dict[str, Any] = {}
        self._caches: dict[tuple[str, str], Any] = {}
        self._env: dict[str, str | None] = {}
        self.active = False

    def __enter__(self) -> FalClientRoute:
        fal_client = import_fal_client()
        module = fal_client.client
        for name, template in URL_TEMPLATES.items():
            self._globals[name] = getattr(module, name)
            setattr(module, name, template.format(authority=self._authority))
        for client_name in SHARED_CLIENTS:
            cache = vars(getattr(fal_client, client_name))
            for attr in CACHED_PROPERTIES:
                self._caches[(client_name, attr)] = cache.pop(attr, _ABSENT)
        if not os.environ.get("FAL_KEY"):
            self._set_env("FAL_KEY", self._default_key)
        if any(os.environ.get(name) for name in PROXY_VARIABLES):
            # Both spellings get the same list: which one wins differs between libraries.
            current = next((os.environ[n] for n in NO_PROXY_VARIABLES if os.environ.get(n)), "")
            for name in NO_PROXY_VARIABLES:
                self._set_env(name, f"{current},{self._host}" if current else self._host)
        self.active = True
        return self

    def refresh_clients(self) -> None:
        """Forget what the shared clients cached while routed (next call builds fresh ones)."""
        fal_client = import_fal_client()
        for client_name in SHARED_CLIENTS:
            cache = vars(getattr(fal_client, client_name))
            for attr in CACHED_PROPERTIES:
                value = cache.pop(attr, _ABSENT)
                if value is not _ABSENT:
                    # asyncstdlib stores an awaited value as AwaitableValue(value).
                    _close_cached(getattr(value, "value", value))

    async def aclose_async_clients(self) -> None:
        """Close the async client made while routed, on the loop its connections belong to.

        Call it from that loop before it closes (the pytest plugin does, after each async test);
        otherwise its pooled sockets can only be dropped, unclosed.
        """
        import httpx

        cache = vars(import_fal_client().async_client)
        for attr in CACHED_PROPERTIES:
            client = getattr(cache.get(attr), "value", None)
            if isinstance(client, httpx.AsyncClient):
                del cache[attr]
                await client.aclose()

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        self.active = False
        self.refresh_clients()
        fal_client = import_fal_client()
        for (client_name, attr), value in self._caches.items():
            if value is not _ABSENT:
                vars(getattr(fal_client, client_name))[attr] = value
        for name, value in self._globals.items():
            setattr(fal_client.client, name, value)
        for name, value in self._env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._caches.clear()
        self._globals.clear()
        self._env.clear()

    def _set_env(self, name: str, value: str) -> None:
        self._env.setdefault(name, os.environ.get(name))
        os.environ[name] = value
