"""A voice jam: members' tracks streamed into a voice channel as they are composed, in turn.

Each track waits for its turn in the jam (the member served least recently goes first, as in
the Composer), then for an API slot; its MP3 is decoded and played through the jam's Speaker
as the API streams it, and posted whole afterwards. Voice and the stream are separate: a
skipped track leaves voice at once, but is still composed and posted.

No dead air between tracks: while a track plays, the next one in fair order is chosen and its
stream starts (`PREFETCH_LEAD_S` before the playing one is due to end, or at once if it is
shorter), so the API's time to first byte passes while the current track still plays; its
audio waits in its fifo and plays the moment voice is free. A prefetched track that ends up
without voice (the jam ended) is still composed and posted, like the playing one.
Discord-free: voice and the now-playing message are ports.
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
from bot.music.checks import check_length
from bot.music.client import StreamInfo
from bot.music.decode import CHANNELS, Mp3Decoder, UndecodableAudio
from bot.music.errors import StreamBroken, UnplayableAudio
from bot.music.pcm import RATE, PcmFifo
from bot.music.waveform import LevelMeter, Waveform

from .composer import ComposeJob, Composer, JobListener

log = logging.getLogger(__name__)

# How long before the playing track is due to end the next one's stream starts: more than
# the API's time to first byte (seconds), less than what a fifo holds ahead (30 s).
PREFETCH_LEAD_S = 15.0


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
    # Resolved when its stream may start (it is next, or playing); JamEnded if never.
    fetch: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Resolved when voice is its.
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
    # The levels of what was decoded so far (the now-playing image, the posted track's).
    meter: LevelMeter | None = None

    @property
    def user_id(self) -> int:
        return self.job.user_id

    @property
    def played_seconds(self) -> float:
        return self.fifo.played_seconds if self.fifo is not None else 0.0

    @property
    def waveform(self) -> Waveform:
        """The levels of the audio streamed so far, over the track's whole length."""
        measured = self.meter.waveform() if self.meter is not None else Waveform(())
        return measured.padded(self.job.length_s)


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
        prefetch_seconds: float = PREFETCH_LEAD_S,
    ) -> None:
        self.speaker = speaker
        self.screen = screen
        self.guild_id = guild_id
        self.voice_channel_id = voice_channel_id
        self.text_channel_id = text_channel_id
        self.starter_id = starter_id
        self._composer = composer
        # 0: no prefetch, the next stream is asked for once voice is free.
        self._prefetch_lead = prefetch_seconds
        self.waiting: list[JamEntry] = []
        # The track whose stream is under way before its turn (chosen, no longer waiting).
        self.next: JamEntry | None = None
        self.current: JamEntry | None = None
        self.skip_votes: set[int] = set()
        self.ended = False
        self._orders = itertools.count()
        self._served: dict[int, int] = {}
        self._serves = itertools.count(1)
        self._now_playing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._prefetch_timer: asyncio.TimerHandle | None = None

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
            await entry.fetch
            try:
                await self._stream(entry, spool, info)
            except StreamBroken:
                await entry.turn
                self._start_if_due(entry)
                if entry.started:
                    await entry.played
                raise
            await entry.turn
            self._start_if_due(entry)
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
            waveform=entry.meter.waveform(final=True) if entry.meter is not None else None,
        )

    async def _stream(self, entry: JamEntry, spool: AudioSpool, info: StreamInfo) -> None:
        """The API's MP3 into the spool, and decoded into voice as it arrives."""
        fifo = entry.fifo = PcmFifo(CHANNELS)
        meter = entry.meter = LevelMeter(rate=RATE, channels=CHANNELS)
        decoder = Mp3Decoder()
        listener = _VoiceTurnListener(entry, self._tasks)
        async with self._composer.streaming(entry.job, listener, info) as chunks:
            try:
                async for chunk in chunks:
                    await spool.write(chunk)
                    pcm = decoder.decode(chunk)
                    if pcm:
                        meter.feed(pcm)
                        await fifo.push(pcm)
                        self._start_if_due(entry)
            except StreamBroken:
                # What arrived is played to its end all the same.
                with contextlib.suppress(UndecodableAudio):
                    await fifo.push(decoder.flush())
                fifo.finish()
                raise
            await fifo.push(decoder.flush())
            fifo.finish()

    def enqueue(self, job: ComposeJob, listener: JobListener | None = None) -> JamEntry:
        """Add a track to the queue; its `fetch`, then `turn`, resolve when it is next, and
        when voice is its."""
        entry = JamEntry(job, next(self._orders), listener=listener)
        self.waiting.append(entry)
        self._advance()
        self._prefetch()
        return entry

    def _start_if_due(self, entry: JamEntry) -> None:
        """Voice starts with the track's first audio once it is its turn: no silence before it,
        and none between tracks when the audio was already there."""
        if entry.started or not entry.turn.done() or entry.fifo is None:
            return
        if entry.fifo.buffered or entry.fifo.finished:
            self._start_playback(entry)

    def _start_playback(self, entry: JamEntry) -> None:
        assert entry.fifo is not None
        entry.started = True
        loop = asyncio.get_running_loop()
        self.skip_votes.clear()

        def after(error: Exception | None) -> None:
            if error is not None:
                log.warning("voice playback of job %s failed: %s", entry.job.id, error)
            loop.call_soon_threadsafe(_resolve, entry.played)

        if self.ended or not self.speaker.is_connected():
            # Voice is gone (the jam is ending): the track is still composed and posted.
            entry.fifo.detach()
            _resolve(entry.played)
            return
        kbps = min(512, max(16, self.speaker.bitrate_kbps))
        self.speaker.play(entry.fifo, bitrate_kbps=kbps, after=after)
        self._now_playing = asyncio.create_task(self.screen.now_playing(self, entry))
        self._prefetch()

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
        if self.next is entry:
            # Its stream failed before its turn: another track may take its place.
            self.next = None
            self._prefetch()
        if not entry.turn.done():
            entry.turn.cancel()  # nothing waits for a turn that will not come
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
        """The tracks to come in the order they will play: the one already streaming, then
        the waiting ones, least recently served member first."""
        ahead = [self.next] if self.next is not None else []
        return ahead + sorted(self.waiting, key=lambda e: (self._served.get(e.user_id, 0), e.order))

    def _choose(self) -> JamEntry:
        """The waiting track that goes next (fair order), out of the waiting list."""
        entry = min(self.waiting, key=lambda e: (self._served.get(e.user_id, 0), e.order))
        self.waiting.remove(entry)
        self._served[entry.user_id] = next(self._serves)
        return entry

    def _advance(self) -> None:
        """Give voice to the next track when it is free."""
        if self.current is not None or self.ended:
            return
        if self.next is not None:
            if self._prefetch_timer is not None:
                self._prefetch_timer.cancel()
                self._prefetch_timer = None
            entry, self.next = self.next, None
        elif self.waiting:
            entry = self._choose()
        else:
            return
        self.current = entry
        _resolve(entry.fetch)
        _resolve(entry.turn)
        self._start_if_due(entry)

    def _prefetch(self) -> None:
        """Choose the next track while one plays, and start its stream in time."""
        current = self.current
        if self.ended or current is None or not current.started or self.next is not None:
            return
        if not self._prefetch_lead:
            return
        if not self.waiting:
            return
        entry = self.next = self._choose()
        due_in = current.job.length_s - current.played_seconds - self._prefetch_lead
        if due_in <= 0:
            _resolve(entry.fetch)
        else:
            loop = asyncio.get_running_loop()
            self._prefetch_timer = loop.call_later(due_in, _resolve, entry.fetch)

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
            if not entry.fetch.done():
                entry.fetch.set_exception(JamEnded())
        if self._prefetch_timer is not None:
            self._prefetch_timer.cancel()
            self._prefetch_timer = None
        self.skip()
        with contextlib.suppress(Exception):
            await self.speaker.disconnect()
        ahead, self.next = self.next, None
        if ahead is not None and ahead.fetch.done():
            # Its stream is under way: composed and posted without voice.
            _resolve(ahead.turn)
        elif ahead is not None:
            # Chosen, but its stream had not started: told and refunded like a waiting one.
            ahead.fetch.set_exception(JamEnded())
            waiting.insert(0, ahead)
        return waiting


class _VoiceTurnListener:
    """What the member hears of their track's stream: "started" once voice is its, not when
    its stream starts ahead of its turn (while the track before it still plays)."""

    def __init__(self, entry: JamEntry, tasks: set[asyncio.Task[None]]) -> None:
        self._entry = entry
        self._tasks = tasks

    async def queued(self, position: int) -> None:
        if self._entry.listener is not None:
            await self._entry.listener.queued(position)

    async def started(self) -> None:
        if self._entry.listener is None:
            return
        if self._entry.turn.done():
            await self._entry.listener.started()
            return
        task = asyncio.create_task(self._at_turn())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _at_turn(self) -> None:
        turn = self._entry.turn
        with contextlib.suppress(Exception):
            await asyncio.shield(turn)
        if turn.done() and not turn.cancelled() and turn.exception() is None:
            assert self._entry.listener is not None
            await self._entry.listener.started()


async def _check_mp3(spool: AudioSpool, job: ComposeJob) -> None:
    """The MP3 to be posted is MP3, of about the asked length (not a cut file)."""
    seconds = await spool.mp3_seconds()
    if seconds is None:
        raise UnplayableAudio("the music service's answer is not MP3 audio")
    check_length(seconds, job.request.expected_duration_ms)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
