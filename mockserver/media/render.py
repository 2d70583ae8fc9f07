"""Synthetic Ray 2 videos: one ffmpeg process per file, cached by content.

How a frame is made (the cheapest valid encoding we measured with the bundled ffmpeg n9.0.2):
Pillow draws one still (background colour + parameter panel) and saves it as PPM; ffmpeg decodes it
once, loops that frame, overlays a few solid `color` sources whose x/y are per-frame expressions of
`t` (this ffmpeg's drawbox evaluates its position only once, so drawbox boxes cannot move), and
encodes with x264 `ultrafast`. Measured at 1080p/9s in CPU seconds: the looped still alone 2.2 s,
with the moving overlays 2.6 s; x264's per-macroblock analysis is the floor, so the filter side has
little left to win. A full-frame animated `gradients` source costs ~6x; Pillow-made frames piped in
~1.8x (`make bench`, encoding_options). Repeating a 1 s encoded segment costs ~0.3x, but it cannot
show a timeline that runs once through the clip, and loop=false could not end elsewhere, so no.

Request id vs cache: files are content-addressed by their parameters (see `cache.py`), so a cached
repeat cannot draw the new request's id. The frame therefore shows the cache key ("id ...") instead
of the request id: it is the stem of the served file name, so a developer can match a URL, a file
and a frame, and the same parameters always give byte-identical files. The request id stays with
the queue's record; the log lines returned per request say whether it rendered the file, joined a
render in progress, or reused a cached one.

Image-to-video: the first and last stills (input images cover-scaled, a placeholder for an
unreachable fal URL, or the title still when no start image is given) are joined by a wipe over the
whole clip, with the boxes and panel on the frames in between (see `i2v_graph`). No end image:
loop=true ends on the first image, loop=false on a push-in of it. end_image_url wins over loop.

Video-to-video (reframe, modify): the input video itself is decoded into the frames; the rules
live in `v2v.py`. Which rule an endpoint follows is data (`endpoints.json`'s `render`), and so is
the label its frames show.

Motion: each box moves along p(u) = p0 + (p1 - p0)·u + a·(sin(2πku + φ) - sin φ), u = frame/(N-1).
With loop=true p1 = p0 and k is an integer, so the last frame equals the first; with loop=false the
boxes end elsewhere and a progress bar fills up, so the last frame differs visibly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import imageio_ffmpeg

from contracts.schemas.endpoints import ENDPOINT_FACTS, input_fields
from contracts.schemas.geometry import DEFAULTS, FPS, SourceVideo, VideoSpec, output_spec
from mockserver.config import RemoteImages

from .cache import KEY_LENGTH, DiskCache, SingleFlight, cache_key, is_valid_key
from .drawing import (
    PROMPT_MAX_CHARS,
    PROMPT_MAX_LINES,
    Layout,
    Look,
    ffmpeg_number,
    layout_for,
    look_for,
    motion_layers,
    overlay_chain,
    panel_font,
    save_still,
    still_input,
    wrap_text,
)
from .images import ImageInput, frame_image, load_image_input, placeholder_image
from .v2v import plan_for
from .videos import PLACEHOLDER_SOURCE, VideoInput, load_video_input

if TYPE_CHECKING:  # PIL is imported where it draws: start-up draws nothing
    from PIL import Image

# Bump when the drawing or encoding changes: old cache keys then simply stop being produced.
RENDER_VERSION = 2
PLACEHOLDER_RULE = "placeholder"
"""A job that renders a foreign video's placeholder clip itself (``placeholder_clip``)."""


def label_of(endpoint_id: str) -> str:
    """What the frames call an endpoint (``endpoints.json``'s ``label``)."""
    facts = ENDPOINT_FACTS.get(endpoint_id)
    return facts.label if facts and facts.label else endpoint_id.rsplit("/", 1)[-1]


def rule_of(endpoint_id: str) -> str:
    """How an endpoint's output is made (``endpoints.json``'s ``render``)."""
    facts = ENDPOINT_FACTS.get(endpoint_id)
    return facts.render if facts else "generate"


# Output encoding. Fixed thread count: x264 writes its settings (threads=N) into the stream, so a
# machine-dependent "auto" would break byte-identical output across machines.
ENCODE_ARGS: tuple[str, ...] = (
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
    "-g", "120", "-threads", "4", "-r", str(FPS),
    "-an", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
    "-movflags", "+faststart", "-f", "mp4",
)  # fmt: skip

JOBS_REMEMBERED = 1024
"""Text-only jobs kept by their arguments (``VideoRenderer.cached``)."""
RENDER_TIMEOUT_S = 120.0
# ffmpeg runs at a lower CPU priority so the event loop (status polls, submits) wins on a busy
# machine: on a loaded 2-core box (load 11), status p99 during 8 renders went from 25 ms to 6 ms.
RENDER_NICENESS = 10


@dataclass(frozen=True)
class RenderRequest:
    """What the app asks for: validated arguments with defaults applied."""

    endpoint_id: str
    arguments: Mapping[str, Any]
    request_id: str


@dataclass(frozen=True)
class RenderedVideo:
    """A finished file in the cache; `key` is its name stem and the id drawn in its frames."""

    key: str
    path: Path
    file_name: str
    file_size: int
    content_type: str = "video/mp4"
    log_lines: tuple[str, ...] = ()
    spec: VideoSpec | None = None
    """What the file holds (size, frame rate, frames)."""
    source: SourceVideo | None = None
    """The input video of a video-to-video request, as read back (its seconds are billed)."""


def text_lines(
    spec: VideoSpec, arguments: Mapping[str, Any], endpoint_id: str, key: str, wrap: Callable
) -> list[str]:
    """The parameters a developer should read off any frame."""
    loop = "on" if arguments.get("loop") else "off"
    mode = label_of(endpoint_id)
    prompt = " ".join(str(arguments.get("prompt") or "").split())
    if len(prompt) > PROMPT_MAX_CHARS:  # only ~3 lines fit; long prompts would only cost time
        prompt = prompt[:PROMPT_MAX_CHARS] + "…"
    values = {name: arguments.get(name) or default for name, default in DEFAULTS.items()}
    return [
        f"ray2-mock · {mode}",
        *wrap(f"“{prompt}”"),
        f"{values['aspect_ratio']} · {values['resolution']} · {spec.width}x{spec.height}",
        f"{values['duration']} · {spec.frame_count} frames @ {spec.fps} fps · loop {loop}",
        f"id {key}",
    ]


def draw_panel(
    spec: VideoSpec, look: Look, arguments: Mapping[str, Any], endpoint_id: str, key: str
) -> tuple[Image.Image, Layout]:
    """The parameter panel (opaque, text on the look's dark colour), placed at (margin, margin)."""
    from PIL import Image, ImageDraw  # on first use: start-up draws nothing

    font = panel_font(max(12, round(min(spec.width, spec.height) / 24)))
    max_w = spec.width - 3 * layout_for(spec, 0).margin
    lines = text_lines(
        spec, arguments, endpoint_id, key, lambda s: wrap_text(s, font, max_w, PROMPT_MAX_LINES)
    )
    lay = layout_for(spec, len(lines))
    line_h = round(lay.font_px * 1.25)
    pad = lay.margin // 2
    width = max(int(font.getlength(line)) for line in lines) + 2 * pad
    height = lay.free_top - lay.margin // 2 - lay.margin
    panel = Image.new("RGB", (width // 2 * 2, height // 2 * 2), look.panel)
    draw = ImageDraw.Draw(panel)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, font=font, fill="white")
    return panel, lay


def draw_still(
    spec: VideoSpec, look: Look, arguments: Mapping[str, Any], endpoint_id: str, key: str
) -> tuple[Image.Image, Layout]:
    """Background colour with the parameter panel in the top-left corner."""
    from PIL import Image  # on first use: start-up draws nothing

    panel, lay = draw_panel(spec, look, arguments, endpoint_id, key)
    image = Image.new("RGB", (spec.width, spec.height), look.background)
    image.paste(panel, (lay.margin, lay.margin))
    return image, lay


def push_in(image: Image.Image, zoom: float = 1.25) -> Image.Image:
    """The centre of `image` enlarged: the implied camera move when no end frame is given."""
    from PIL import Image  # on first use: start-up draws nothing

    w, h = image.size
    cw, ch = round(w / zoom), round(h / zoom)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return image.resize((w, h), Image.Resampling.BILINEAR, box=box)


def t2v_graph(spec: VideoSpec, look: Look, lay: Layout, loop: bool) -> str:
    layers = motion_layers(spec, look, lay, loop)
    return f"{still_input(0, spec)}[bg];" + overlay_chain("[bg]", layers, spec)


def i2v_graph(spec: VideoSpec, look: Look, lay: Layout, loop: bool, last_is_image: bool) -> str:
    """Inputs 0/1 are the first/last stills, 2 the panel. A wipe over the whole clip carries the
    first frame into the last; boxes and panel show on the frames in between only, so the first
    (and, when pinned, the last) frame is the input image itself.

    Wipe, not crossfade: only a moving edge changes per frame, so x264 codes little. Measured at
    1080p/5s (CPU s, file size): wipeleft 2.6 s / 0.13 MB, fade 3.0 s / 1.4 MB, dissolve 12 s."""
    last = spec.frame_count - 2 if last_is_image else spec.frame_count - 1
    enable = f"between(n,1,{last})"
    fade = ffmpeg_number((spec.frame_count - 1) / spec.fps)
    return ";".join(
        [
            # xfade works in yuv444p: convert the stills once, not every frame.
            f"{still_input(0, spec, 'yuv444p')}[a]",
            f"{still_input(1, spec, 'yuv444p')}[b]",
            f"{still_input(2, spec)}[p]",
            f"[a][b]xfade=transition=wipeleft:duration={fade}:offset=0,format=yuv420p[x]",
            f"[x][p]overlay=x={lay.margin}:y={lay.margin}:enable='{enable}'[y]",
            overlay_chain("[y]", motion_layers(spec, look, lay, loop), spec, enable),
        ]
    )


def ffmpeg_command(
    ffmpeg: str, inputs: Sequence[Path], graph: str, spec: VideoSpec, out: Path
) -> list[str]:
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    for path in inputs:
        cmd += ["-i", str(path)]
    cmd += ["-filter_complex", graph, "-map", "[v]", "-frames:v", str(spec.frame_count)]
    return [*cmd, *ENCODE_ARGS, str(out)]


def _lower_priority(pid: int) -> None:
    """Renice a just-started ffmpeg; its worker threads, created later, inherit the value."""
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, RENDER_NICENESS)


def ffmpeg_version(ffmpeg: str) -> str:
    out = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=30)
    return (out.stdout.splitlines() or ["unknown"])[0]


@functools.cache
def ffmpeg_probe(ffmpeg_exe: str | None = None) -> concurrent.futures.Future[tuple[str, str]]:
    """The ffmpeg binary (``imageio_ffmpeg``'s unless given) and its version line, found once
    per process in a thread of its own: finding and asking it run two processes, which a
    start-up (the pytest fixture's first of all) need not wait for."""
    found: concurrent.futures.Future[tuple[str, str]] = concurrent.futures.Future()

    def probe() -> None:
        try:
            exe = ffmpeg_exe or imageio_ffmpeg.get_ffmpeg_exe()
            found.set_result((exe, ffmpeg_version(exe)))
        except BaseException as exc:  # every user of the answer sees the failure
            found.set_exception(exc)

    threading.Thread(target=probe, name="ray2-ffmpeg-probe", daemon=True).start()
    return found


# ---------------------------------------------------------------------------------------------
# The renderer the app calls


@dataclass
class _Job:
    key: str
    spec: VideoSpec
    endpoint_id: str
    arguments: Mapping[str, Any]
    request_id: str
    log_lines: tuple[str, ...] = ()
    images: dict[str, ImageInput] = field(default_factory=dict)  # field name -> resolved input
    rule: str = "generate"
    video: VideoInput | None = None


class VideoRenderer:
    """Renders, caches and finds synthetic videos.

    Bounded: at most `max_workers` renders run at once (a thread pool whose threads mostly wait on
    ffmpeg). Non-blocking: the event loop only hashes parameters and awaits a future. Single-flight:
    concurrent requests for one key share one render. Loop-agnostic: futures are
    concurrent.futures, so any event loop (app, TestClient, bench) can await them.
    """

    def __init__(
        self,
        media_dir: Path,
        *,
        max_workers: int = 2,
        remote_images: RemoteImages = "placeholder",
        resolve_local_url: Callable[[str], Path | None] | None = None,
        ffmpeg_exe: str | None = None,
        render_timeout: float = RENDER_TIMEOUT_S,
    ) -> None:
        self.media_dir = Path(media_dir)
        self.remote_images = remote_images
        self.resolve_local_url = resolve_local_url
        self.render_timeout = render_timeout
        self._probe = ffmpeg_probe(ffmpeg_exe)
        self._cache = DiskCache(self.media_dir)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="ray2-render"
        )
        self._flights = SingleFlight()
        self._known: dict[str, RenderedVideo] = {}
        self._jobs_now: dict[tuple[Any, ...], _Job] = {}
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._procs_lock = threading.Lock()
        self._closed = False
        self.renders_started = 0  # how many ffmpeg encodes ran; tests assert single-flight with it
        self._waiting: set[asyncio.Future[RenderedVideo]] = set()  # renders callers await

    @property
    def _ffmpeg(self) -> str:
        return self._probe.result()[0]

    @property
    def _ffmpeg_version(self) -> str:
        """Part of every cache key: another ffmpeg may encode other bytes."""
        return self._probe.result()[1]

    async def _probed(self) -> None:
        """Wait for the ffmpeg probe (only the first render may) without holding the loop."""
        if not self._probe.done():
            await asyncio.to_thread(self._probe.exception)

    # -- public ---------------------------------------------------------------------------------

    async def render(self, req: RenderRequest) -> RenderedVideo:
        if self._closed:
            raise RuntimeError("VideoRenderer is closed")
        await self._probed()
        return await self._produce(await self._prepare(req))

    def cached(self, req: RenderRequest) -> RenderedVideo | None:
        """What ``render`` would return when it needs neither an input file nor ffmpeg: the
        cached file of a text-only request, found without a coroutine (the queue completes
        such a request without a task of its own); None otherwise."""
        if self._closed or not self._probe.done() or self._probe.exception() is not None:
            return None  # the key needs ffmpeg's version: render() waits for it
        job = self._job_now(req)
        hit = None if job is None else self._lookup(job.key)
        if job is None or hit is None:
            return None
        lines = (*job.log_lines, f"reused cached render {job.key}")
        return RenderedVideo(
            hit.key, hit.path, hit.file_name, hit.file_size, hit.content_type, lines, job.spec
        )

    def _job_now(self, req: RenderRequest) -> _Job | None:
        """``_prepare_now``, remembered by endpoint and arguments: a client repeating one
        request (a test suite, a load test) pays for its key's hash once."""
        try:
            # with each value's type: True == 1, but they hash into different keys
            memo_key = (req.endpoint_id, *((k, type(v), v) for k, v in req.arguments.items()))
            job = self._jobs_now.get(memo_key)
        except TypeError:  # an argument that is a list or an object: not remembered
            return self._prepare_now(req)
        if job is None:
            job = self._prepare_now(req)
            if job is not None:
                if len(self._jobs_now) >= JOBS_REMEMBERED:
                    self._jobs_now.clear()
                self._jobs_now[memo_key] = job
        return job

    async def placeholder_clip(self, url: str) -> RenderedVideo:
        """The clip a video URL that was not fetched stands for (``PLACEHOLDER_SOURCE``: the
        URL's placeholder still, looped), as a file of its own: what the CDN serves for fal's
        published example videos."""
        if self._closed:
            raise RuntimeError("VideoRenderer is closed")
        await self._probed()
        source = PLACEHOLDER_SOURCE
        spec = VideoSpec(source.width, source.height, FPS, round(source.seconds * FPS))
        parts = {"v": RENDER_VERSION, "ffmpeg": self._ffmpeg_version, "placeholder_of": url}
        job = _Job(cache_key(parts), spec, "", {"url": url}, "", rule=PLACEHOLDER_RULE)
        return await self._produce(job)

    async def clip(
        self, width: int, height: int, seconds: float, fps: int, label: str
    ) -> RenderedVideo:
        """A clip of any size showing ``label``: the video output of an endpoint answered by
        rule (a catalogue endpoint), cached by its parameters like every render."""
        if self._closed:
            raise RuntimeError("VideoRenderer is closed")
        await self._probed()
        spec = VideoSpec(width, height, fps, max(1, round(seconds * fps)))
        clip = [width, height, fps, spec.frame_count, label]
        parts = {"v": RENDER_VERSION, "ffmpeg": self._ffmpeg_version, "clip": clip}
        job = _Job(cache_key(parts), spec, "", {"url": label}, "", rule=PLACEHOLDER_RULE)
        return await self._produce(job)

    def store(self, data: bytes) -> str:
        """Keeps ``data`` in the content-addressed cache beside the renders; its key serves it
        (``path_for_key``) like a render's. Written whole or not at all."""
        key = hashlib.sha256(data).hexdigest()[:KEY_LENGTH]
        if self._cache.lookup(key) is None:
            temp = self._cache.temp_path(key)
            temp.write_bytes(data)
            self._cache.commit(temp, key)
        return key

    async def _produce(self, job: _Job) -> RenderedVideo:
        """The job's file: from the cache, joined to a render in progress, or rendered."""
        facts = {"spec": job.spec, "source": job.video.video if job.video else None}
        hit = self._lookup(job.key)
        if hit is not None:
            lines = (*job.log_lines, f"reused cached render {job.key}")
            return replace(hit, log_lines=lines, **facts)
        future, new = self._flights.run(
            job.key, lambda: self._pool.submit(self._render_blocking, job)
        )
        waiting = asyncio.wrap_future(future)
        self._waiting.add(waiting)
        waiting.add_done_callback(self._settled)
        video: RenderedVideo = await asyncio.shield(waiting)
        joined = () if new else (f"joined an identical render already in progress ({job.key})",)
        return replace(video, log_lines=(*job.log_lines, *joined, *video.log_lines), **facts)

    def path_for_key(self, key: str) -> Path | None:
        if not is_valid_key(key):
            return None
        known = self._known.get(key)
        if known is not None and known.path.is_file():
            return known.path
        return self._cache.lookup(key)

    async def aclose(self) -> None:
        self._closed = True
        with self._procs_lock:
            procs = list(self._procs)
        for proc in procs:
            proc.kill()
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
        # Wait for the renders killed above to settle: the loop may close right after this.
        loop = asyncio.get_running_loop()
        mine = [f for f in self._waiting if f.get_loop() is loop]
        await asyncio.gather(*mine, return_exceptions=True)

    def _settled(self, waiting: asyncio.Future[RenderedVideo]) -> None:
        """A caller cancelled while its render ran (shutdown) no longer awaits it, and
        ``asyncio.shield`` stops watching the render then: its failure is retrieved here."""
        self._waiting.discard(waiting)
        if not waiting.cancelled():
            waiting.exception()

    # -- steps ----------------------------------------------------------------------------------

    def _image(self, field: str, url: str) -> Awaitable[ImageInput]:
        return load_image_input(
            field, url, remote=self.remote_images, resolve_local_url=self.resolve_local_url
        )

    def _video(self, field: str, url: str) -> Awaitable[VideoInput]:
        return load_video_input(
            field, url, remote=self.remote_images, resolve_local_url=self.resolve_local_url
        )

    @staticmethod
    def _input_files(req: RenderRequest) -> tuple[list[str], list[str]]:
        """The image fields and the video fields whose files this request reads."""
        args = req.arguments
        image_fields, video_inputs = input_fields(req.endpoint_id)
        fields = [f for f in image_fields if args.get(f)]
        # a video rule always reads its video: an empty URL is fal's file_download_error
        rule = rule_of(req.endpoint_id)
        video_fields = [f for f in video_inputs if f in args] if rule != "generate" else []
        return fields, video_fields

    async def _prepare(self, req: RenderRequest) -> _Job:
        """Everything that decides the bytes, hashed into the key (cheap; runs on the loop;
        an input video is read back in a thread)."""
        args = req.arguments
        fields, video_fields = self._input_files(req)
        if not fields and not video_fields:  # no gather (two tasks per field) for text only
            return self._job(req, {}, None, [])
        loaded, videos = await asyncio.gather(
            asyncio.gather(*(self._image(f, str(args[f])) for f in fields)),
            asyncio.gather(*(self._video(f, str(args[f])) for f in video_fields)),
        )
        images = dict(zip(fields, loaded, strict=True))
        log_lines = [line for image in loaded for line in image.log_lines]
        log_lines += [line for v in videos for line in v.source.log_lines]
        return self._job(req, images, videos[0] if videos else None, log_lines)

    def _prepare_now(self, req: RenderRequest) -> _Job | None:
        """``_prepare`` without a coroutine, for a generation that reads no file (None: it
        reads one, or follows a video rule)."""
        if rule_of(req.endpoint_id) != "generate" or any(self._input_files(req)):
            return None
        return self._job(req, {}, None, [])

    def _job(
        self,
        req: RenderRequest,
        images: dict[str, ImageInput],
        video: VideoInput | None,
        log_lines: list[str],
    ) -> _Job:
        """The job once its input files are read: its spec and its cache key."""
        args = req.arguments
        rule = rule_of(req.endpoint_id)
        if args.get("loop") and "end_image_url" in images:
            log_lines.append("loop ignored: end_image_url sets the last frame")
        spec = output_spec(rule, args, video.video if video else None)
        if rule != "generate":
            return self._v2v_job(req, rule, spec, images, video, log_lines)
        parts = {
            "v": RENDER_VERSION,
            "ffmpeg": self._ffmpeg_version,
            "endpoint": req.endpoint_id,
            "prompt": str(args.get("prompt") or ""),
            "aspect_ratio": args.get("aspect_ratio"),
            "resolution": args.get("resolution"),
            "duration": args.get("duration"),
            "loop": bool(args.get("loop")),
            "size": [spec.width, spec.height, spec.fps, spec.frame_count],
            "images": {f: image.digest for f, image in images.items()},
        }
        return _Job(
            key=cache_key(parts),
            spec=spec,
            endpoint_id=req.endpoint_id,
            arguments=args,
            request_id=req.request_id,
            log_lines=tuple(log_lines),
            images=images,
        )

    def _v2v_job(
        self,
        req: RenderRequest,
        rule: str,
        spec: VideoSpec,
        images: dict[str, ImageInput],
        video: VideoInput | None,
        log_lines: list[str],
    ) -> _Job:
        """A reframe/modify job: keyed by every argument, with the input files by digest."""
        if video is None:
            raise ValueError(f"the {rule} rule needs an input video")
        files = {**{f: i.digest for f, i in images.items()}, "video": video.source.digest}
        files_in = {field for fields in input_fields(req.endpoint_id) for field in fields}
        arguments = {k: v for k, v in req.arguments.items() if k not in files_in}
        parts = {
            "v": RENDER_VERSION,
            "ffmpeg": self._ffmpeg_version,
            "endpoint": req.endpoint_id,
            "rule": rule,
            "arguments": arguments,
            "size": [spec.width, spec.height, spec.fps, spec.frame_count],
            "files": files,
        }
        return _Job(
            key=cache_key(parts),
            spec=spec,
            endpoint_id=req.endpoint_id,
            arguments=req.arguments,
            request_id=req.request_id,
            log_lines=tuple(log_lines),
            images=images,
            rule=rule,
            video=video,
        )

    def _lookup(self, key: str) -> RenderedVideo | None:
        known = self._known.get(key)
        if known is not None and known.path.is_file():
            return known
        path = self._cache.lookup(key)  # a file left by an earlier run or another process
        return self._remember(key, path) if path is not None else None

    def _remember(self, key: str, path: Path) -> RenderedVideo:
        video = RenderedVideo(
            key=key, path=path, file_name="output.mp4", file_size=path.stat().st_size
        )
        self._known[key] = video
        return video

    def _render_blocking(self, job: _Job) -> RenderedVideo:
        """Runs in the pool: draw the still, run ffmpeg, rename into place."""
        hit = self._lookup(job.key)  # a render that finished between our check and this call
        if hit is not None:
            return replace(hit, log_lines=())
        started = time.perf_counter()
        with self._procs_lock:
            self.renders_started += 1
        workdir = self._cache.temp_path(job.key).with_suffix("")
        workdir.mkdir()
        try:
            inputs, graph = self._plan(job, workdir)
            out = workdir / "out.mp4"
            self._run_ffmpeg(ffmpeg_command(self._ffmpeg, inputs, graph, job.spec, out))
            path = self._cache.commit(out, job.key)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        video = self._remember(job.key, path)
        took = time.perf_counter() - started
        return replace(
            video,
            log_lines=(
                f"rendered {job.spec.width}x{job.spec.height} {job.spec.frame_count}-frame clip "
                f"{job.key} in {took:.2f} s",
            ),
        )

    def _plan(self, job: _Job, workdir: Path) -> tuple[list[Path], str]:
        """Write the stills the graph reads and return (inputs, filter graph)."""
        spec, args = job.spec, job.arguments
        if job.rule == PLACEHOLDER_RULE:
            still = placeholder_image(str(args["url"]), spec.width, spec.height, "video")
            return [save_still(still, workdir, "still")], f"{still_input(0, spec)}[v]"
        loop = bool(args.get("loop"))
        look = look_for(str(args.get("prompt") or ""), loop)
        if job.video is not None:
            return plan_for(
                job.rule,
                spec,
                look,
                job.video,
                args,
                label_of(job.endpoint_id),
                job.key,
                job.images,
                workdir,
            )
        if not job.images:
            still, lay = draw_still(spec, look, args, job.endpoint_id, job.key)
            return [save_still(still, workdir, "still")], t2v_graph(spec, look, lay, loop)
        start_src, end_src = job.images.get("image_url"), job.images.get("end_image_url")
        if start_src is not None:
            first = frame_image(start_src, spec.width, spec.height)
        else:
            first, _ = draw_still(spec, look, args, job.endpoint_id, job.key)
        if end_src is not None:
            last = frame_image(end_src, spec.width, spec.height)
        else:
            last = first if loop else push_in(first)
        panel, lay = draw_panel(spec, look, args, job.endpoint_id, job.key)
        inputs = [
            save_still(first, workdir, "first"),
            save_still(last, workdir, "last"),
            save_still(panel, workdir, "panel"),
        ]
        pinned = end_src is not None or loop
        return inputs, i2v_graph(spec, look, lay, loop and end_src is None, pinned)

    def _run_ffmpeg(self, cmd: list[str]) -> None:
        with self._procs_lock:  # started and listed at once: aclose kills it, or it never runs
            if self._closed:
                raise RuntimeError("the renderer closed before this render's encode started")
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._procs.add(proc)
        _lower_priority(proc.pid)
        try:
            _, err = proc.communicate(timeout=self.render_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"ffmpeg timed out after {self.render_timeout} s") from None
        finally:
            with self._procs_lock:
                self._procs.discard(proc)
        if proc.returncode != 0:
            tail = err.decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {tail}")
