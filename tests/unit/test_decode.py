"""The jam's MP3 decoder: whatever channels and rate the API sends, 48 kHz stereo out, at the
song's pitch and length."""

from __future__ import annotations

import numpy as np
import pytest

from bot.music.decode import Mp3Decoder, UndecodableAudio
from bot.sandbox.render import Segment, render


def decode_in_pieces(mp3: bytes, piece: int = 1_001) -> tuple[Mp3Decoder, np.ndarray]:
    decoder = Mp3Decoder()
    pcm = b"".join(decoder.decode(mp3[i : i + piece]) for i in range(0, len(mp3), piece))
    pcm += decoder.flush()
    return decoder, np.frombuffer(pcm, dtype="<i2").reshape(-1, 2).astype(np.float64)


def dominant_hz(signal: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * rate / len(signal))


def tone_mp3(hz: float, channels: int, rate: int, seconds: float = 2.0) -> bytes:
    import lameenc

    t = np.arange(int(seconds * rate)) / rate
    mono = (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    pcm = np.repeat(mono, channels) if channels == 2 else mono
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


@pytest.mark.parametrize(("channels", "rate"), [(2, 48_000), (1, 48_000), (2, 44_100), (1, 44_100)])
def test_any_mp3_becomes_48_khz_stereo_at_its_pitch_and_length(channels: int, rate: int) -> None:
    decoder, stereo = decode_in_pieces(tone_mp3(440.0, channels, rate))
    assert (decoder.channels, decoder.sample_rate) == (channels, rate), "read from the stream"
    assert len(stereo) / 48_000 == pytest.approx(2.0, abs=0.06)
    assert decoder.seconds == pytest.approx(len(stereo) / 48_000)
    middle = stereo[24_000:72_000]
    assert dominant_hz(middle[:, 0]) == pytest.approx(440.0, abs=2.0)
    assert dominant_hz(middle[:, 1]) == pytest.approx(440.0, abs=2.0)


def test_the_sandbox_song_is_stereo_and_decodes_whole() -> None:
    mp3 = render((Segment(3000, ("jazz",)),), 7, 48_000, 128)
    decoder, stereo = decode_in_pieces(mp3)
    assert decoder.channels == 2
    assert len(stereo) / 48_000 == pytest.approx(3.0, abs=0.06)
    # The two channels differ (the right is quieter): a real stereo song.
    loud = np.sqrt(np.mean(stereo[:, 0] ** 2)), np.sqrt(np.mean(stereo[:, 1] ** 2))
    assert loud[1] == pytest.approx(0.75 * loud[0], rel=0.05)


def test_what_is_not_mp3_is_refused() -> None:
    decoder = Mp3Decoder()
    with pytest.raises(UndecodableAudio):
        decoder.decode(b"<html>" * 2000)
        decoder.flush()
