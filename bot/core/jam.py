"""A voice jam: members' tracks streamed into a voice channel as they are composed, in turn.

Each track waits for its turn in the jam (the member served least recently goes first, as in
the Composer), then for an API slot; its audio is played through the jam's Speaker as the API
streams it and encoded to MP3 at the same time, so the channel gets the whole track
afterwards. Voice and the stream are separate: a skipped track leaves voice at once, but is
still composed and posted. Discord-free: voice and the now-playing message are ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.music import Track
from bot.music.audio import AudioSpool
from bot.music.client import StreamInfo, check_length
from bot.music.decode import CHANNELS, Mp3Decoder, UndecodableAudio
from bot.music.errors import StreamBroken, UnplayableAudio
from bot.music.pcm import PcmFifo

from .composer import ComposeJob, Composer, JobListener

log = logging.getLogger(__name__)


class JamEnded(Exception):
    """The jam stopped before this track's turn."""


class Speaker(Protocol):
    """The voice connection a jam plays into (discord.py's VoiceClient in the bot)."""

    @property
    def bitrate_kbps(self) -> int:
        """What the voice channel plays at: encoding more is wasted."""
        ...

    def is_connected(self) -> bool: ...

    def is_playing(self) -> bool: ...

    def play(
        self, fifo: PcmFifo, *, bitrate_kbps: int, after: Callable[[Exception | None], None]
    ) -> None:
        """Play the fifo 20 ms at a time; `after` is called (from any thread) when it ends."""
        ...

    def stop(self) -> None: ...

    async def disconnect(self) -> None: ...


class JamScreen(Protocol):
    """Where a jam shows what it plays (the now-playing message in the bot)."""

    async def now_playing(self, jam: Jam, entry: JamEntry) -> None:
        """Show the entry while it plays; return once `entry.played` is done (or be
        cancelled when the entry leaves voice)."""
        ...


@dataclass(eq=False)
class JamEntry:
    """A track in the jam: waiting for its turn, then in voice until played or skipped."""

    job: ComposeJob
    order: int
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    played: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    fifo: PcmFifo | None = None
    listener: JobListener | None = None
    position: int = 0
    started: bool = False

    @property
    def user_id(self) -> int:
        return self.job.user_id

    @property
    def played_seconds(self) -> float:
        return self.fifo.played_seconds if self.fifo is not None else 0.0


class Jam:
    def __init__(
        self,
        speaker: Speaker,
        screen: JamScreen,
        *,
        guild_id: int,
        voice_channel_id: int,
        text_channel_id: int,
        starter_id: int,
        composer: Composer,
    ) -> None:
        self.speaker = speaker
        self.screen = screen
        self.guild_id = guild_id
        self.voice_channel_id = voice_channel_id
        self.text_channel_id = text_channel_id
        self.starter_id = starter_id
        self._composer = composer
        self.waiting: list[JamEntry] = []
        self.current: JamEntry | None = None
        self.skip_votes: set[int] = set()
        self.ended = False
        self._orders = itertools.count()
        self._served: dict[int, int] = {}
        self._serves = itertools.count(1)
        self._now_playing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- a track's life -----------------------------------------------------------------------

    async def play(self, job: ComposeJob, listener: JobListener) -> Track:
        """Wait for the track's turn, stream it into voice while it is kept, and return the
        MP3 the API sent once its voice playback is over (played out, or skipped). A stream
        cut short plays what arrived to its last frame before StreamBroken is raised."""
        if self.ended:
            raise JamEnded
        entry = self.enqueue(job, listener)
        spool = AudioSpool()
        info = StreamInfo()
        try:
            await self._announce_positions()
            await entry.turn
            try:
                await self._stream(entry, spool, info)
            except StreamBroken:
                if entry.started:
                    await entry.played
                raise
            await spool.finish()
            await _check_mp3(spool, job)
            await entry.played
        except UndecodableAudio:
            spool.close()
            raise UnplayableAudio("the music service's answer is not MP3 audio") from None
        except BaseException:
            spool.close()
            raise
        finally:
            self._leave(entry)
        return Track(
            audio=spool,
            content_type="audio/mpeg",
            output_format=job.output_format,
            song_id=info.song_id,
            request_id=info.request_id,
            cost=info.cost,
            expected_duration_ms=job.request.expected_duration_ms,
        )

    async def _stream(self, entry: JamEntry, spool: AudioSpool, info: StreamInfo) -> None:
        """The API's MP3 into the spool, and decoded into voice as it arrives."""
        fifo = entry.fifo = PcmFifo(CHANNELS)
        decoder = Mp3Decoder()
        async with self._composer.streaming(entry.job, entry.listener, info) as chunks:
            try:
                async for chunk in chunks:
                    await spool.write(chunk)
                    pcm = decoder.decode(chunk)
                    if pcm:
                        await fifo.push(pcm)
                        if not entry.started:
                            # Voice starts with the first audio: no silence before it.
                            self._start_playback(entry)
            except StreamBroken:
                # What arrived is played to its end all the same.
                with contextlib.suppress(UndecodableAudio):
                    await fifo.push(decoder.flush())
                fifo.finish()
                raise
            await fifo.push(decoder.flush())
            fifo.finish()

    def enqueue(self, job: ComposeJob, listener: JobListener | None = None) -> JamEntry:
        """Add a track to the queue; its `turn` resolves when voice is its."""
        entry = JamEntry(job, next(self._orders), listener=listener)
        self.waiting.append(entry)
        self._advance()
        return entry

    def _start_playback(self, entry: JamEntry) -> None:
        assert entry.fifo is not None
        entry.started = True
        loop = asyncio.get_running_loop()
        self.skip_votes.clear()

        def after(error: Exception | None) -> None:
            if error is not None:
                log.warning("voice playback of job %s failed: %s", entry.job.id, error)
            loop.call_soon_threadsafe(_resolve, entry.played)

        if not self.speaker.is_connected():
            # Voice is gone (the jam is ending): the track is still composed and posted.
            entry.fifo.detach()
            _resolve(entry.played)
            return
        kbps = min(512, max(16, self.speaker.bitrate_kbps))
        self.speaker.play(entry.fifo, bitrate_kbps=kbps, after=after)
        self._now_playing = asyncio.create_task(self.screen.now_playing(self, entry))

    def skip(self) -> JamEntry | None:
        """End the current track's playback now; it is still composed and posted."""
        entry = self.current
        if entry is None:
            return None
        if entry.fifo is not None:
            entry.fifo.detach()
        if self.speaker.is_playing():
            self.speaker.stop()  # the player's `after` resolves `played`
        else:
            _resolve(entry.played)
        return entry

    def _leave(self, entry: JamEntry) -> None:
        """The track is done with the jam: out of the queue, or out of voice."""
        if entry in self.waiting:
            self.waiting.remove(entry)
        if entry.fifo is not None:
            entry.fifo.detach()
        _resolve(entry.played)
        if self.current is entry:
            if self.speaker.is_playing():
                self.speaker.stop()
            self.current = None
            if self._now_playing is not None:
                self._now_playing.cancel()
                self._now_playing = None
            self._advance()
            announcing = asyncio.create_task(self._announce_positions())
            self._tasks.add(announcing)
            announcing.add_done_callback(self._tasks.discard)

    # -- the queue ----------------------------------------------------------------------------

    def ordered(self) -> list[JamEntry]:
        """The waiting tracks in the order they will play: least recently served member first."""
        return sorted(self.waiting, key=lambda e: (self._served.get(e.user_id, 0), e.order))

    def _advance(self) -> None:
        """Give voice to the next track when it is free."""
        if self.current is not None or not self.waiting or self.ended:
            return
        entry = self.ordered()[0]
        self.waiting.remove(entry)
        self.current = entry
        self._served[entry.user_id] = next(self._serves)
        _resolve(entry.turn)

    async def _announce_positions(self) -> None:
        for position, entry in enumerate(self.ordered(), start=1):
            if entry.position != position and entry.listener is not None:
                entry.position = position
                try:
                    await entry.listener.queued(position)
                except Exception:
                    log.exception("a jam queue position update failed")

    # -- the end ------------------------------------------------------------------------------

    async def end(self) -> list[JamEntry]:
        """Stop the jam: waiting tracks are told the jam ended, the playing one leaves voice
        (and is still posted), and the bot leaves the channel. Returns the waiting tracks."""
        self.ended = True
        waiting, self.waiting = self.waiting, []
        for entry in waiting:
            if not entry.turn.done():
                entry.turn.set_exception(JamEnded())
        self.skip()
        with contextlib.suppress(Exception):
            await self.speaker.disconnect()
        return waiting


async def _check_mp3(spool: AudioSpool, job: ComposeJob) -> None:
    """The MP3 to be posted is MP3, of about the asked length (not a cut file)."""
    seconds = await spool.mp3_seconds()
    if seconds is None:
        raise UnplayableAudio("the music service's answer is not MP3 audio")
    check_length(seconds, job.request.expected_duration_ms)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
