"""A voice jam: members' tracks streamed into a voice channel as they are composed, in turn.

Each track waits for its turn in the jam (the member served least recently goes first, as in
the Composer), then for an API slot; its audio is played in voice as the API streams it and
encoded to MP3 at the same time, so the channel gets the whole track afterwards. Voice and the
stream are separate: a skipped track leaves voice at once, but is still composed and posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field

import discord

from bot.jobs import ComposeJob, Composer, JobListener
from bot.music import Track
from bot.music.client import check_length, length_is_off
from bot.music.pcm import Mp3Writer, PcmFifo
from bot.ui.buttons import jam_view
from bot.ui.embeds import now_playing_embed
from bot.voice import FifoSource

log = logging.getLogger(__name__)

NOW_PLAYING_INTERVAL = 10.0


class JamEnded(Exception):
    """The jam stopped before this track's turn."""


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

    @property
    def user_id(self) -> int:
        return self.job.user_id


class Jam:
    def __init__(
        self,
        voice: discord.VoiceClient,
        text_channel: discord.abc.Messageable,
        *,
        starter_id: int,
        composer: Composer,
        pcm_channels: int,
        now_playing_interval: float = NOW_PLAYING_INTERVAL,
    ) -> None:
        self.voice = voice
        self.text_channel = text_channel
        self.starter_id = starter_id
        self._composer = composer
        self._channels = pcm_channels
        self._interval = now_playing_interval
        self.waiting: list[JamEntry] = []
        self.current: JamEntry | None = None
        self.skip_votes: set[int] = set()
        self.ended = False
        self._orders = itertools.count()
        self._served: dict[int, int] = {}
        self._serves = itertools.count(1)
        self._now_playing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def channel(self) -> discord.VoiceChannel | discord.StageChannel:
        return self.voice.channel

    def listeners(self) -> list[discord.Member]:
        """The members listening: everyone in the voice channel but bots (this one too)."""
        return [m for m in self.channel.members if not m.bot and m != self.channel.guild.me]

    # -- a track's life -----------------------------------------------------------------------

    async def play(self, job: ComposeJob, listener: JobListener, *, kbps: int) -> Track:
        """Wait for the track's turn, stream it into voice and into an MP3, and return the MP3
        once its voice playback is over (played out, or skipped)."""
        if self.ended:
            raise JamEnded
        entry = JamEntry(job, next(self._orders), listener=listener)
        self.waiting.append(entry)
        writer = Mp3Writer(self._channels, kbps)
        try:
            self._advance()
            await self._announce_positions()
            await entry.turn
            fifo = entry.fifo = PcmFifo(self._channels)
            async with self._composer.streaming(job, listener) as chunks:
                playing = False
                async for chunk in chunks:
                    await fifo.push(chunk)
                    if not playing:
                        # Voice starts with the first audio: no silence before it.
                        self._start_playback(entry)
                        playing = True
                    await writer.write(chunk)
                fifo.finish()
            self._check_length(job, writer.seconds)
            await entry.played
            spool = await writer.finish()
        except BaseException:
            writer.spool.close()
            raise
        finally:
            self._leave(entry)
        return Track(
            audio=spool,
            content_type="audio/mpeg",
            output_format=f"mp3_48000_{kbps}",
            expected_duration_ms=job.request.expected_duration_ms,
        )

    def _check_length(self, job: ComposeJob, seconds: float) -> None:
        expected_ms = job.request.expected_duration_ms
        other = 3 - self._channels
        if expected_ms is not None and not length_is_off(
            seconds * self._channels / other, expected_ms
        ):
            # The length it would have with the other channel count is right.
            log.warning("the stream looks like %d channel(s): check MUSIC_PCM_CHANNELS", other)
        check_length(seconds, expected_ms)

    def _start_playback(self, entry: JamEntry) -> None:
        assert entry.fifo is not None
        loop = asyncio.get_running_loop()
        self.skip_votes.clear()

        def after(error: Exception | None) -> None:
            if error is not None:
                log.warning("voice playback of job %s failed: %s", entry.job.id, error)
            loop.call_soon_threadsafe(_resolve, entry.played)

        if not self.voice.is_connected():
            # Voice is gone (the jam is ending): the track is still composed and posted.
            entry.fifo.detach()
            _resolve(entry.played)
            return
        # Discord plays a voice channel at its bitrate: encoding more is wasted.
        voice_kbps = min(512, max(16, self.channel.bitrate // 1000))
        self.voice.play(
            FifoSource(entry.fifo), after=after, bitrate=voice_kbps, signal_type="music"
        )
        self._now_playing = asyncio.create_task(self._show_now_playing(entry))

    def skip(self) -> JamEntry | None:
        """End the current track's playback now; it is still composed and posted."""
        entry = self.current
        if entry is None:
            return None
        if entry.fifo is not None:
            entry.fifo.detach()
        if self.voice.is_playing():
            self.voice.stop()  # the player's `after` resolves `played`
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
            if self.voice.is_playing():
                self.voice.stop()
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

    # -- the now-playing message --------------------------------------------------------------

    async def _show_now_playing(self, entry: JamEntry) -> None:
        """Post the track's now-playing message, edit it at most every interval, and delete
        it once the track leaves voice (the track itself is posted by the compose)."""
        assert entry.fifo is not None
        started = time.monotonic()
        message: discord.Message | None = None
        try:
            shown = None
            while not entry.played.done():
                embed = now_playing_embed(
                    headline=entry.job.prompt,
                    requester_id=entry.user_id,
                    elapsed_s=entry.fifo.played_seconds,
                    length_s=entry.job.length_s,
                    voice_channel=self.channel.mention,
                    queued=len(self.waiting),
                )
                text = embed.to_dict()
                if text != shown:
                    if message is None:
                        message = await self.text_channel.send(
                            embed=embed,
                            view=jam_view(self.channel.guild.id),
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                    else:
                        await message.edit(embed=embed)
                    shown = text
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(entry.played), self._interval)
        except discord.HTTPException as exc:
            log.warning("could not show what the jam plays: %s", exc)
        finally:
            log.debug("job %s left voice after %.1f s", entry.job.id, time.monotonic() - started)
            if message is not None:
                with contextlib.suppress(discord.HTTPException):
                    await message.delete()

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
        with contextlib.suppress(discord.HTTPException, asyncio.TimeoutError):
            await self.voice.disconnect(force=True)
        return waiting


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
