"""PCM handed to voice: signed 16-bit little-endian samples at 48 kHz (`bot.music.decode`
makes it from the API's MP3). Discord plays 20 ms frames of 48 kHz stereo. A `PcmFifo` sits
between the two: the event loop pushes what was decoded, a player thread pulls frames at real
time, and the loop waits when the player is far behind, so a stream faster than real time is
not held whole in memory.
"""

from __future__ import annotations

import asyncio
import threading
from array import array

RATE = 48_000
SAMPLE_BYTES = 2
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
# What Discord's encoder takes: one 20 ms frame of 48 kHz stereo.
STEREO_FRAME_BYTES = FRAME_SAMPLES * 2 * SAMPLE_BYTES
SILENCE = bytes(STEREO_FRAME_BYTES)


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
    def buffered(self) -> int:
        """Bytes waiting to be played."""
        return len(self._data)

    @property
    def finished(self) -> bool:
        return self._finished

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
