"""Discord voice: what it needs on this machine, and the jam's Speaker over a VoiceClient."""

from __future__ import annotations

import ctypes.util
import logging
from collections.abc import Callable

import discord

from bot.music.pcm import PcmFifo

log = logging.getLogger(__name__)


def voice_problem() -> str | None:
    """Why this bot cannot play in voice here, in a sentence for an admin, or None.

    discord.py needs PyNaCl and davey (the `voice` extra) and libopus, a system library
    (`./scripts/install` installs it). Blocking (it looks libopus up): call it in a thread.
    """
    if not discord.voice_client.has_nacl or not discord.voice_state.has_dave:
        return "the voice libraries are missing (install discord.py[voice])"
    if not discord.opus.is_loaded():
        name = ctypes.util.find_library("opus")
        if name is None:
            return "libopus is not installed (./scripts/install installs it: apt-get libopus0)"
        try:
            discord.opus.load_opus(name)
        except OSError as exc:
            return f"libopus could not be loaded ({exc})"
    return None


class FifoSource(discord.AudioSource):
    """Plays a PcmFifo: each read is the next 20 ms, or silence while the stream is behind."""

    def __init__(self, fifo: PcmFifo) -> None:
        self.fifo = fifo

    def read(self) -> bytes:
        return self.fifo.read_frame()

    def is_opus(self) -> bool:
        return False


class VoiceSpeaker:
    """The jam's Speaker port over discord.py's VoiceClient."""

    def __init__(self, voice: discord.VoiceClient) -> None:
        self.voice = voice

    @property
    def bitrate_kbps(self) -> int:
        return self.voice.channel.bitrate // 1000

    def is_connected(self) -> bool:
        return self.voice.is_connected()

    def is_playing(self) -> bool:
        return self.voice.is_playing()

    def play(
        self, fifo: PcmFifo, *, bitrate_kbps: int, after: Callable[[Exception | None], None]
    ) -> None:
        self.voice.play(FifoSource(fifo), after=after, bitrate=bitrate_kbps, signal_type="music")

    def stop(self) -> None:
        self.voice.stop()

    async def disconnect(self) -> None:
        try:
            await self.voice.disconnect(force=True)
        except (TimeoutError, discord.HTTPException) as exc:
            log.warning("could not leave voice cleanly: %s", exc)
