"""Raw PCM from the API's stream (`pcm_48000`): played as it arrives, and kept as MP3.

The stream is signed 16-bit little-endian samples at 48 kHz; how many channels the API sends is
not documented (the sandbox sends one), so it is a setting. Discord plays 20 ms frames of
48 kHz stereo. A `PcmFifo` sits between the two: the event loop pushes what the API sends, a
player thread pulls frames at real time, and the loop waits when the player is far behind, so
a stream faster than real time is not held whole in memory.
"""

from __future__ import annotations

import asyncio
import threading
from array import array
from typing import Any

import lameenc

from .audio import AudioSpool
from .waveform import LevelMeter

RATE = 48_000
SAMPLE_BYTES = 2
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
# What Discord's encoder takes: one 20 ms frame of 48 kHz stereo.
STEREO_FRAME_BYTES = FRAME_SAMPLES * 2 * SAMPLE_BYTES
SILENCE = bytes(STEREO_FRAME_BYTES)
# MP3 is encoded a second of audio at a time, in a worker thread.
_ENCODE_SECONDS = 1


def seconds_of(size: int, channels: int) -> float:
    return size / (RATE * SAMPLE_BYTES * channels)


def to_stereo(pcm: bytes, channels: int) -> bytes:
    """Interleaved 16-bit stereo from mono (each sample twice) or stereo (as it is)."""
    if channels == 2:
        return pcm
    mono = array("h", pcm)
    stereo = array("h", bytes(len(pcm) * 2))
    stereo[0::2] = mono
    stereo[1::2] = mono
    return stereo.tobytes()


class PcmFifo:
    """PCM handed from the event loop to a player thread, 20 ms at a time.

    `read_frame` never blocks: when the stream is behind (an underrun) it returns silence, so
    playback keeps its pace instead of bursting to catch up; at the end it returns b"".
    """

    def __init__(self, channels: int, *, ahead_seconds: float = 30.0) -> None:
        self.channels = channels
        self._frame = FRAME_SAMPLES * SAMPLE_BYTES * channels
        self._limit = int(ahead_seconds * RATE * SAMPLE_BYTES * channels)
        self._data = bytearray()
        self._lock = threading.Lock()
        self._finished = False
        self._detached = False
        # Set while `push` waits for room: only then does the player wake the loop.
        self._waiting = False
        self._loop = asyncio.get_running_loop()
        self._room = asyncio.Event()
        self._room.set()
        # Read by the player thread; the event loop only reads these counters.
        self.frames_played = 0
        self.underruns = 0

    async def push(self, pcm: bytes) -> None:
        """Add audio; wait first while more than `ahead_seconds` is waiting to be played."""
        while not self._detached:
            with self._lock:
                if len(self._data) < self._limit:
                    self._data += pcm
                    return
                self._room.clear()
                self._waiting = True
            await self._room.wait()

    def finish(self) -> None:
        """No more audio will come: play what is left (padded to a frame), then end."""
        with self._lock:
            self._finished = True

    def detach(self) -> None:
        """Nobody plays this any more (skipped or stopped): drop it, never wait for room."""
        with self._lock:
            self._detached = self._finished = True
            self._data.clear()
        self._room.set()

    @property
    def played_seconds(self) -> float:
        return self.frames_played * FRAME_MS / 1000

    def read_frame(self) -> bytes:
        """The next 20 ms as stereo (player thread)."""
        with self._lock:
            if len(self._data) >= self._frame or (self._finished and self._data):
                chunk = bytes(self._data[: self._frame]).ljust(self._frame, b"\0")
                del self._data[: self._frame]
                room = self._waiting and len(self._data) < self._limit
                if room:
                    self._waiting = False
            elif self._finished:
                return b""
            else:
                self.underruns += 1
                return SILENCE
        self.frames_played += 1
        if room:
            self._loop.call_soon_threadsafe(self._room.set)
        return to_stereo(chunk, self.channels)


class Mp3Writer:
    """PCM in, MP3 out into an AudioSpool; LAME runs in a worker thread, a second at a time."""

    def __init__(self, channels: int, kbps: int) -> None:
        self.channels = channels
        self.kbps = kbps
        self.spool = AudioSpool()
        self.pcm_bytes = 0
        self._pending = bytearray()
        self._block = _ENCODE_SECONDS * RATE * SAMPLE_BYTES * channels
        self._encoder: Any = lameenc.Encoder()
        self._encoder.set_bit_rate(kbps)
        self._encoder.set_in_sample_rate(RATE)
        self._encoder.set_channels(channels)
        self._encoder.set_quality(5)
        # The waveform's levels, measured in the encoder's thread from the same blocks.
        self.meter = LevelMeter(rate=RATE, channels=channels)

    async def write(self, pcm: bytes) -> None:
        self.pcm_bytes += len(pcm)
        self._pending += pcm
        if len(self._pending) >= self._block:
            await self.spool.write(await asyncio.to_thread(self._encode, self._take_whole()))

    def _take_whole(self) -> bytes:
        """What is pending, in whole samples of every channel (LAME takes nothing else); a
        stream's chunks may end mid-sample, so the rest waits for the next."""
        whole = len(self._pending) - len(self._pending) % (SAMPLE_BYTES * self.channels)
        taken = bytes(self._pending[:whole])
        del self._pending[:whole]
        return taken

    def _encode(self, pcm: bytes) -> bytes:
        self.meter.feed(pcm)
        return bytes(self._encoder.encode(pcm))

    async def finish(self) -> AudioSpool:
        """The whole MP3, rewound; the spool is the caller's to close."""
        rest = self._take_whole()
        self._pending.clear()
        tail = await asyncio.to_thread(lambda: self._encode(rest) + bytes(self._encoder.flush()))
        await self.spool.write(tail)
        await self.spool.finish()
        return self.spool

    @property
    def seconds(self) -> float:
        return seconds_of(self.pcm_bytes, self.channels)
