"""Discord voice: what it needs on this machine, and the jam's Speaker over a VoiceClient."""

from __future__ import annotations

import ctypes.util
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord.errors import ConnectionClosed
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import VoiceConnectionState

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


# Voice close codes after which connecting again cannot help (discord.py 2.7 would retry
# them forever): 4017, Discord requires an end-to-end encryption (DAVE) version this bot
# cannot speak.
FINAL_CLOSE_CODES = frozenset({4017})


class VoiceRefused(Exception):
    """The voice server closed with a code that connecting again cannot change."""

    def __init__(self, code: int) -> None:
        super().__init__(f"voice closed with code {code}")
        self.code = code


class _ConnectionState(VoiceConnectionState):
    """discord.py's voice connection, but a final close code ends it instead of reconnecting."""

    async def _connect_websocket(self, resume: bool) -> DiscordVoiceWebSocket:
        ws = await super()._connect_websocket(resume)
        poll = ws.poll_event

        async def poll_event() -> None:
            try:
                await poll()
            except ConnectionClosed as exc:
                if exc.code in FINAL_CLOSE_CODES:
                    raise VoiceRefused(exc.code) from exc
                raise

        ws.poll_event = poll_event  # type: ignore[method-assign]
        return ws

    async def _poll_voice_ws(self, reconnect: bool) -> None:
        try:
            await super()._poll_voice_ws(reconnect)
        except VoiceRefused as exc:
            log.warning("voice refused us (close code %d): leaving, not reconnecting", exc.code)
            client = self.voice_client
            if isinstance(client, JamVoiceClient):
                client.refused_code = exc.code
            await self.disconnect()


class JamVoiceClient(discord.VoiceClient):
    """A VoiceClient that remembers a final close code, and never loops reconnecting on it."""

    refused_code: int | None = None

    def create_connection_state(self) -> VoiceConnectionState:
        return _ConnectionState(self)

    async def connect(self, **kwargs: Any) -> None:
        try:
            await super().connect(**kwargs)
        except VoiceRefused as exc:
            self.refused_code = exc.code
            raise


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
    def close_code(self) -> int | None:
        """The final close code voice ended with, if it did."""
        return self.voice.refused_code if isinstance(self.voice, JamVoiceClient) else None

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
        if not self.voice.is_connected():
            # Already gone (disconnected by Discord or a moderator): leaving again would wait
            # for a confirmation that never comes.
            return
        try:
            await self.voice.disconnect(force=True)
        except (TimeoutError, discord.HTTPException) as exc:
            log.warning("could not leave voice cleanly: %s", exc)
