"""Audio for any endpoint's output: a quiet tone of the asked length, as WAV, MP3 or another format.

Length, by the first rule that applies (a value a rule cannot read falls through, with a note):

1. A duration field of the request (``DURATION_FIELDS``: ``duration``, ``seconds_total``,
   ``duration_seconds``, ``audio_length_in_s``, ``music_length_ms``...), a number or a numeric
   string with an optional ``s`` (``5``, ``"8"``, ``"10s"``), in (0, ``MAX_SECONDS``].
2. Speech from text (``text``, ``gen_text``, ``input``, ``lyrics``): ``SPEECH_CHARS_PER_S``
   characters a second [INF: about 150 words a minute], at least ``MIN_SPEECH_SECONDS``.
3. ``DEFAULT_SECONDS`` (5 s) [INF].

Format: ``output_format`` (or ``format``) naming an entry of ``AUDIO_FORMATS``, also in the
``codec_rate_bitrate`` form some voice APIs use (``mp3_44100_128``, ``pcm_16000``: the rate is
used); otherwise WAV [INF: the stdlib writes it, no encoder involved]. WAV is written by the
stdlib ``wave`` module; the others by the bundled ffmpeg from the same samples, bit-exact flags
on, so the same request gives the same bytes.

The tone: a sine at a frequency drawn from the seed text (one of ``TONES_HZ``), mono, 16-bit,
at ``AMPLITUDE`` (-20 dBFS) with 10 ms fades: audible, never loud.
"""

from __future__ import annotations

import array
import hashlib
import io
import math
import re
import subprocess
import sys
import tempfile
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio_ffmpeg

SAMPLE_RATE = 44100  # [INF] CD rate; a format name carrying a rate overrides it
CHANNELS = 1
AMPLITUDE = 0.1
FADE_S = 0.01
TONES_HZ: tuple[int, ...] = (220, 262, 294, 330, 392, 440, 523, 587)
DEFAULT_SECONDS = 5.0  # [INF]
MAX_SECONDS = 600.0  # [INF] the emulator's cap: ten minutes of 44.1 kHz mono WAV is 53 MB
SPEECH_CHARS_PER_S = 15.0  # [INF] ~150 words a minute at ~6 characters a word
MIN_SPEECH_SECONDS = 1.0
ENCODE_TIMEOUT_S = 120.0

# (request field, unit in seconds): where a request says how long its audio is.
DURATION_FIELDS: tuple[tuple[str, float], ...] = (
    ("duration", 1.0),
    ("seconds_total", 1.0),
    ("duration_seconds", 1.0),
    ("audio_length_in_s", 1.0),
    ("seconds", 1.0),
    ("length", 1.0),
    ("music_length_ms", 0.001),
    ("duration_ms", 0.001),
)
SPEECH_FIELDS: tuple[str, ...] = ("text", "gen_text", "input", "lyrics")
_SECONDS_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*s?\s*")
_FORMAT_RE = re.compile(r"([a-z0-9]+?)(?:_(\d+))?(?:_(\d+))?")


@dataclass(frozen=True)
class AudioFormat:
    """How one format is written: ffmpeg's output arguments (None: the stdlib's WAV)."""

    content_type: str
    extension: str
    codec: str
    container: str
    ffmpeg_args: tuple[str, ...] | None = None
    seeks: bool = False
    """The muxer goes back to finish its header (sample count, index): a file, not a pipe."""


AUDIO_FORMATS: Mapping[str, AudioFormat] = {
    "wav": AudioFormat("audio/wav", ".wav", "pcm_s16le", "wav"),
    "pcm": AudioFormat("audio/wav", ".wav", "pcm_s16le", "wav"),
    "mp3": AudioFormat(
        "audio/mpeg", ".mp3", "mp3", "mp3", ("-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3")
    ),
    "flac": AudioFormat(
        "audio/flac", ".flac", "flac", "flac", ("-c:a", "flac", "-f", "flac"), seeks=True
    ),
    "ogg": AudioFormat(
        "audio/ogg", ".ogg", "vorbis", "ogg", ("-c:a", "libvorbis", "-q:a", "3", "-f", "ogg")
    ),
    "opus": AudioFormat(
        "audio/ogg", ".opus", "opus", "ogg", ("-c:a", "libopus", "-b:a", "64k", "-f", "ogg")
    ),
    "aac": AudioFormat("audio/aac", ".aac", "aac", "adts", ("-c:a", "aac", "-f", "adts")),
    "m4a": AudioFormat(
        "audio/mp4",
        ".m4a",
        "aac",
        "mp4",
        ("-c:a", "aac", "-movflags", "+faststart", "-f", "mp4"),
        seeks=True,
    ),
}
DEFAULT_FORMAT = "wav"
FORMAT_BY_CONTENT_TYPE: Mapping[str, str] = {
    **{fmt.content_type: name for name, fmt in reversed(list(AUDIO_FORMATS.items()))},
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mp3": "mp3",
}
FORMAT_FIELDS: tuple[str, ...] = ("output_format", "format", "audio_format")


@dataclass(frozen=True)
class AudioPlan:
    """What one audio file will be: its length, format and sample rate, and the notes."""

    seconds: float
    format: str
    sample_rate: int
    notes: tuple[str, ...] = ()


def _seconds(value: Any, unit: float) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and (match := _SECONDS_RE.fullmatch(value)):
        value = float(match[1])
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    seconds = float(value) * unit
    return seconds if 0 < seconds <= MAX_SECONDS else None


def audio_seconds_of(arguments: Mapping[str, Any]) -> tuple[float, tuple[str, ...]]:
    """How long the request's audio is (the module's rules)."""
    notes: list[str] = []
    for name, unit in DURATION_FIELDS:
        if arguments.get(name) is None:
            continue
        seconds = _seconds(arguments[name], unit)
        if seconds is not None:
            return seconds, tuple(notes)
        notes.append(f"{name} {arguments[name]!r} is not a duration the emulator reads")
    for name in SPEECH_FIELDS:
        text = arguments.get(name)
        if isinstance(text, str) and text.strip():
            spoken = len(" ".join(text.split())) / SPEECH_CHARS_PER_S
            return min(MAX_SECONDS, max(MIN_SPEECH_SECONDS, round(spoken, 2))), tuple(notes)
    return DEFAULT_SECONDS, tuple(notes)


def audio_format_of(arguments: Mapping[str, Any]) -> tuple[str, int, tuple[str, ...]]:
    """(format, sample rate, notes) from the request's format field."""
    notes: list[str] = []
    for name in FORMAT_FIELDS:
        value = arguments.get(name)
        if value is None:
            continue
        match = _FORMAT_RE.fullmatch(value.lower()) if isinstance(value, str) else None
        if match and match[1] in AUDIO_FORMATS:
            rate = int(match[2]) if match[2] and 8000 <= int(match[2]) <= 192000 else SAMPLE_RATE
            return match[1], rate, ()
        notes.append(f"{name} {value!r} is no audio format the emulator writes")
    return DEFAULT_FORMAT, SAMPLE_RATE, tuple(notes)


def audio_plan(arguments: Mapping[str, Any]) -> AudioPlan:
    seconds, length_notes = audio_seconds_of(arguments)
    fmt, rate, format_notes = audio_format_of(arguments)
    return AudioPlan(seconds, fmt, rate, length_notes + format_notes)


def tone_frequency(seed_text: str) -> int:
    digest = hashlib.sha256(seed_text.encode("utf-8")).digest()
    return TONES_HZ[digest[0] % len(TONES_HZ)]


def tone_pcm(seconds: float, frequency: int, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono 16-bit little-endian samples of a quiet sine with short fades.

    An integer frequency repeats exactly every second, so one second is computed and repeated."""
    total = max(1, round(seconds * sample_rate))
    peak = AMPLITUDE * 32767
    second = array.array(
        "h",
        (
            round(peak * math.sin(2 * math.pi * frequency * i / sample_rate))
            for i in range(sample_rate)
        ),
    )
    samples = second * (total // sample_rate + 1)
    del samples[total:]
    fade = min(total // 2, round(FADE_S * sample_rate))
    for i in range(fade):
        gain = i / fade
        samples[i] = round(samples[i] * gain)
        samples[total - 1 - i] = round(samples[total - 1 - i] * gain)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def wav_bytes(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def encode_audio(wav: bytes, output_format: str, ffmpeg: str | None = None) -> bytes:
    """A WAV file re-encoded by ffmpeg into ``output_format`` (a key of ``AUDIO_FORMATS``)."""
    fmt = AUDIO_FORMATS[output_format]
    if fmt.ffmpeg_args is None:
        return wav
    cmd = [
        ffmpeg or imageio_ffmpeg.get_ffmpeg_exe(),
        *("-hide_banner", "-loglevel", "error", "-nostdin", "-f", "wav", "-i", "pipe:0"),
        *("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"),
        *fmt.ffmpeg_args,
        "pipe:1",
    ]
    if fmt.seeks:
        return _encode_via_file(cmd, wav, output_format)
    done = subprocess.run(cmd, input=wav, capture_output=True, timeout=ENCODE_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {output_format}: {done.stderr.decode()[-400:]}")
    return done.stdout


def _encode_via_file(cmd: list[str], wav: bytes, output_format: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="ray2-mock-audio-") as tmp:
        out = Path(tmp) / "out"
        done = subprocess.run(
            [*cmd[:-1], str(out)], input=wav, capture_output=True, timeout=ENCODE_TIMEOUT_S
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"ffmpeg could not write {output_format}: {done.stderr.decode()[-400:]}"
            )
        return out.read_bytes()


def audio_bytes(plan: AudioPlan, seed_text: str) -> bytes:
    """The file ``plan`` describes: the seed text's tone, ``plan.seconds`` long."""
    pcm = tone_pcm(plan.seconds, tone_frequency(seed_text), plan.sample_rate)
    return encode_audio(wav_bytes(pcm, plan.sample_rate), plan.format)
