"""Who may use the control plane (``/_mock/*``: the control API, the dashboard and its JSON).

- **Token.** With an admin token (``--admin-token``, ``RAY2_MOCK_ADMIN_TOKEN``; ``serve`` makes
  one when it is bound beyond loopback without one), every control route but the open ones
  needs it: ``Authorization: Bearer <token>`` from programs, or HTTP basic auth with the token as
  the password (any user name) so a browser can open the dashboard. A refusal is a JSON 401,
  ``{"detail": ...}``, whatever the header holds; it challenges with ``Basic`` when the request
  asks for HTML (a browser's address bar: it shows its login dialog) and with ``Bearer``
  otherwise. Compared in constant time; never logged, journaled or written anywhere. Bound to
  loopback without a token, nothing is asked.
- **Open routes** (``OPEN_PATHS``): what holds nothing secret and what other programs need
  before they could know a token: the health check, the listener layout, the CA certificate
  (public by nature) and the webhook signing keys' JWKS (public keys, which fal publishes too).
- **Origin.** The control plane answers browsers only from its own origin (the dashboard):
  a request whose ``Origin`` is another is refused with a 403 before anything runs, so a page
  elsewhere can neither read the control API (no ``Access-Control-Allow-Origin: *`` here) nor
  drive it blind (a form post to ``/_mock/reset``, with basic auth the browser remembered).
  fal's own routes and the browser proxy keep their open CORS.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from mockserver.fal.errors import request_error

CONTROL_ROOT = "/_mock"
OPEN_PATHS = frozenset(
    {"/_mock/health", "/_mock/server", "/_mock/ca.pem", "/_mock/webhooks/jwks.json"}
)
"""Control routes that never ask for the token (``contracts/schemas/openapi.json`` declares
them with ``security: []``; every other ``/_mock`` operation names the admin schemes)."""
REALM = "ray2-mock"
PREFLIGHT_METHODS = "GET, HEAD, POST, DELETE"
PREFLIGHT_HEADERS = "authorization, content-type"

MISSING = (
    "This control route needs the admin token: send 'Authorization: Bearer <token>' (or basic "
    "auth with the token as the password). serve printed a token at start if it made one; "
    "otherwise it is --admin-token / RAY2_MOCK_ADMIN_TOKEN"
)
MALFORMED = (
    "Malformed Authorization header for the control plane: expected 'Bearer <token>' or "
    "'Basic <base64 of user:token>'"
)
WRONG = "The admin token does not match"
FOREIGN = (
    "The control plane answers only its own origin (the dashboard's); a page on another "
    "origin may use fal's routes and the browser proxy, not /_mock"
)


def is_control_path(path: str) -> bool:
    return path == CONTROL_ROOT or path.startswith(CONTROL_ROOT + "/")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def own_origin(scope: Scope) -> str:
    """The origin a page served by this listener has: its scheme and the ``Host`` it asked."""
    host = (_header(scope, b"host") or b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}".lower()


def presented_token(authorization: bytes) -> bytes | None:
    """The token a header carries (Bearer, or basic auth's password), None when it is
    malformed. Never raises, whatever the bytes."""
    scheme, _, rest = authorization.strip().partition(b" ")
    rest = rest.strip()
    if scheme.lower() == b"bearer":
        return rest or None
    if scheme.lower() == b"basic":
        try:
            decoded = base64.b64decode(rest, validate=True)
        except (binascii.Error, ValueError):
            return None
        _user, colon, password = decoded.partition(b":")
        return password if colon and password else None
    return None


def _wants_html(scope: Scope) -> bool:
    return b"text/html" in (_header(scope, b"accept") or b"")


class ControlAccess:
    """The gate in front of every control request (``Gateway`` calls ``admit``)."""

    def __init__(self, token: str | None) -> None:
        self._token = None if token is None else token.encode("ascii")

    @property
    def closed(self) -> bool:
        """Whether a token is required (an admin token is set)."""
        return self._token is not None

    def refusal(self, scope: Scope, origin: bytes | None) -> Response | None:
        """Why this control request may not run (None: it may)."""
        if origin is not None and origin.decode("latin-1").lower() != own_origin(scope):
            return request_error(403, FOREIGN, None, headers={"vary": "Origin"})
        if self._token is None or scope["path"] in OPEN_PATHS:
            return None
        if _is_preflight(scope):  # the browser's own check: it never carries credentials
            return None
        authorization = _header(scope, b"authorization")
        if authorization is None:
            return self._unauthorized(scope, MISSING)
        token = presented_token(authorization)
        if token is None:
            return self._unauthorized(scope, MALFORMED)
        if not hmac.compare_digest(token, self._token):
            return self._unauthorized(scope, WRONG)
        return None

    def _unauthorized(self, scope: Scope, detail: str) -> Response:
        scheme = "Basic" if _wants_html(scope) else "Bearer"
        challenge = f'{scheme} realm="{REALM}"'
        if scheme == "Basic":
            challenge += ', charset="UTF-8"'
        return request_error(401, detail, None, headers={"www-authenticate": challenge})

    async def admit(
        self, app: object, scope: Scope, receive: Receive, send: Send, origin: bytes | None
    ) -> None:
        """Refuse, answer the own origin's preflight, or run ``app`` (an ASGI callable) with
        the own origin allowed on the answer."""
        refused = self.refusal(scope, origin)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if origin is None:
            await app(scope, receive, send)  # type: ignore[operator]
            return
        if _is_preflight(scope):
            await Response(status_code=204, headers=_allow(origin, preflight=True))(
                scope, receive, send
            )
            return

        async def allowed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers += [(k.encode(), v.encode()) for k, v in _allow(origin).items()]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, allowed_send)  # type: ignore[operator]


def _is_preflight(scope: Scope) -> bool:
    return (
        scope["method"] == "OPTIONS"
        and _header(scope, b"access-control-request-method") is not None
    )


def _allow(origin: bytes, *, preflight: bool = False) -> dict[str, str]:
    """CORS headers for the own origin (the dashboard's) only: never ``*``."""
    headers = {"access-control-allow-origin": origin.decode("latin-1"), "vary": "Origin"}
    if preflight:
        headers |= {
            "access-control-allow-methods": PREFLIGHT_METHODS,
            "access-control-allow-headers": PREFLIGHT_HEADERS,
            "access-control-max-age": "600",
        }
    return headers
