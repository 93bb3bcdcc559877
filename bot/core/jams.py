"""Jams: one per server. Who may stop or skip, the majority vote, and leaving a channel
nobody listens to. The cog gives the facts (who listens), this decides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from .composer import Composer
from .jam import PREFETCH_LEAD_S, Jam, JamEntry, JamScreen, Speaker
from .requester import Requester

log = logging.getLogger(__name__)

DEFAULT_IDLE_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Stopped:
    by_user_id: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The bot was disconnected from voice."""


@dataclass(frozen=True, slots=True)
class EncryptionRequired:
    """Discord requires an end-to-end encryption version this bot cannot speak (close code
    4017): joining again would fail the same way."""


# Voice close codes, and what they mean for a jam.
E2EE_REQUIRED = 4017


def lost_voice(close_code: int | None) -> Disconnected | EncryptionRequired:
    """Why a jam's voice connection ended, from the close code it ended with (if any)."""
    return EncryptionRequired() if close_code == E2EE_REQUIRED else Disconnected()


@dataclass(frozen=True, slots=True)
class Idle:
    seconds: float


@dataclass(frozen=True, slots=True)
class Restarting:
    pass


EndReason = Stopped | Disconnected | EncryptionRequired | Idle | Restarting
# Told when a jam ends: the jam, why, and how many waiting tracks were not played.
OnEnded = Callable[[Jam, EndReason, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Skipped by its requester or a moderator, or by a majority (`votes` of `listeners`)."""

    votes: int = 0
    listeners: int = 0


@dataclass(frozen=True, slots=True)
class VoteCounted:
    votes: int
    needed: int


@dataclass(frozen=True, slots=True)
class NothingPlaying:
    pass


@dataclass(frozen=True, slots=True)
class NotListening:
    """Only listeners vote."""


SkipOutcome = Skipped | VoteCounted | NothingPlaying | NotListening


class Jams:
    def __init__(
        self,
        composer: Composer,
        *,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        prefetch_seconds: float = PREFETCH_LEAD_S,
    ) -> None:
        self._composer = composer
        self.idle_seconds = idle_seconds
        self.prefetch_seconds = prefetch_seconds
        self._jams: dict[int, Jam] = {}
        self._idle: dict[int, asyncio.Task[None]] = {}
        # Told when a jam ends (set by the cog that shows it).
        self.on_ended: OnEnded | None = None
        # Why voice cannot work on this machine (set at start-up), or None.
        self.unavailable: str | None = None

    def get(self, guild_id: int) -> Jam | None:
        return self._jams.get(guild_id)

    def jam_for(self, guild_id: int, voice_channel_id: int | None) -> Jam | None:
        """The jam a compose goes to: this server's, if the member listens to it."""
        jam = self._jams.get(guild_id)
        if jam is None or voice_channel_id != jam.voice_channel_id:
            return None
        return jam

    def start(
        self,
        speaker: Speaker,
        screen: JamScreen,
        *,
        requester: Requester,
        voice_channel_id: int,
    ) -> Jam:
        jam = Jam(
            speaker,
            screen,
            guild_id=requester.guild_id,
            voice_channel_id=voice_channel_id,
            text_channel_id=requester.channel_id,
            starter_id=requester.user_id,
            composer=self._composer,
            prefetch_seconds=self.prefetch_seconds,
        )
        self._jams[requester.guild_id] = jam
        log.info("jam started in voice channel %s", voice_channel_id)
        return jam

    # -- who may -------------------------------------------------------------------------------

    @staticmethod
    def may_stop(jam: Jam, requester: Requester, listener_ids: Collection[int]) -> bool:
        """Its starter or a moderator; any listener once the starter has left."""
        if requester.may_act_for(jam.starter_id):
            return True
        return requester.user_id in listener_ids and jam.starter_id not in listener_ids

    @staticmethod
    def skip(jam: Jam, requester: Requester, listener_ids: Collection[int]) -> SkipOutcome:
        """The track's requester or a moderator skips at once; listeners vote, a majority
        skips."""
        entry = jam.current
        if entry is None:
            return NothingPlaying()
        if requester.may_act_for(entry.user_id):
            jam.skip()
            return Skipped()
        if requester.user_id not in listener_ids:
            return NotListening()
        jam.skip_votes.add(requester.user_id)
        votes = len(jam.skip_votes & set(listener_ids))
        needed = len(listener_ids) // 2 + 1
        if votes >= needed:
            jam.skip()
            return Skipped(votes, len(listener_ids))
        return VoteCounted(votes, needed)

    # -- the end ------------------------------------------------------------------------------

    async def end(self, jam: Jam, reason: EndReason) -> list[JamEntry] | None:
        """End the jam and tell `on_ended`; None if it had already ended."""
        if self._jams.get(jam.guild_id) is not jam:
            return None
        del self._jams[jam.guild_id]
        idle = self._idle.pop(jam.guild_id, None)
        if idle is not None and idle is not asyncio.current_task():
            idle.cancel()
        waiting = await jam.end()
        log.info("jam in voice channel %s ended: %s", jam.voice_channel_id, reason)
        if self.on_ended is not None:
            try:
                await self.on_ended(jam, reason, len(waiting))
            except Exception:
                log.exception("could not tell that a jam ended")
        return waiting

    @staticmethod
    def moved(jam: Jam, voice_channel_id: int) -> bool:
        """The bot was moved to another voice channel (by a moderator): the jam follows it,
        and plays there for whoever listens there. Whether it moved at all."""
        if voice_channel_id == jam.voice_channel_id:
            return False
        log.info("jam moved from voice channel %s to %s", jam.voice_channel_id, voice_channel_id)
        jam.voice_channel_id = voice_channel_id
        return True

    def listeners_changed(self, jam: Jam, listening: int) -> None:
        """Leave after `idle_seconds` with nobody listening; a listener coming back cancels it."""
        idle = self._idle.get(jam.guild_id)
        if listening:
            if idle is not None:
                idle.cancel()
                del self._idle[jam.guild_id]
        elif idle is None:
            self._idle[jam.guild_id] = asyncio.create_task(self._leave_when_idle(jam))

    async def _leave_when_idle(self, jam: Jam) -> None:
        await asyncio.sleep(self.idle_seconds)
        self._idle.pop(jam.guild_id, None)
        await self.end(jam, Idle(self.idle_seconds))

    async def close(self) -> None:
        for jam in list(self._jams.values()):
            await self.end(jam, Restarting())
