"""MP3 from the API's stream, decoded as it arrives into what Discord plays: 48 kHz stereo.

A jam asks for MP3, not raw PCM: MP3 says in every frame how many channels and what rate it
has, so the audio plays at its pitch and pace whatever the API sends (its songs are stereo;
raw `pcm_48000` says nothing, and stereo read as mono plays an octave down at half speed).
The MP3 is also the file posted afterwards, as the API made it: nothing is re-encoded.

FFmpeg's decoder (PyAV, self-contained wheels) is stateful across chunks, so a chunk may end
anywhere, mid-frame included; its resampler turns mono or 44.1 kHz into 48 kHz stereo.
"""

from __future__ import annotations

from typing import Any

import av

RATE = 48_000
CHANNELS = 2


class UndecodableAudio(Exception):
    """The bytes are not MP3 audio."""


class Mp3Decoder:
    """Feed MP3 bytes in any pieces; get interleaved s16le 48 kHz stereo PCM back."""

    def __init__(self) -> None:
        self._codec: Any = av.CodecContext.create("mp3", "r")
        self._resampler: Any = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        # What the stream itself says, once its first frame is decoded.
        self.channels: int | None = None
        self.sample_rate: int | None = None
        self.pcm_bytes = 0

    def decode(self, mp3: bytes) -> bytes:
        """The PCM for whatever whole frames `mp3` completes (may be b"")."""
        try:
            return self._pcm(self._codec.parse(mp3))
        except av.error.FFmpegError as exc:
            raise UndecodableAudio(str(exc)) from None

    def flush(self) -> bytes:
        """The rest, at the end of the stream."""
        try:
            pcm = self._pcm(self._codec.parse(b""))
            pcm += self._frames(self._codec.decode(None))
            pcm += self._resampled(None)
        except av.error.FFmpegError as exc:
            raise UndecodableAudio(str(exc)) from None
        self.pcm_bytes += len(pcm)
        return pcm

    @property
    def seconds(self) -> float:
        """How long the PCM handed out so far plays."""
        return self.pcm_bytes / (RATE * CHANNELS * 2)

    def _pcm(self, packets: list[Any]) -> bytes:
        out = b"".join(self._frames(self._codec.decode(packet)) for packet in packets)
        self.pcm_bytes += len(out)
        return out

    def _frames(self, frames: list[Any]) -> bytes:
        out = []
        for frame in frames:
            if self.channels is None:
                self.channels = int(frame.layout.nb_channels)
                self.sample_rate = int(frame.sample_rate)
            out.append(self._resampled(frame))
        return b"".join(out)

    def _resampled(self, frame: Any) -> bytes:
        return b"".join(
            bytes(f.planes[0])[: f.samples * CHANNELS * 2] for f in self._resampler.resample(frame)
        )
