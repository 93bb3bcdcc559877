"""Discord voice: what it needs on this machine, and the jam's Speaker over a VoiceClient."""

from __future__ import annotations

import asyncio
import ctypes.util
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord.errors import ConnectionClosed
from discord.gateway import DiscordVoiceWebSocket
from discord.utils import MISSING
from discord.voice_state import SocketReader, VoiceConnectionState

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
# The voice server crashed: the session can be resumed on a new websocket.
RESUMABLE_CLOSE_CODE = 4015
RESUME_TIMEOUT_S = 10.0
# libopus' OPUS_SET_COMPLEXITY_REQUEST, and the complexity jams encode at (0-10).
OPUS_SET_COMPLEXITY = 4010
OPUS_COMPLEXITY = 5


class VoiceRefused(Exception):
    """The voice server closed with a code that connecting again cannot change."""

    def __init__(self, code: int) -> None:
        super().__init__(f"voice closed with code {code}")
        self.code = code


class _ConnectionState(VoiceConnectionState):
    """discord.py's voice connection, with three changes for jams:

    - a final close code (4017) ends it instead of reconnecting forever;
    - 4015 (the voice server crashed) is resumed as Discord documents it: a new websocket
      that RESUMEs the session, keeping its keys, SSRC and DAVE group (discord.py 2.7.1
      asks the main gateway again first, and gives up when the answer closes the socket);
    - while it reconnects (4006, a dropped connection), the voice client says so, so the
      bot leaving the channel on the way is not taken for the end of the jam.
    """

    async def _connect_websocket(self, resume: bool) -> DiscordVoiceWebSocket:
        return self._guarded(await super()._connect_websocket(resume))

    def _guarded(self, ws: DiscordVoiceWebSocket) -> DiscordVoiceWebSocket:
        """The websocket, its closes seen first here: final ones refuse, 4015 resumes."""
        poll = ws.poll_event

        async def poll_event() -> None:
            try:
                await poll()
            except ConnectionClosed as exc:
                if exc.code in FINAL_CLOSE_CODES:
                    raise VoiceRefused(exc.code) from exc
                if exc.code == RESUMABLE_CLOSE_CODE and await self._resume():
                    return  # the poller goes on with the resumed websocket
                raise

        ws.poll_event = poll_event  # type: ignore[method-assign]
        return ws

    async def _resume(self) -> bool:
        """A new voice websocket that resumes the session (op 7 -> op 9 RESUMED)."""
        log.info("voice server closed with 4015: resuming the session")
        resumed = asyncio.Event()
        try:
            async with asyncio.timeout(RESUME_TIMEOUT_S):
                ws = await DiscordVoiceWebSocket.from_connection_state(
                    self, resume=True, hook=self.hook, seq_ack=self.ws.seq_ack
                )
                original = ws._hook

                async def hook(socket: DiscordVoiceWebSocket, message: dict[str, Any]) -> None:
                    if message.get("op") == DiscordVoiceWebSocket.RESUMED:
                        resumed.set()
                    await original(socket, message)

                setattr(ws, "_hook", hook)  # noqa: B010
                self.ws = ws
                while not resumed.is_set():
                    await ws.poll_event()
        except (ConnectionClosed, OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("could not resume voice (%s): connecting again", exc)
            return False
        # Later closes of this websocket are handled like the first one's.
        self._guarded(ws)
        log.info("voice session resumed")
        return True

    def _create_socket(self) -> None:
        if self.socket is not MISSING:
            # Reconnecting: discord.py's UDP reader may sit up to 30 s in select() on the old,
            # closed socket and miss the new one's IP discovery. The new socket gets a reader
            # of its own; the old one ends when its select() returns.
            self._socket_reader.stop()
            self._socket_reader = SocketReader(self)
            self._socket_reader.start()
        super()._create_socket()

    async def disconnect(
        self, *, force: bool = True, cleanup: bool = True, wait: bool = False
    ) -> None:
        client = self.voice_client
        if isinstance(client, JamVoiceClient):
            # Without cleanup it is a reconnect's first step: the bot will be back.
            client.reconnecting = not cleanup
        await super().disconnect(force=force, cleanup=cleanup, wait=wait)

    async def _connect(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super()._connect(*args, **kwargs)
        finally:
            client = self.voice_client
            if isinstance(client, JamVoiceClient):
                client.reconnecting = False

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
    # True between leaving and joining again during a reconnect.
    reconnecting: bool = False

    def create_connection_state(self) -> VoiceConnectionState:
        return _ConnectionState(self)

    async def connect(self, **kwargs: Any) -> None:
        try:
            await super().connect(**kwargs)
        except VoiceRefused as exc:
            self.refused_code = exc.code
            raise


class FifoSource(discord.AudioSource):
    """Plays a PcmFifo: each read is the next 20 ms, or silence while the stream is behind.
    `prepare` runs once, in the player's thread, before the first frame is encoded."""

    def __init__(self, fifo: PcmFifo, prepare: Callable[[], None] | None = None) -> None:
        self.fifo = fifo
        self._prepare = prepare

    def read(self) -> bytes:
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare()
        return self.fifo.read_frame()

    def is_opus(self) -> bool:
        return False


class VoiceSpeaker:
    """The jam's Speaker port over discord.py's VoiceClient."""

    def __init__(self, voice: discord.VoiceClient) -> None:
        self.voice = voice

    @property
    def reconnecting(self) -> bool:
        """Whether voice is on its way back (the bot left the channel only to rejoin)."""
        return isinstance(self.voice, JamVoiceClient) and self.voice.reconnecting

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
        source = FifoSource(fifo, prepare=self._tune_encoder)
        self.voice.play(source, after=after, bitrate=bitrate_kbps, signal_type="music")

    def _tune_encoder(self) -> None:
        """Opus at complexity 5, not discord.py's 10: the encoder is most of a playing jam's
        CPU, and 5 costs about half (bench/RESULTS.md, many jams). discord.py has no setter:
        its encoder's libopus state, from the player's own thread before the first frame."""
        try:
            discord.opus._lib.opus_encoder_ctl(
                self.voice.encoder._state, OPUS_SET_COMPLEXITY, OPUS_COMPLEXITY
            )
        except Exception as exc:  # a discord.py without these internals: keep its default
            log.debug("could not set the Opus complexity: %s", exc)

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
