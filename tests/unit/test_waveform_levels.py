"""A track's waveform levels: from the API's `waveform_visual`, from PCM, from an MP3."""

from __future__ import annotations

import math
from array import array

import pytest

from bot.music.waveform import PER_SECOND, LevelMeter, Waveform, waveform_of_mp3
from bot.sandbox.render import encode_mp3


def tone(seconds: float, gain: float, rate: int = 48_000, channels: int = 1) -> bytes:
    samples = array("h")
    for i in range(int(seconds * rate)):
        value = int(32767 * gain * math.sin(2 * math.pi * 440 * i / rate))
        samples.extend([value] * channels)
    return samples.tobytes()


def test_the_apis_visual_becomes_levels_between_0_and_1() -> None:
    waveform = Waveform.from_visual([12, -340, 1000, -1000, 0, 2000])
    assert waveform.levels == (0.012, 0.34, 1.0, 1.0, 0.0, 1.0)
    assert waveform.seconds == pytest.approx(6 / PER_SECOND)


def test_pcm_levels_follow_loudness_four_a_second_in_any_chunking() -> None:
    pcm = tone(1.0, 0.2, channels=2) + tone(1.0, 0.8, channels=2)
    meter = LevelMeter(rate=48_000, channels=2)
    # Chunks that end mid-sample, as a stream's do.
    for start in range(0, len(pcm), 7_777):
        meter.feed(pcm[start : start + 7_777])
    levels = meter.waveform().levels
    assert len(levels) == 2 * PER_SECOND
    assert all(level == pytest.approx(0.2, abs=0.02) for level in levels[:4])
    assert all(level == pytest.approx(0.8, abs=0.02) for level in levels[4:])


def test_mp3_levels_are_decoded_from_the_audio() -> None:
    rate = 44_100
    mp3 = encode_mp3(tone(2.0, 0.1, rate) + tone(2.0, 0.7, rate), rate, 128)
    waveform = waveform_of_mp3(mp3)
    # MP3 pads the end a little; a last partial quarter second counts whole.
    assert waveform.seconds == pytest.approx(4.0, abs=0.3)
    quiet, loud = waveform.levels[1:7], waveform.levels[9:15]
    assert max(quiet) < 0.2 and min(loud) > 0.5


def test_resampled_to_bars_keeps_the_peaks() -> None:
    waveform = Waveform((0.1, 0.9, 0.2, 0.3, 0.5, 0.1, 0.0, 0.4))
    assert waveform.bars(4) == [0.9, 0.3, 0.5, 0.4]
    assert Waveform(()).bars(4) == [0.0, 0.0, 0.0, 0.0]
    assert len(Waveform((0.5,)).bars(10)) == 10


def test_a_streaming_track_is_padded_to_its_length() -> None:
    waveform = Waveform((0.5, 0.5)).padded(2)
    assert waveform.levels == (0.5, 0.5) + (0.0,) * 6
    assert Waveform((0.5,) * 9).padded(2).levels == (0.5,) * 9
