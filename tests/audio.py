"""Helpers that read audio the way a member's player would, and compare what was heard."""

from __future__ import annotations

import io

import numpy as np
from mutagen.mp3 import MP3

RATE = 48_000


def mp3_seconds(data: bytes) -> float:
    return float(MP3(io.BytesIO(data)).info.length)


def samples(pcm: bytes, channels: int = 1) -> np.ndarray:
    """16-bit little-endian PCM as floats, the first channel only."""
    return np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)[:, 0].astype(np.float64)


def scores(piece: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """The normalised correlation of `piece` with `signal` at every offset (1.0: the same
    waveform; near 0: unrelated), by FFT."""
    if len(signal) < len(piece):
        return np.zeros(0)
    size = 1 << (len(signal) + len(piece)).bit_length()
    product = np.fft.rfft(signal, size) * np.conj(np.fft.rfft(piece, size))
    correlation = np.fft.irfft(product, size)[: len(signal) - len(piece) + 1]
    sums = np.concatenate(([0.0], np.cumsum(signal**2)))
    energy = np.sqrt(np.maximum(sums[len(piece) :] - sums[: -len(piece)], 1e-9))
    result: np.ndarray = correlation / (energy * (np.linalg.norm(piece) or 1.0))
    return result


def follow(
    reference: np.ndarray,
    heard: np.ndarray,
    *,
    block_s: float = 0.25,
    first_within_s: float = 3.0,
    gap_within_s: float = 1.0,
    alike: float = 0.9,
) -> list[tuple[int, float]]:
    """Follow the reference through what was heard, block by block: for each block, the
    first place after the previous one (and within `gap_within_s` of it) where it sounds
    `alike`, and how alike; (-1, best score) for a block not heard there. Searching forward
    only, from just after the previous block, finds each block where it was played even when
    the music repeats itself."""
    block = int(block_s * RATE)
    found: list[tuple[int, float]] = []
    position = 0
    for number, start in enumerate(range(0, len(reference) - block + 1, block)):
        piece = reference[start : start + block]
        reach = first_within_s if number == 0 else gap_within_s
        region = heard[position : position + block + int(reach * RATE)]
        score = scores(piece, region)
        hits = np.nonzero(score >= alike)[0]
        if len(hits) == 0:
            found.append((-1, float(score.max()) if len(score) else 0.0))
            position += block
            continue
        # The peak just after the first offset that sounds alike.
        first = int(hits[0])
        peak = first + int(np.argmax(score[first : first + RATE // 100]))
        found.append((position + peak, float(score[peak])))
        position += peak + block
    return found


# sounding_runs looks at 5 ms windows and drops 10 ms at both ends of each run.
RUN_WINDOW = RATE // 200
RUN_TRIM = 2 * RUN_WINDOW


def sounding_runs(heard: np.ndarray, *, quiet: float = 1000.0) -> list[np.ndarray]:
    """What was heard between silences: runs of 5 ms windows louder than `quiet` (RMS; the
    sandbox's music is around 5,000), at least 60 ms long, each without 10 ms at either end
    (where the codec blends sound and silence). Windows this short see even a one-frame
    underrun: the codec's tail fills only the first few milliseconds of a silent frame."""
    count = len(heard) // RUN_WINDOW
    windows = heard[: count * RUN_WINDOW].reshape(count, RUN_WINDOW)
    loud = [*(np.sqrt(np.mean(windows**2, axis=1)) > quiet), False]
    runs: list[np.ndarray] = []
    start = None
    for n, is_loud in enumerate(loud):
        if is_loud and start is None:
            start = n
        elif not is_loud and start is not None:
            if n - start >= 12:
                runs.append(heard[start * RUN_WINDOW + RUN_TRIM : n * RUN_WINDOW - RUN_TRIM])
            start = None
    return runs


def place_runs(
    reference: np.ndarray, runs: list[np.ndarray], *, alike: float = 0.9
) -> list[tuple[int, float]]:
    """Where in the reference each run of what was heard comes from (searching forward from
    the previous run), and how alike it is there."""
    placed: list[tuple[int, float]] = []
    position = 0
    for run in runs:
        score = scores(run, reference[position : position + len(run) + 2 * RATE])
        hits = np.nonzero(score >= alike)[0]
        if len(hits) == 0:
            placed.append((-1, float(score.max()) if len(score) else 0.0))
            continue
        # The first place it sounds alike (the music may repeat itself later), at its peak.
        first = int(hits[0])
        best = first + int(np.argmax(score[first : first + RATE // 100]))
        placed.append((position + best, float(score[best])))
        position += best + len(run)
    return placed


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """MP3 decoded to mono float samples, and the sample rate."""
    import miniaudio

    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1)
    return np.asarray(decoded.samples, dtype=np.float64), decoded.sample_rate


def dominant_hz(data: bytes) -> float:
    """The loudest frequency of an MP3 (0 for silence)."""
    signal, rate = decode_mp3(data)
    if not np.any(signal):
        return 0.0
    spectrum = np.abs(np.fft.rfft(signal))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


def rms(data: bytes) -> float:
    signal, _ = decode_mp3(data)
    return float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0
