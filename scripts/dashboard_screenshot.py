"""Regenerate docs/dashboard.png: `.venv/bin/python scripts/dashboard_screenshot.py`.

Starts an emulator, sends a few requests (one image-to-video with first and last frames, others
still queued or running), opens the dashboard in Debian's Chromium and saves a palette PNG small
enough to commit (docs/dashboard.png).
"""

from __future__ import annotations

import base64
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import sync_playwright

from mockserver.config import Config
from mockserver.serving.background import BackgroundEmulator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AUTH = {"Authorization": "Key docs"}
T2V = "fal-ai/luma-dream-machine/ray-2"
I2V = "fal-ai/luma-dream-machine/ray-2/image-to-video"
MODERATION = {
    "name": "moderation",
    "match": {"input": {"prompt": "(?i)forbidden"}},
    "error": {"type": "content_policy_violation"},
}


def data_uri(path: Path, media_type: str) -> str:
    return f"data:{media_type};base64," + base64.b64encode(path.read_bytes()).decode()


def main(out: Path) -> None:
    images = ROOT / "fixtures" / "images"
    with tempfile.TemporaryDirectory() as state:
        config = Config(
            port=0, tls_port=0, state_dir=Path(state), store="memory", timing="fast", capacity=1
        )
        with BackgroundEmulator(config) as emulator, sync_playwright() as pw:
            http = httpx.Client(base_url=emulator.url, headers=AUTH, timeout=30)
            # Shown in the Scenarios panel where the control API exists (a 404 otherwise).
            http.post("/_mock/scenarios", json=MODERATION)
            http.post(f"/{T2V}", json={"prompt": "Drone shot over a glacier", "duration": "9s"})
            i2v = http.post(
                f"/{I2V}",
                json={
                    "prompt": "The sunrise slowly fills the valley with warm light",
                    "image_url": data_uri(images / "start.png", "image/png"),
                    "end_image_url": data_uri(images / "end.jpg", "image/jpeg"),
                    "aspect_ratio": "16:9",
                },
            ).json()
            while http.get(i2v["status_url"]).json()["status"] != "COMPLETED":
                time.sleep(0.1)
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1040})
            page.goto(emulator.url + "/_mock/ui")
            page.wait_for_selector("body[data-ready]")
            page.fill("#field-prompt", "A red fox running through fresh snow at dawn")
            page.locator(f'tr[data-id="{i2v["request_id"]}"] .prompt-button').click()
            page.wait_for_function("document.getElementById('detail-video').readyState >= 2")
            page.evaluate(
                """() => new Promise((resolve) => {
                    const video = document.getElementById('detail-video');
                    video.addEventListener('seeked', resolve, {once: true});
                    video.currentTime = 2.5;
                })"""
            )
            # Two more requests, so the list shows one running and one still queued.
            for prompt, ratio, pause in (
                ("Neon city street in the rain", "9:16", 1.5),
                ("A koi pond seen from above", "4:3", 0.2),
            ):
                http.post(
                    f"/{T2V}", json={"prompt": prompt, "aspect_ratio": ratio, "resolution": "720p"}
                )
                time.sleep(pause)
            page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
            page.mouse.move(1270, 990)  # no hover underline where the rows moved under it
            raw = out.with_suffix(".raw.png")
            page.screenshot(path=str(raw))
            browser.close()
    Image.open(raw).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    raw.unlink()
    print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png")
