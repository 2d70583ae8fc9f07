"""Generated audio: the asked length and format, read back with ``wave`` and PyAV."""

from __future__ import annotations

import io
import wave

import av
import pytest

from mockserver.media.audio import AudioPlan, audio_bytes, audio_plan


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        return reader.getnframes() / reader.getframerate()


def decoded(data: bytes) -> tuple[str, int, float]:
    """(codec, sample rate, seconds) as a decoder sees the file: every frame decoded."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, stream.rate, samples / stream.rate


@pytest.mark.parametrize(
    ("arguments", "seconds"),
    [
        ({"duration": 3}, 3.0),
        ({"duration": 2.5}, 2.5),
        ({"duration": "4"}, 4.0),
        ({"duration": "6s"}, 6.0),
        ({"seconds_total": 7}, 7.0),
        ({"music_length_ms": 1500}, 1.5),
        ({}, 5.0),  # the documented default
        ({"duration": "banana"}, 5.0),
        ({"duration": -1}, 5.0),
        ({"duration": True}, 5.0),
        # speech: 15 characters a second, 30 characters -> 2 s (documented, inferred)
        ({"text": "abcdefghij abcdefghij abcdefgh"}, 2.0),
        ({"text": "hi"}, 1.0),  # at least one second
    ],
)
def test_length_rules(arguments: dict, seconds: float) -> None:
    assert audio_plan(arguments).seconds == pytest.approx(seconds)


def test_unreadable_values_are_noted() -> None:
    plan = audio_plan({"duration": "banana", "output_format": "midi"})
    assert (plan.seconds, plan.format) == (5.0, "wav")
    assert any("banana" in n for n in plan.notes) and any("midi" in n for n in plan.notes)


def test_wav_has_the_asked_length() -> None:
    data = audio_bytes(audio_plan({"duration": 2.5}), "a song")
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert wav_seconds(data) == pytest.approx(2.5, abs=1 / 44100)


def test_wav_is_a_quiet_tone() -> None:
    data = audio_bytes(AudioPlan(1.0, "wav", 44100), "x")
    with wave.open(io.BytesIO(data)) as reader:
        frames = reader.readframes(reader.getnframes())
    samples = [int.from_bytes(frames[i : i + 2], "little", signed=True) for i in range(0, 8820, 2)]
    assert 0 < max(abs(s) for s in samples) <= 0.1 * 32768 + 1  # -20 dBFS at most, not silence


@pytest.mark.parametrize(
    ("output_format", "codec", "rate"),
    [
        ("mp3", "mp3", 44100),
        ("mp3_22050_32", "mp3", 22050),  # a voice API's codec_rate_bitrate form
        ("flac", "flac", 44100),
        ("ogg", "vorbis", 44100),
        ("m4a", "aac", 44100),
        ("pcm_16000", "pcm_s16le", 16000),
    ],
)
def test_encoded_formats_read_back(output_format: str, codec: str, rate: int) -> None:
    plan = audio_plan({"duration": 3, "output_format": output_format})
    data = audio_bytes(plan, "a song")
    found_codec, found_rate, seconds = decoded(data)
    assert found_codec.startswith(codec) and found_rate == rate
    assert seconds == pytest.approx(3.0, abs=0.1)  # encoders pad by a frame at most


def test_same_plan_same_bytes() -> None:
    plan = audio_plan({"duration": 1, "output_format": "mp3"})
    assert audio_bytes(plan, "seed") == audio_bytes(plan, "seed")
