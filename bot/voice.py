"""Discord voice: what it needs on this machine, and a PCM stream as discord.py's audio source."""

from __future__ import annotations

import ctypes.util
import logging

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
