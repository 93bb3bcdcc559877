"""A track's waveform as levels (0…1), four a second, the resolution of the API's
`waveform_visual` (ints −1000…1000, a mono mixdown, 4 per second; SDK 2.78).

Three sources, one shape: the API's `waveform_visual` when `/detailed` returns it; the PCM a
jam streams (a `LevelMeter`, fed where the MP3 is encoded); or the MP3 itself, decoded with
miniaudio (`waveform_of_mp3`: CPU-bound, so call it with `asyncio.to_thread`).
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import miniaudio

PER_SECOND = 4
VISUAL_MAX = 1000
_FULL_SCALE = 32768
# Peaks need no fidelity: the MP3 is decoded to mono at a low rate (a quarter second is 2000
# frames), which keeps a ten-minute track's decode short.
_DECODE_RATE = 8_000


@dataclass(frozen=True, slots=True)
class Waveform:
    """Peak levels 0…1, `PER_SECOND` of them a second."""

    levels: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return len(self.levels) / PER_SECOND

    @classmethod
    def from_visual(cls, values: Sequence[int]) -> Waveform:
        """From the API's `waveform_visual` (−1000…1000; out-of-range values are clamped)."""
        return cls(tuple(min(abs(v), VISUAL_MAX) / VISUAL_MAX for v in values))

    def padded(self, seconds: float) -> Waveform:
        """As long as `seconds`, silent where no audio came yet (a track still streaming)."""
        missing = round(seconds * PER_SECOND) - len(self.levels)
        return Waveform(self.levels + (0.0,) * missing) if missing > 0 else self

    def bars(self, count: int) -> list[float]:
        """`count` levels across the whole track, each the loudest of the levels it covers
        (or repeated, when there are fewer levels than bars)."""
        if not self.levels:
            return [0.0] * count
        n = len(self.levels)
        bars = []
        for i in range(count):
            start = i * n // count
            end = max(start + 1, (i + 1) * n // count)
            bars.append(max(self.levels[start:end]))
        return bars


class LevelMeter:
    """Peak levels of interleaved signed 16-bit PCM, fed in chunks of any size (a chunk may end
    mid-sample). Each `feed` is a few C-level passes over the chunk; feed it where the audio is
    already handled off the event loop."""

    def __init__(self, *, rate: int, channels: int) -> None:
        self._window = rate // PER_SECOND * channels * 2  # bytes in a quarter second
        self._pending = bytearray()
        self._levels: list[float] = []
        # Fed in a worker thread while the event loop reads the levels so far.
        self._lock = threading.Lock()

    def feed(self, pcm: bytes) -> None:
        with self._lock:
            self._pending += pcm
            while len(self._pending) >= self._window:
                self._levels.append(_peak(bytes(self._pending[: self._window])) / _FULL_SCALE)
                del self._pending[: self._window]

    def waveform(self, *, final: bool = False) -> Waveform:
        """The levels so far; `final` counts a last partial quarter second too."""
        with self._lock:
            levels = list(self._levels)
            whole = len(self._pending) - len(self._pending) % 2
            if final and whole:
                levels.append(_peak(bytes(self._pending[:whole])) / _FULL_SCALE)
        return Waveform(tuple(levels))


def _peak(pcm: bytes) -> int:
    samples = array("h", pcm)
    if not samples:
        return 0
    return max(max(samples), -min(samples))


def waveform_of_mp3(data: bytes) -> Waveform:
    """Decode an MP3 (mono, low rate) and measure its levels. Blocking: use a thread."""
    meter = LevelMeter(rate=_DECODE_RATE, channels=1)
    frames = miniaudio.stream_memory(
        data,
        output_format=miniaudio.SampleFormat.SIGNED16,
        nchannels=1,
        sample_rate=_DECODE_RATE,
        frames_to_read=_DECODE_RATE // PER_SECOND,
    )
    for chunk in frames:
        meter.feed(chunk.tobytes())
    return meter.waveform(final=True)
