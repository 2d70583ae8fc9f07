"""fal's storage answers, compared with live answers captured in 2026-09
(``tests/fixtures/evidence/fal-cdn-*.json``): raw HTTP against the real server."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator
from tests.support import CDN_FILE_PATH, EVIDENCE

KEY = {"Authorization": "Key test:key"}
TOKEN_PATH = "/storage/auth/token?storage_type=fal-cdn-v3"


def captured(name: str) -> dict[str, Any]:
    """A captured answer, its keys in the order they came."""
    return json.loads((EVIDENCE / name).read_bytes())


def shape(timestamp: str) -> str:
    """A timestamp's form, every digit a 0: ``0000-00-00T00:00:00.000000+00:00``."""
    return re.sub(r"\d", "0", timestamp)


def lifetime(token: dict[str, Any]) -> float:
    issued, expires = (datetime.fromisoformat(token[k]) for k in ("created_at", "expires_at"))
    return (expires - issued).total_seconds()


@pytest.fixture
def http(emulator: BackgroundEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield client


def test_cdn_token_has_the_live_fields_in_order_and_their_formats(http: httpx.Client) -> None:
    live = captured("fal-cdn-token.json")
    answer = http.post(TOKEN_PATH, headers=KEY, json={})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    token = answer.json()
    assert list(token) == list(live)
    assert token["token_type"] == live["token_type"]
    for field in ("created_at", "expires_at"):
        assert shape(token[field]) == shape(live[field]), field


def test_cdn_token_lasts_as_long_as_a_live_one(
    http: httpx.Client, emulator: BackgroundEmulator
) -> None:
    live = captured("fal-cdn-token.json")
    token = http.post(TOKEN_PATH, headers=KEY, json={}).json()
    assert lifetime(token) == lifetime(live) == 30 * 86400
    upload = {"Authorization": f"Bearer {token['token']}", "Content-Type": "text/plain"}
    emulator.call(emulator.services.clock.advance, lifetime(live) - 60)
    assert http.post("/files/upload", content=b"x", headers=upload).status_code == 200
    emulator.call(emulator.services.clock.advance, 120)
    assert http.post("/files/upload", content=b"x", headers=upload).status_code == 401


def test_cdn_token_base_url_is_fals_file_host_or_the_emulator(
    http: httpx.Client, emulator: BackgroundEmulator
) -> None:
    live = captured("fal-cdn-token.json")
    through_fal = http.post(TOKEN_PATH, headers={**KEY, "Host": "rest.fal.ai"}, json={})
    assert through_fal.json()["base_url"] == live["base_url"]
    assert http.post(TOKEN_PATH, headers=KEY, json={}).json()["base_url"] == emulator.url


def bearer(http: httpx.Client, **headers: str) -> dict[str, str]:
    token = http.post(TOKEN_PATH, headers={**KEY, **headers}, json={}).json()
    return {"Authorization": f"{token['token_type']} {token['token']}"}


def test_single_upload_answer_is_the_live_one(http: httpx.Client) -> None:
    live = captured("fal-cdn-upload.json")
    sent = {**bearer(http), "Content-Type": "audio/wav", "X-Fal-File-Name": "line.wav"}
    answer = http.post("/files/upload", content=b"RIFF wav", headers=sent)
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == list(live) and body["uploaded"] is live["uploaded"]


def test_uploaded_files_get_fals_url_shape_and_are_served_without_a_key(
    http: httpx.Client, emulator: BackgroundEmulator
) -> None:
    live = urllib.parse.urlsplit(captured("fal-cdn-upload.json")["access_url"])
    assert CDN_FILE_PATH.search(live.path)["name"] == "line.wav"  # the rule fits the capture
    sent = {"Content-Type": "audio/wav", "X-Fal-File-Name": "line.wav"}
    ways = (  # (headers of the upload, origin of the URL it gets)
        ({**bearer(http, Host="rest.fal.ai"), "Host": "v3.fal.media"}, f"https://{live.netloc}"),
        (bearer(http), emulator.url),  # loopback: the emulator's own origin
    )
    for headers, origin in ways:
        answer = http.post("/files/upload", content=b"RIFF wav", headers={**headers, **sent})
        url = urllib.parse.urlsplit(answer.json()["access_url"])
        assert f"{url.scheme}://{url.netloc}" == origin
        assert CDN_FILE_PATH.search(url.path)["name"] == "line.wav"
        served = http.get(url.path)  # no key
        assert (served.status_code, served.content) == (200, b"RIFF wav")
        assert served.headers["content-type"] == "audio/wav"


@pytest.mark.parametrize("path", ["auth/token", "upload/initiate", "upload/initiate-multipart"])
def test_storage_types_but_fal_cdn_v3_get_fals_400(http: httpx.Client, path: str) -> None:
    body = {"file_name": "a.png", "content_type": "image/png"}
    for kind in ("gcs", "fal-cdn", "s3", ""):  # gcs: live 2026-09-27; the others: INF, alike
        refused = http.post(f"/storage/{path}?storage_type={kind}", headers=KEY, json=body)
        assert (refused.status_code, refused.content) == (400, b'{"detail":"Invalid storage type"}')
        assert "x-fal-error-type" not in refused.headers
    for query in ("?storage_type=fal-cdn-v3", ""):  # no storage_type at all: INF, accepted
        assert http.post(f"/storage/{path}{query}", headers=KEY, json=body).status_code == 200
