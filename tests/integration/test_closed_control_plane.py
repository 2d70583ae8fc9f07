"""The control plane beyond loopback: `ray2-mock serve --host 0.0.0.0` as a real process, reached
over real sockets through 127.0.0.1 and, where the machine has one, its own network address.

Every `/_mock` operation of the OpenAPI document (not a hand list) is refused without the
admin token, with a wrong one and with malformed ones (a JSON 401, never a 500), and served
with it; the operations the document declares open answer anyone. fal's routes are unaffected,
and the token is found nowhere after start-up: not in the logs, the journal, the metrics or
the state dir (a token the run made: once, in the banner).
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.openapi import load_openapi
from mockserver.config import Config, is_usable_token
from mockserver.control.access import OPEN_PATHS, presented_token
from mockserver.serving.background import BackgroundEmulator
from tests.reliability.serveproc import ServeProcess, start_serve
from tests.support import TEST_KEY, machine_address, make_config, serve_process

TOKEN = "closed-plane-test-token-8f3a2c"
KEY = {"Authorization": f"Key {TEST_KEY}"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
T2V = "/fal-ai/luma-dream-machine/ray-2"
PATH_VALUES = {
    "request_id": "no-such-request",
    "name": "no-such-scenario",
    "file": "dashboard.css",
    "field": "image_url",
}
ENDLESS = "/_mock/ui/events"  # the dashboard's live feed never ends: read its head only
MALFORMED: list[bytes] = [
    b"Bearer",
    b"Token " + TOKEN.encode(),
    TOKEN.encode(),
    b"Basic !!!not-base64!!!",
    b"Basic " + base64.b64encode(b"no-colon-" + TOKEN.encode()),
    b"Basic " + base64.b64encode(b"user:"),
    b"Bearer \xff\xfe\x80",
    b"Basic \xc3\xa9\xc3\xa9",
    b"Bearer " + b"A" * 8000,
    b"Key " + TEST_KEY.encode(),  # fal's own scheme is no admin token
]
WRONG: list[bytes] = [
    b"Bearer " + TOKEN[:-1].encode(),
    b"Bearer " + TOKEN.upper().encode(),
    b"Basic " + base64.b64encode(b"admin:" + TOKEN.encode() + b"x"),
]


def control_operations() -> list[tuple[str, str, bool]]:
    """(method, concrete path, open?) of every /_mock operation the document declares."""
    found = []
    for template, item in load_openapi()["paths"].items():
        if not template.startswith("/_mock"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], template)
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "head", "patch"):
                found.append((method.upper(), path, operation.get("security") == []))
    return found


OPERATIONS = control_operations()
OPERATION_IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """Bound beyond loopback, the token given by its variable (as a container would)."""
    state = tmp_path_factory.mktemp("closed") / "state"
    served = start_serve(
        state,
        "--host",
        "0.0.0.0",
        "--timing",
        "instant",
        "--log-level",
        "debug",  # everything the emulator can say, access log included
        env={"RAY2_MOCK_ADMIN_TOKEN": TOKEN},
    )
    try:
        yield served
    finally:
        assert served.stop() == 0


@pytest.fixture(scope="module")
def base(closed: ServeProcess) -> str:
    return f"http://127.0.0.1:{closed.info.port}"


def call(
    base: str, method: str, path: str, authorization: bytes | None = None, **extra: Any
) -> httpx.Response:
    headers: dict[str, Any] = dict(extra.pop("headers", {}))
    if authorization is not None:
        headers["Authorization"] = authorization
    body = {} if method == "POST" else None
    if path == ENDLESS:
        with httpx.stream(method, base + path, headers=headers, timeout=10) as response:
            response.read() if response.status_code != 200 else None
            return response
    return httpx.request(method, base + path, headers=headers, json=body, timeout=30, **extra)


def assert_refused(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"] == "application/json", what
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str), what
    assert response.headers["www-authenticate"].startswith(("Bearer ", "Basic ")), what


def test_the_document_s_open_operations_are_the_gate_s() -> None:
    """What openapi.json declares open (empty security) is exactly what the server leaves
    open; every other /_mock operation names the admin schemes."""
    declared_open = {path for _, path, is_open in OPERATIONS if is_open}
    assert declared_open == OPEN_PATHS
    assert len(OPERATIONS) - len(declared_open) >= 24
    for template, item in load_openapi()["paths"].items():
        for operation in item.values():
            if template.startswith("/_mock") and operation.get("security"):
                names = {name for option in operation["security"] for name in option}
                assert names == {"adminToken", "adminBasic"}, template
                assert "401" in operation["responses"], template


@pytest.mark.parametrize(("method", "path", "is_open"), OPERATIONS, ids=OPERATION_IDS)
def test_every_control_operation_needs_the_token_beyond_loopback(
    base: str, method: str, path: str, is_open: bool
) -> None:
    anonymous = call(base, method, path)
    if is_open:
        assert anonymous.status_code in (200, 404), anonymous.text  # the CA: 404 without TLS
        return
    assert_refused(anonymous, f"{method} {path} without a token")
    for header in MALFORMED:
        assert_refused(call(base, method, path, header), f"{method} {path} with {header[:30]!r}")
    for header in WRONG:
        assert_refused(call(base, method, path, header), f"{method} {path} with a wrong token")
    served = call(base, method, path, f"Bearer {TOKEN}".encode())
    assert served.status_code not in (401, 403) and served.status_code < 500, (
        f"{method} {path} with the token: {served.status_code} {served.text[:200]}"
    )
    basic = base64.b64encode(f"anyone:{TOKEN}".encode())
    assert call(base, method, path, b"Basic " + basic).status_code == served.status_code


def test_a_browser_gets_the_login_dialog_and_the_dashboard_with_basic_auth(base: str) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    page = httpx.get(f"{base}/_mock/ui", headers=html)
    assert page.status_code == 401
    assert page.headers["www-authenticate"] == 'Basic realm="ray2-mock", charset="UTF-8"'
    assert "detail" in page.json()
    opened = httpx.get(f"{base}/_mock/ui", headers=html, auth=("whoever", TOKEN))
    assert opened.status_code == 200 and opened.headers["content-type"].startswith("text/html")
    script = httpx.get(f"{base}/_mock/ui/static/dashboard.js", auth=("x", TOKEN))
    assert script.status_code == 200
    program = httpx.get(f"{base}/_mock/journal")  # a program gets the Bearer challenge
    assert program.headers["www-authenticate"] == 'Bearer realm="ray2-mock"'


def test_fal_routes_are_unaffected(base: str) -> None:
    submitted = httpx.post(f"{base}{T2V}", json={"prompt": "a fox"}, headers=KEY, timeout=30)
    assert submitted.status_code == 200
    status = httpx.get(submitted.json()["status_url"], headers=KEY, timeout=30)
    assert status.status_code in (200, 202)
    keyless = httpx.post(f"{base}{T2V}", json={"prompt": "a fox"}, timeout=30)
    assert keyless.status_code == 401
    assert keyless.json() == {"detail": "Authorization header is required"}  # fal's, not ours
    # a page on another origin may still call fal's routes: their CORS stays open
    from_page = httpx.get(
        submitted.json()["status_url"], headers={**KEY, "Origin": "http://app.example"}
    )
    assert from_page.headers["access-control-allow-origin"] == "*"


def test_control_cors_answers_only_the_dashboard_s_own_origin(base: str) -> None:
    own = base  # the dashboard is served from the same origin
    same = httpx.get(f"{base}/_mock/journal", headers={**BEARER, "Origin": own})
    assert same.status_code == 200
    assert same.headers["access-control-allow-origin"] == own
    for origin in ("http://app.example", "null", f"http://127.0.0.2:{base.rsplit(':', 1)[1]}"):
        foreign = httpx.get(f"{base}/_mock/journal", headers={**BEARER, "Origin": origin})
        assert foreign.status_code == 403, origin
        assert "access-control-allow-origin" not in foreign.headers
        assert "detail" in foreign.json()
        preflight = httpx.options(
            f"{base}/_mock/reset",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers
    blind = httpx.post(  # a form on another page, posting to reset with remembered credentials
        f"{base}/_mock/reset",
        headers={**BEARER, "Origin": "http://app.example", "Content-Type": "text/plain"},
    )
    assert blind.status_code == 403


def test_a_control_path_stays_closed_whatever_target_header_it_carries(base: str) -> None:
    """x-fal-target-url classifies a request as fal's; on a control path it must not let it
    past the gate (or into the journal)."""
    sneaky = httpx.get(
        f"{base}/_mock/journal",
        headers={"x-fal-target-url": "https://queue.fal.run/fal-ai/luma-dream-machine/ray-2"},
    )
    assert_refused(sneaky, "a control path with x-fal-target-url")


def test_the_machine_s_own_address_is_closed_too(closed: ServeProcess) -> None:
    address = machine_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    remote = f"http://{address}:{closed.info.port}"
    assert httpx.get(f"{remote}/_mock/health", timeout=10).json() == {"status": "ok"}
    assert_refused(httpx.get(f"{remote}/_mock/journal", timeout=10), "via the machine's address")
    assert httpx.get(f"{remote}/_mock/journal", headers=BEARER, timeout=10).status_code == 200


def test_open_routes_say_where_it_listens_and_serve_its_ca(base: str, closed: ServeProcess) -> None:
    server = httpx.get(f"{base}/_mock/server").json()
    info = closed.info
    assert server == {
        "name": "ray2-mock",
        "port": info.port,
        "tls_port": info.tls_port,
        "proxy_port": info.proxy_port,
        "ca_url": "/_mock/ca.pem",
        "admin_token_required": True,
    }
    ca = httpx.get(f"{base}/_mock/ca.pem")
    assert ca.status_code == 200 and ca.headers["content-type"] == "application/x-pem-file"
    assert info.ca_cert is not None and ca.content == Path(info.ca_cert).read_bytes()
    assert httpx.get(f"{base}/_mock/health").json() == {"status": "ok"}


def test_the_token_is_never_logged_journaled_metered_or_stored(
    base: str, closed: ServeProcess
) -> None:
    """After every operation above (with the token, wrong tokens and malformed ones), plus the
    token sent by mistake to fal's routes (as a Bearer user token, which fal's key check takes):
    no trace of it anywhere readable."""
    httpx.post(f"{base}{T2V}", json={"prompt": "a fox"}, headers=BEARER, timeout=30)
    journal = httpx.get(f"{base}/_mock/journal", headers=BEARER).text
    metrics_json = httpx.get(f"{base}/_mock/metrics", headers=BEARER).text
    prometheus = httpx.get(f"{base}/_mock/metrics?format=prometheus", headers=BEARER).text
    ledger = httpx.get(f"{base}/_mock/ledger", headers=BEARER).text
    for name, text in (("journal", journal), ("metrics", metrics_json + prometheus)):
        assert TOKEN not in text and TOKEN[-8:] not in text, name
    assert TOKEN not in ledger
    assert TOKEN not in closed.log_text()
    state = Path(closed.info.ca_cert or "").parent.parent
    for path in state.rglob("*"):
        if path.is_file() and path != closed.log:
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in json.dumps(json.loads((state / "server.json").read_text()))


def test_a_run_without_a_token_makes_one_and_prints_it_once(tmp_path: Path) -> None:
    served = start_serve(tmp_path / "state", "--host", "0.0.0.0", "--timing", "instant")
    try:
        banner = served.log_text()
        found = re.search(r"admin token made for this run, shown only here: (\S+)", banner)
        assert found, banner
        token = found[1]
        assert len(token) >= 40 and is_usable_token(token)  # token_urlsafe(32): 256 bits
        base = f"http://127.0.0.1:{served.info.port}"
        assert_refused(httpx.get(f"{base}/_mock/journal"), "the generated token's plane")
        authorized = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/_mock/journal", headers=authorized).status_code == 200
        assert httpx.get(f"{base}/_mock/ui", auth=("me", token)).status_code == 200
    finally:
        assert served.stop() == 0
    log = served.log_text()
    assert log.count(token) == 1  # the banner line, and nowhere else
    assert token not in (tmp_path / "state" / "server.json").read_text()


def test_loopback_asks_no_token(tmp_path: Path) -> None:
    """The default bind: nothing changes (the rest of the suite runs this way throughout)."""
    with serve_process(tmp_path / "state") as info:
        assert httpx.get(f"{info.url}/_mock/journal").status_code == 200
        assert httpx.post(f"{info.url}/_mock/reset").status_code == 200
        assert httpx.get(f"{info.url}/_mock/ui").status_code == 200
        assert httpx.get(f"{info.url}/_mock/server").json()["admin_token_required"] is False


def test_a_token_given_on_loopback_is_required_there_too(tmp_path: Path) -> None:
    config = make_config(tmp_path, admin_token=TOKEN)
    with BackgroundEmulator(config) as running:
        assert_refused(httpx.get(f"{running.url}/_mock/scenarios"), "loopback with a token")
        assert httpx.get(f"{running.url}/_mock/scenarios", headers=BEARER).status_code == 200


def test_an_app_bound_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    """Fail closed: a Config on 0.0.0.0 with no token never serves an open control plane
    (serve makes one; a program using BackgroundEmulator must pass its own)."""
    with pytest.raises(ValueError, match="needs an admin token"):
        BackgroundEmulator(make_config(tmp_path, host="0.0.0.0"))
    for host in ("127.0.0.1", "127.8.9.10", "::1", "localhost"):
        assert Config(host=host).on_loopback, host
    for host in ("0.0.0.0", "::", "", "10.0.0.5", "example.internal"):
        assert not Config(host=host).on_loopback, host


def raw_get(base: str, path: str, authorization: bytes) -> tuple[int, bytes]:
    """GET with an Authorization header no HTTP client library would send (raw bytes)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode()
            + b"\r\nConnection: close\r\nAuthorization: " + authorization + b"\r\n\r\n"
        )  # fmt: skip
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "header",
    [b"Bearer    ", b"Bearer \x01\x02", b"Basic \x7f\x7f", b"   ", b"Bearer\t" + TOKEN.encode()],
)
def test_odd_bytes_in_the_header_are_refused_never_a_500(base: str, header: bytes) -> None:
    """The HTTP server may refuse some bytes itself (400) before the gate sees them; what
    reaches the gate gets its JSON 401. Never a 500, never the journal."""
    status, body = raw_get(base, "/_mock/journal", header)
    assert status in (400, 401), (status, body[:200])
    if status == 401:
        assert list(json.loads(body)) == ["detail"]


@pytest.mark.parametrize("header", [*MALFORMED, b"", b" ", b"Basic", b"Basic " + b"=" * 9])
def test_reading_the_presented_token_never_raises(header: bytes) -> None:
    token = presented_token(header)
    assert token is None or isinstance(token, bytes)


def test_a_bad_admin_token_is_refused_without_echoing_it() -> None:
    for bad in ("short", "has space in it", "tab\there-xxxx", "é" * 10, "x" * 513):
        with pytest.raises(ValueError) as refused:
            Config(admin_token=bad)
        assert bad not in str(refused.value)
