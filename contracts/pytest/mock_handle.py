"""``Ray2Mock``: what a test holds while the emulator runs and ``fal_client`` is routed to it.

Clock and reset act on the emulator's state directly (same process, run on its loop, so they take
effect before the call returns); journal and scenarios go through the documented ``/_mock`` control
API, so a test sees exactly what any other client of the emulator would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from contracts.pytest.fal_routing import FalClientRoute
from mockserver.fal.auth import LOCAL_KEY

if TYPE_CHECKING:
    import httpx

    from mockserver.config import Config
    from mockserver.serving.background import BackgroundEmulator

FAKE_KEY = LOCAL_KEY
CONTROL_TIMEOUT = 10.0


class Ray2MockError(RuntimeError):
    """The control API refused a call (the message carries its status and body)."""


class Ray2Mock:
    def __init__(self, emulator: BackgroundEmulator, route: FalClientRoute) -> None:
        self.emulator = emulator
        self.route = route
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        """Plain-HTTP base URL (queue at the root, sync run under ``/run``)."""
        return self.emulator.url

    @property
    def config(self) -> Config:
        return self.emulator.config

    # -- control API --------------------------------------------------------------------------

    @property
    def journal(self) -> list[dict[str, Any]]:
        """Every request the emulator saw, oldest first (``GET /_mock/journal``)."""
        body = self._control("GET", "/_mock/journal")
        return body["entries"] if isinstance(body, dict) and "entries" in body else body

    def scenario(self, spec: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Install a scenario (``POST /_mock/scenarios``): ``match``, ``times`` and effects such
        as ``error``, ``http_error``, ``latency`` (the scenario format of docs/failures.md)."""
        return self._control("POST", "/_mock/scenarios", {**(spec or {}), **fields})

    def fail_next(
        self, error_type: str = "internal_server_error", *, count: int = 1, **error: Any
    ) -> dict[str, Any]:
        """Make the next ``count`` requests created (submit or sync run) fail with fal's
        ``error_type``; ``error`` adds ``status``, ``message``, ``retryable``, ``loc``."""
        return self.scenario(
            match={"route": ["submit", "run"]},
            times=count,
            error={"type": error_type, **error},
        )

    # -- direct state -------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward and apply every transition that became due."""
        state = self.emulator.services

        def move() -> None:
            state.clock.advance(seconds)
            state.queue.advance()

        self.emulator.call(move)

    def reset(self) -> None:
        """Forget every request (and, with the control API, journal and scenarios too)."""
        response = self._request("POST", "/_mock/reset")
        if response.status_code in (404, 405):  # a build without the control API
            self.emulator.call(self.emulator.services.store.clear)
        else:
            self._check(response)

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        if self._http is None:
            import httpx

            # trust_env=False: a proxy in the environment must not sit between a test and loopback.
            # An emulator given an admin token closes its control plane: every call sends it.
            token = self.config.admin_token
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            self._http = httpx.Client(
                base_url=self.url, trust_env=False, timeout=CONTROL_TIMEOUT, headers=headers
            )
        return self._http.request(method, path, json=body)

    def _check(self, response: httpx.Response) -> Any:
        if response.is_error:
            raise Ray2MockError(
                f"{response.request.method} {response.request.url.path} -> "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        return self._check(self._request(method, path, body))


@contextlib.contextmanager
def running_mock(config: Config) -> Iterator[Ray2Mock]:
    """Start an emulator in a background thread, route ``fal_client`` to it, undo both after."""
    from mockserver.serving.background import BackgroundEmulator

    with (
        BackgroundEmulator(config) as emulator,
        FalClientRoute(emulator.url, default_key=config.own_key or FAKE_KEY) as route,
    ):
        mock = Ray2Mock(emulator, route)
        try:
            yield mock
        finally:
            mock.close()
