"""Fidelity points with the unmodified fal_client: URLs, images offline, coercions, notes."""

from __future__ import annotations

import re

import fal_client
import httpx

from mockserver.serving.background import BackgroundEmulator

T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
OUTPUT_URL = re.compile(r"/files/b/[0-9a-f]{8}/[A-Za-z0-9_-]{21}_output\.mp4$")


def test_identical_requests_get_their_own_urls_and_the_same_bytes(
    fal: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    """fal uploads every result under a new id: a client that caches or de-duplicates by URL
    must see two files, even though the emulator rendered the clip once."""
    arguments = {"prompt": "the same request twice"}
    first, second = (fal.subscribe(T2V, arguments=arguments)["video"] for _ in range(2))
    assert first["url"] != second["url"]
    assert OUTPUT_URL.search(first["url"]) and OUTPUT_URL.search(second["url"])
    assert first["url"].rsplit("/", 1)[1] != second["url"].rsplit("/", 1)[1]  # file names too
    one, two = httpx.get(first["url"]), httpx.get(second["url"])
    assert one.status_code == two.status_code == 200
    assert one.content == two.content and len(one.content) == first["file_size"]
    assert httpx.get(first["url"].replace("_output", "_other")).status_code == 404


def test_a_foreign_image_url_completes_offline_with_a_note(
    fal: fal_client.SyncClient, emulator: BackgroundEmulator
) -> None:
    url = "https://my-bucket.s3.amazonaws.com/users/7/start.png"
    handle = fal.submit(I2V, arguments={"prompt": "from my bucket", "image_url": url})
    video = handle.get()["video"]
    assert httpx.get(video["url"]).status_code == 200
    final = handle.status(with_logs=True)
    assert not any("placeholder" in line["message"] for line in final.logs or [])
    entries = httpx.get(
        f"{emulator.url}/_mock/journal", params={"request_id": handle.request_id}
    ).json()["entries"]
    notes = {note for entry in entries for note in entry["emulator_notes"]}
    assert any("image_url" in note and "placeholder" in note for note in notes), notes
    detail = httpx.get(f"{emulator.url}/_mock/ui/requests/{handle.request_id}").json()
    assert any("placeholder" in note for note in detail["notes"])


def test_lax_values_reach_the_model_coerced(fal: fal_client.SyncClient) -> None:
    """pydantic accepts "yes" for a boolean: the model renders the looping clip it means."""

    def clip(loop: object) -> bytes:
        video = fal.run(T2V, arguments={"prompt": "a looping fox", "loop": loop})["video"]
        return httpx.get(video["url"]).content

    assert clip("yes") == clip(True) != clip(False)
