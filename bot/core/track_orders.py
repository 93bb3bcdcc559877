"""The orders behind the buttons under a track, a suggestion and an interrupted job: what
Try again, Compose with this, Regenerate, Extend and Redo a section would compose."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bot.music import ComposeRequest, InvalidInput, parse_plan
from bot.music import plans as plan_parts
from bot.music.models import SEED_MAX
from bot.music.plans import Plan, PlanSection
from bot.store import SuggestionStore
from bot.store.audio import TrackAudioStore
from bot.store.jobs import JobStore
from bot.store.plans import TrackRecord, TrackStore

from .orders import EXTEND_MS, ComposeOrder
from .outcomes import Once
from .refusals import (
    AudioNotKept,
    CannotChange,
    Gone,
    NotStoredForEditing,
    NotYours,
    Refused,
    Unreadable,
)
from .requester import Requester


@dataclass(frozen=True, slots=True)
class Deleted:
    """A track forgotten: where its message was (to delete it too)."""

    track: TrackRecord
    message_id: int | None


@dataclass(frozen=True, slots=True)
class ButtonOrder:
    """An order from a button: whose it is (charged to the presser), and whether it composes
    once. `track` is the track under which it was pressed, if any."""

    order: ComposeOrder
    owner_id: int
    once: Once | None = None
    track: TrackRecord | None = None


async def owned_track(
    tracks: TrackStore, requester: Requester, track_id: str
) -> TrackRecord | Refused:
    """The track behind a button, if it is still kept and this member may use it."""
    track = await tracks.get(track_id)
    if track is None:
        return Refused(Gone("track"))
    if not requester.may_act_for(track.user_id):
        return Refused(NotYours())
    return track


class TrackOrders:
    def __init__(
        self,
        tracks: TrackStore,
        suggestions: SuggestionStore,
        jobs: JobStore,
        *,
        inpainting: bool = False,
        audio: TrackAudioStore | None = None,
    ) -> None:
        self._tracks = tracks
        self._suggestions = suggestions
        self._jobs = jobs
        self.inpainting = inpainting
        # The delivered tracks' MP3s: Stems needs the track's.
        self._audio = audio

    def editable(self, track: TrackRecord) -> bool:
        """Whether a track's song is stored, so Extend and Redo a section can reuse it."""
        return self.inpainting and track.song_id is not None

    async def track_for(self, requester: Requester, track_id: str) -> TrackRecord | Refused:
        return await owned_track(self._tracks, requester, track_id)

    async def delete(self, requester: Requester, track_id: str) -> Deleted | Refused:
        """Delete a track: its requester, or a moderator (audited)."""
        track = await self.track_for(requester, track_id)
        if isinstance(track, Refused):
            return track
        message_id = await self._tracks.delete(track, actor_id=requester.user_id)
        return Deleted(track, message_id)

    async def recent(self, requester: Requester) -> list[TrackRecord]:
        """The member's own newest tracks here."""
        return await self._tracks.recent(requester.guild_id, requester.user_id)

    @staticmethod
    def describe(track: TrackRecord) -> str:
        """What a track is, in a few words: its title, or what was asked for."""
        if track.title:
            return track.title
        return ComposeOrder.from_request(
            ComposeRequest.model_validate_json(track.request_json)
        ).headline

    async def suggestion(self, suggestion_id: str) -> ButtonOrder | Refused:
        """Compose with this, under a copyright refusal."""
        suggestion = await self._suggestions.get(suggestion_id)
        if suggestion is None or suggestion.used:
            return Refused(Gone("suggestion"))
        order = ComposeOrder(suggestion.prompt, suggestion.length_s, suggestion.instrumental)
        return ButtonOrder(order, suggestion.user_id, Once("suggestion", suggestion_id))

    async def retry(self, job_id: str) -> ButtonOrder | Refused:
        """Try again, under an interrupted job."""
        job = await self._jobs.get(job_id)
        if job is None:
            return Refused(Gone("retry"))
        order = ComposeOrder.from_request(ComposeRequest.model_validate_json(job.request))
        return ButtonOrder(order, job.user_id, Once("retry", job_id))

    async def regenerate(self, requester: Requester, track_id: str) -> ButtonOrder | Refused:
        """The same input again, with a new seed for a plan."""
        track = await self.track_for(requester, track_id)
        if isinstance(track, Refused):
            return track
        order = ComposeOrder.from_request(ComposeRequest.model_validate_json(track.request_json))
        if order.plan is not None:
            # A seed goes with a plan only: the API's docs say it cannot be used with a prompt,
            # and a prompt is composed anew each time anyway.
            order = ComposeOrder.for_plan(order.plan, seed=random.randrange(SEED_MAX + 1))
        return ButtonOrder(order, track.user_id, Once("regenerate", track.id), track)

    async def extend(self, requester: Requester, track_id: str) -> ButtonOrder | Refused:
        """The stored song kept, plus a new section after its end."""
        found = await self._changed_plan(
            requester, track_id, lambda plan, song: plan_parts.extend(plan, song, EXTEND_MS)
        )
        if isinstance(found, Refused):
            return found
        track, extended = found
        once = Once("extend", track.id)
        return ButtonOrder(ComposeOrder.for_plan(extended), track.user_id, once, track)

    async def redo_sections(
        self, requester: Requester, track_id: str
    ) -> list[PlanSection] | Refused:
        """The sections a member may pick to compose again."""
        found = await self._changed_plan(requester, track_id, lambda plan, song: plan)
        return found if isinstance(found, Refused) else plan_parts.sections(found[1])

    async def redo(self, requester: Requester, track_id: str, index: int) -> ButtonOrder | Refused:
        """One section composed again; the rest of the stored song kept."""
        found = await self._changed_plan(
            requester, track_id, lambda plan, song: plan_parts.redo_section(plan, song, index)
        )
        if isinstance(found, Refused):
            return found
        track, redone = found
        return ButtonOrder(ComposeOrder.for_plan(redone), track.user_id, track=track)

    async def stems_source(self, requester: Requester, track_id: str) -> TrackRecord | Refused:
        """The track to split into stems: this member's (or a moderator's) to use, and its
        audio still kept (pruned after 32 days, and not kept for tracks delivered before
        Stems existed); checked before any quota is reserved."""
        track = await self.track_for(requester, track_id)
        if isinstance(track, Refused):
            return track
        if self._audio is None or not await self._audio.kept(track.id):
            return Refused(AudioNotKept())
        return track

    async def stems(self, requester: Requester, track_id: str, count: int) -> ButtonOrder | Refused:
        """Stems of a track (2 or 6), once per choice; charged like a track of its length."""
        track = await self.stems_source(requester, track_id)
        if isinstance(track, Refused):
            return track
        if count not in (2, 6):
            return Refused(Gone("track"))
        order = ComposeOrder(f"Stems of {track.title or 'a track'}", track.length_s)
        once = Once("stems:2" if count == 2 else "stems:6", track.id)
        return ButtonOrder(order, track.user_id, once, track)

    async def _changed_plan(
        self, requester: Requester, track_id: str, change: Callable[[Plan, str], Plan]
    ) -> tuple[TrackRecord, Plan] | Refused:
        """A stored track's plan (the one the API used), changed by `change(plan, song_id)`."""
        track = await self.track_for(requester, track_id)
        if isinstance(track, Refused):
            return track
        if not self.inpainting or track.song_id is None or track.plan_json is None:
            return Refused(NotStoredForEditing())
        try:
            plan = parse_plan(track.plan_json)
        except ValueError:
            return Refused(Unreadable("track plan"))
        try:
            return track, change(plan, track.song_id)
        except InvalidInput as exc:
            return Refused(CannotChange(exc.message))
