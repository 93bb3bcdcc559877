"""Deterministic music for the sandbox: a few synthesised voices per section, encoded as MP3.

Each section gets its tempo, key, scale and instrument from its words (genre, mood, instrument
names) and a hash, so the same request always gives the same bytes and sections sound different.
CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import lameenc

GENRE_TEMPO = {
    "ambient": 70,
    "lofi": 80,
    "lo-fi": 80,
    "chill": 85,
    "hip": 92,
    "jazz": 110,
    "pop": 116,
    "rock": 124,
    "house": 124,
    "disco": 120,
    "techno": 132,
    "trap": 140,
    "metal": 150,
    "punk": 165,
    "drum": 172,
}
INSTRUMENT_WAVE = {
    "piano": "triangle",
    "keys": "triangle",
    "synth": "saw",
    "strings": "saw",
    "violin": "saw",
    "guitar": "square",
    "chiptune": "square",
    "8-bit": "square",
    "flute": "sine",
    "bell": "sine",
    "bells": "sine",
}
MINOR_WORDS = {"sad", "dark", "minor", "melancholic", "moody", "rainy", "night", "lofi", "lo-fi"}
MAJOR = (0, 2, 4, 5, 7, 9, 11, 12)
MINOR = (0, 2, 3, 5, 7, 8, 10, 12)


@dataclass(frozen=True, slots=True)
class Segment:
    """One section of the song: its length and the words that colour it."""

    duration_ms: int
    words: tuple[str, ...]


def _wave(shape: str, phase: float) -> float:
    """One sample of a unit waveform at `phase` in [0, 1)."""
    if shape == "square":
        return 0.6 if phase < 0.5 else -0.6
    if shape == "saw":
        return 0.7 * (2.0 * phase - 1.0)
    if shape == "triangle":
        return 4.0 * phase - 1.0 if phase < 0.5 else 3.0 - 4.0 * phase
    return float(math.sin(2.0 * math.pi * phase))


def _midi_hz(note: int) -> float:
    return float(440.0 * 2.0 ** ((note - 69) / 12))


def _note(shape: str, hz: float, samples: int, rate: int, gain: float) -> list[float]:
    step = hz / rate
    attack = max(1, samples // 40)
    out = []
    for i in range(samples):
        envelope = min(1.0, i / attack) * (1.0 - i / samples) ** 1.5
        out.append(gain * envelope * _wave(shape, (i * step) % 1.0))
    return out


# The voices of a bar, which stem separation hands back one by one.
LAYERS = ("lead", "bass", "drums")


def _bar(segment: Segment, seed: bytes, rate: int, layers: tuple[str, ...] = LAYERS) -> array[int]:
    """Render one bar (four beats) of the section as 16-bit mono samples, with only the
    voices in `layers` (all of them make the song)."""
    words = {w.lower() for w in segment.words}
    rng = random.Random(hashlib.sha256(seed + " ".join(sorted(words)).encode()).digest())
    tempo = next((bpm for word, bpm in GENRE_TEMPO.items() if word in words), 0)
    tempo = (tempo or rng.randint(72, 148)) + rng.randint(-4, 4)
    shape = next((w for word, w in INSTRUMENT_WAVE.items() if word in words), None)
    shape = shape or rng.choice(("sine", "triangle", "square", "saw"))
    scale = MINOR if words & MINOR_WORDS else MAJOR
    root = rng.randint(48, 59)

    beat = int(rate * 60 / tempo)
    bar = [0.0] * (beat * 4)
    eighth = beat // 2
    for step in range(8):
        if rng.random() < 0.15:
            continue
        pitch = root + 12 + scale[rng.randrange(len(scale))]
        if "lead" in layers:
            for i, sample in enumerate(_note(shape, _midi_hz(pitch), eighth, rate, 0.30)):
                bar[step * eighth + i] += sample
    if "bass" in layers:
        for beat_index in (0, 2):
            bass = _note("sine", _midi_hz(root - 12), beat * 2, rate, 0.35)
            for i, sample in enumerate(bass):
                bar[beat_index * beat + i] += sample
    if "drums" in layers:
        kick_len = min(beat, rate // 8)
        for beat_index in range(4):
            for i in range(kick_len):
                decay = math.exp(-i / (kick_len / 5))
                bar[beat_index * beat + i] += 0.45 * decay * math.sin(2 * math.pi * 55 * i / rate)
    return array("h", (max(-32767, min(32767, int(s * 32767))) for s in bar))


def _stereo(mono: array[int]) -> array[int]:
    """Two channels that differ (the right one quieter), interleaved."""
    stereo = array("h", bytes(len(mono) * 4))
    stereo[0::2] = mono
    stereo[1::2] = array("h", (s * 3 // 4 for s in mono))
    return stereo


def _pcm(
    segments: Sequence[Segment],
    seed: bytes,
    rate: int,
    channels: int = 1,
    layers: tuple[str, ...] = LAYERS,
) -> bytes:
    parts = []
    for index, segment in enumerate(segments):
        mono = _bar(segment, seed + index.to_bytes(2, "big"), rate, layers)
        bar = (_stereo(mono) if channels == 2 else mono).tobytes()
        need = (segment.duration_ms * rate // 1000) * 2 * channels
        repeats, rest = divmod(need, len(bar))
        parts.append(bar * repeats + bar[:rest])
    return b"".join(parts)


def encode_mp3(pcm: bytes, rate: int, kbps: int, channels: int = 1) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


def render_layers(
    segments: tuple[Segment, ...], seed: int, rate: int, kbps: int, layers: tuple[str, ...]
) -> bytes:
    """MP3 of only some voices of the song `render` makes (empty `layers`: silence), mono."""
    return encode_mp3(_pcm(segments, seed.to_bytes(8, "big"), rate, 1, layers), rate, kbps)


@lru_cache(maxsize=8)
def render(
    segments: tuple[Segment, ...], seed: int, rate: int, kbps: int | None, channels: int = 2
) -> bytes:
    """MP3 (or raw interleaved s16le PCM when `kbps` is None) for the segments, same bytes
    every time; stereo, as the API's songs are, or mono."""
    pcm = _pcm(segments, seed.to_bytes(8, "big"), rate, channels)
    if kbps is None:
        return pcm
    return encode_mp3(pcm, rate, kbps, channels)


@lru_cache(maxsize=8)
def waveform_visual(segments: tuple[Segment, ...], seed: int, rate: int) -> tuple[int, ...]:
    """What `/detailed` sends as `waveform_visual` for the song `render` makes: 4 values a
    second, −1000…1000 (here the signed sample of the largest magnitude in each quarter)."""
    pcm = array("h", _pcm(segments, seed.to_bytes(8, "big"), rate))
    window = rate // 4
    visual = []
    for start in range(0, len(pcm), window):
        part = pcm[start : start + window]
        high, low = max(part), min(part)
        peak = high if high >= -low else low
        visual.append(round(peak * 1000 / 32768))
    return tuple(visual)
