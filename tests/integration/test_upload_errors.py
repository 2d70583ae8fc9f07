"""Bad storage requests get fal's error shapes and statuses, never a 500 (raw HTTP, real socket)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx
import pytest

from mockserver.serving.background import BackgroundEmulator

KEY = {"Authorization": "Key test:key"}


def request_error(response: httpx.Response, status: int, error_type: str) -> str:
    """Assert fal's request-error shape; return the detail text."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "error_type"} and body["error_type"] == error_type
    assert response.headers["x-fal-error-type"] == error_type
    return body["detail"]


def input_error(response: httpx.Response, loc: list[Any], kind: str) -> None:
    """Assert fal's validation shape with one entry at ``loc``."""
    assert response.status_code == 422, response.text
    [entry] = response.json()["detail"]
    assert (entry["loc"], entry["type"]) == (loc, kind)


@pytest.fixture
def http(emulator: BackgroundEmulator) -> httpx.Client:
    with httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield client


def bearer(http: httpx.Client) -> dict[str, str]:
    token = http.post("/storage/auth/token?storage_type=fal-cdn-v3", headers=KEY, json={}).json()
    assert token["token_type"] == "Bearer" and token["expires_at"].endswith("+00:00")
    return {"Authorization": f"Bearer {token['token']}"}


def initiate(http: httpx.Client, path: str = "initiate", **body: Any) -> dict[str, str]:
    body = {"file_name": "a.png", "content_type": "image/png", **body}
    response = http.post(f"/storage/upload/{path}?storage_type=fal-cdn-v3", headers=KEY, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_cdn_upload_needs_a_valid_unexpired_token(
    http: httpx.Client, emulator: BackgroundEmulator
) -> None:
    headers = {"Content-Type": "image/png"}
    request_error(http.post("/files/upload", content=b"x", headers=headers), 401, "unauthorized")
    forged = {**headers, "Authorization": "Bearer emu-forged"}
    request_error(http.post("/files/upload", content=b"x", headers=forged), 401, "invalid_token")
    token = bearer(http)
    assert http.post("/files/upload", content=b"x", headers={**headers, **token}).status_code == 200
    emulator.call(emulator.services.clock.advance, 30 * 86400 + 1)  # a live token's lifetime
    expired = http.post("/files/upload", content=b"x", headers={**headers, **token})
    request_error(expired, 401, "token_expired")
    token_call = http.post("/storage/auth/token", json={})  # the token itself needs a key
    assert token_call.status_code == 401 and set(token_call.json()) == {"detail"}  # gateway's


def test_content_type_must_be_a_media_type(http: httpx.Client) -> None:
    token = bearer(http)
    for bad in ("not a type", "image", ""):
        refused = http.post("/files/upload", content=b"x", headers={**token, "Content-Type": bad})
        request_error(refused, 415, "unsupported_media_type")
    refused = http.post(
        "/storage/upload/initiate", headers=KEY, json={"file_name": "a", "content_type": "png"}
    )
    request_error(refused, 415, "unsupported_media_type")


def test_signed_put_checks_signature_type_and_expiry(
    http: httpx.Client, emulator: BackgroundEmulator
) -> None:
    urls = initiate(http)
    put = urls["upload_url"]
    assert http.get(urls["file_url"]).status_code == 404  # nothing uploaded yet
    forged = put.split("?")[0] + "?signature=forged"
    refused = http.put(forged, content=b"png", headers={"Content-Type": "image/png"})
    request_error(refused, 403, "invalid_upload_signature")
    refused = http.put(put, content=b"png", headers={"Content-Type": "image/jpeg"})
    request_error(refused, 415, "unsupported_media_type")
    assert http.put(put, content=b"png", headers={"Content-Type": "image/png"}).status_code == 200
    assert http.get(urls["file_url"]).content == b"png"
    later = initiate(http)
    emulator.call(emulator.services.clock.advance, 3601)
    refused = http.put(later["upload_url"], content=b"png", headers={"Content-Type": "image/png"})
    request_error(refused, 403, "upload_url_expired")


def then(upload_url: str, step: str | int, query: str | None = None) -> str:
    """``upload_url`` + ``/<step>``, its query kept, as @fal-ai/client builds part and complete
    URLs (``${origin}${pathname}/${partNumber}${search}``); ``query`` replaces it."""
    parts = urllib.parse.urlsplit(upload_url)
    kept = parts.query if query is None else query
    return urllib.parse.urlunsplit(parts._replace(path=f"{parts.path}/{step}", query=kept))


def test_unknown_and_forged_upload_ids(http: httpx.Client) -> None:
    urls = initiate(http, "initiate-multipart")
    upload_url = urls["upload_url"]
    file_url = urls["file_url"]
    forged = f"{file_url}/multipart/forged-id"
    request_error(http.put(f"{forged}/1", content=b"x"), 404, "upload_not_found")
    complete = {"parts": [{"partNumber": 1, "etag": '"x"'}]}
    request_error(http.post(f"{forged}/complete", json=complete), 404, "upload_not_found")
    # A real upload id presented under another file's URL is not accepted either.
    other = initiate(http, "initiate-multipart")["file_url"]
    upload_id = urllib.parse.urlsplit(upload_url).path.rsplit("/", 1)[1]
    moved = http.put(f"{other}/multipart/{upload_id}/1", content=b"x")
    request_error(moved, 404, "upload_not_found")
    base, _, last = file_url.rpartition("/")
    for unknown in (f"{base}/{'x' * 21}_a.png", f"{base}/{last[:21]}_b.png"):  # id, name
        missing = http.get(unknown)  # uploads and generated files: one namespace, one 404
        assert (missing.status_code, missing.json()) == (404, {"detail": "File not found"})


def test_multipart_upload_url_signature_is_kept_on_every_call(http: httpx.Client) -> None:
    upload_url = initiate(http, "initiate-multipart")["upload_url"]
    assert urllib.parse.urlsplit(upload_url).query  # the JS client must carry it along
    for query in ("", "signature=forged"):
        dropped = http.put(then(upload_url, 1, query), content=b"x")
        request_error(dropped, 403, "invalid_upload_signature")
    part = http.put(then(upload_url, 1), content=b"x")
    assert part.status_code == 200
    complete = {"parts": [{"partNumber": 1, "etag": part.json()["etag"]}]}
    unsigned = http.post(then(upload_url, "complete", ""), json=complete)
    request_error(unsigned, 403, "invalid_upload_signature")
    assert http.post(then(upload_url, "complete"), json=complete).status_code == 200


def test_multipart_part_numbers_and_etags_are_checked(http: httpx.Client) -> None:
    upload_url = initiate(http, "initiate-multipart")["upload_url"]
    input_error(http.put(then(upload_url, 0), content=b"x"), ["path", "part_number"], "int_parsing")
    input_error(
        http.put(then(upload_url, "one"), content=b"x"), ["path", "part_number"], "int_parsing"
    )
    part = http.put(then(upload_url, 1), content=b"first")
    assert part.status_code == 200 and part.json() == {
        "partNumber": 1,
        "etag": part.headers["etag"],
    }
    complete = then(upload_url, "complete")
    wrong = {"parts": [{"partNumber": 1, "etag": '"0000"'}]}
    request_error(http.post(complete, json=wrong), 400, "invalid_part")
    missing = {"parts": [{"partNumber": 2, "etag": part.headers["etag"]}]}
    request_error(http.post(complete, json=missing), 400, "invalid_part")
    input_error(http.post(complete, json={"parts": []}), ["body", "parts"], "list_type")
    good = {"parts": [{"partNumber": 1, "etag": part.headers["etag"].strip('"')}]}
    assert http.post(complete, json=good).status_code == 200


def test_initiate_input_errors(http: httpx.Client) -> None:
    missing = http.post("/storage/upload/initiate", headers=KEY, json={"file_name": "a.png"})
    input_error(missing, ["body", "content_type"], "missing")
    not_json = http.post("/storage/upload/initiate", headers=KEY, content=b"{nope")
    input_error(not_json, ["body", 1], "json_invalid")  # FastAPI's form: loc ends at the offset
    lifecycle = http.post(
        "/storage/upload/initiate",
        headers={**KEY, "X-Fal-Object-Lifecycle": '{"expiration_duration_seconds": -5}'},
        json={"file_name": "a", "content_type": "image/png"},
    )
    input_error(
        lifecycle,
        ["header", "x-fal-object-lifecycle", "expiration_duration_seconds"],
        "greater_than_equal",
    )
    for bad in ("NaN", "Infinity", '"3600"', "true"):
        never = http.post(
            "/storage/upload/initiate",
            headers={**KEY, "X-Fal-Object-Lifecycle": f'{{"expiration_duration_seconds": {bad}}}'},
            json={"file_name": "a", "content_type": "image/png"},
        )
        input_error(
            never,
            ["header", "x-fal-object-lifecycle", "expiration_duration_seconds"],
            "greater_than_equal",
        )
    for body in (b"NaN", b'{"file_name": NaN, "content_type": "image/png"}'):
        refused = http.post("/storage/upload/initiate", headers=KEY, content=body)
        assert refused.status_code == 422  # NaN is not JSON: every API reads bodies alike
        assert refused.json()["detail"][0]["type"] == "json_invalid"
    method = http.get("/storage/upload/initiate", headers=KEY)
    request_error(method, 405, "method_not_allowed")
    assert method.headers["allow"] == "POST"
