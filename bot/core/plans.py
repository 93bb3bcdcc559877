"""PlanService: make a plan (rate-limited per member), find a member's own plan, edit its
sections and styles without losing a line, copy a track's plan, and read a plan file."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bot import metrics
from bot.attachments import TooLarge, read_capped
from bot.music import InvalidInput, MusicClient, MusicError, parse_plan
from bot.music import plans as plan_parts
from bot.music.models import DEFAULT_MODEL, ModelId
from bot.music.plans import Plan, PlanSection
from bot.store.plans import PlanListing, PlanRecord, PlanStore, TrackStore

from .intake import Intake
from .orders import DEFAULT_LENGTH_S, ComposeOrder, check_order
from .refusals import (
    CannotChange,
    Gone,
    NoGlobalStyles,
    NoPlanBehindTrack,
    NotYours,
    PlanFileInvalid,
    PlanFileTooLarge,
    PlanFileUnreachable,
    PlanRateLimited,
    PlanSources,
    PromptAndPlan,
    Refused,
    Restarting,
    SectionKept,
    Unreadable,
)
from .requester import Requester
from .track_orders import owned_track

log = logging.getLogger(__name__)

# The largest plan the API accepts is about 500 KiB of JSON.
PLAN_FILE_MAX_BYTES = 1024 * 1024
# A section form's fields: the PlanSection attribute each sets, and how its text is read.
_SECTION_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "name": ("name", plan_parts.parse_name),
    "duration": ("duration_ms", plan_parts.parse_seconds),
    "styles": ("positive_styles", lambda text: tuple(plan_parts.parse_styles(text))),
    "avoid": (
        "negative_styles",
        lambda text: tuple(plan_parts.parse_styles(text, "styles to avoid")),
    ),
    "lyrics": ("lines", lambda text: tuple(plan_parts.parse_lyrics(text))),
}


@dataclass(frozen=True, slots=True)
class OwnedPlan:
    """A kept, readable plan its requester may use."""

    record: PlanRecord
    plan: Plan


@dataclass(frozen=True, slots=True)
class PlanMade:
    plan_id: str
    plan: Plan


@dataclass(frozen=True, slots=True)
class PlanFailed:
    error: MusicError


@dataclass(frozen=True, slots=True)
class PlanFile:
    """A plan file a member attached: where to fetch it, and the size Discord says."""

    url: str
    size: int


class RateLimit:
    """At most `limit` uses per `period` seconds for each key, in this process."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self._uses: dict[tuple[int, int], deque[float]] = {}

    def wait_time(self, key: tuple[int, int]) -> float:
        """0 and counts the use when allowed; otherwise the seconds until it will be."""
        now = time.monotonic()
        uses = self._uses.setdefault(key, deque())
        while uses and uses[0] <= now - self.period:
            uses.popleft()
        if len(uses) >= self.limit:
            return uses[0] + self.period - now
        uses.append(now)
        if len(self._uses) > 10_000:
            # Forget members who have not planned for a while, so the map stays small.
            self._uses = {k: v for k, v in self._uses.items() if v and v[-1] > now - self.period}
        return 0.0


class PlanService:
    def __init__(
        self,
        music: MusicClient,
        plans: PlanStore,
        tracks: TrackStore,
        downloads: httpx.AsyncClient,
        *,
        model_id: ModelId = DEFAULT_MODEL,
        plans_per_minute: int = 5,
        intake: Intake | None = None,
    ) -> None:
        self._music = music
        self._plans = plans
        self._tracks = tracks
        self._downloads = downloads
        self.model_id = model_id
        self._intake = intake or Intake()
        self._limit = RateLimit(plans_per_minute, 60.0)

    # -- make ---------------------------------------------------------------------------------

    def may_plan(self, requester: Requester, prompt: str, length_s: int) -> Refused | None:
        """Whether a plan may be asked for now (counts one use of the member's rate)."""
        if not self._intake.accepting:
            return Refused(Restarting())
        problem = check_order(ComposeOrder(prompt, length_s), self.model_id)
        if problem is not None:
            return Refused(problem)
        wait = self._limit.wait_time((requester.guild_id, requester.user_id))
        return Refused(PlanRateLimited(wait)) if wait > 0 else None

    async def create(
        self, requester: Requester, prompt: str, length_s: int
    ) -> PlanMade | PlanFailed:
        """Ask the API for a plan (after `may_plan`) and keep it for its member."""
        try:
            with metrics.api_call("plan"):
                plan = await self._music.create_plan(
                    prompt, music_length_ms=length_s * 1000, model_id=self.model_id
                )
        except MusicError as exc:
            return PlanFailed(exc)
        plan_id = await self.save(requester, plan, origin="planned", prompt=prompt)
        return PlanMade(plan_id, plan)

    async def save(
        self, requester: Requester, plan: Plan, *, origin: str, prompt: str | None = None
    ) -> str:
        """Keep a plan for its member; `origin` says where it came from."""
        return await self._plans.save(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            origin=origin,
            prompt=prompt,
            plan=plan,
        )

    async def set_message(self, plan_id: str, message_id: int) -> None:
        """The public message that shows the plan, so an edit redraws it."""
        await self._plans.set_message(plan_id, message_id)

    async def recent(self, requester: Requester) -> list[PlanListing]:
        return await self._plans.recent(requester.guild_id, requester.user_id)

    # -- find ---------------------------------------------------------------------------------

    async def owned(self, requester: Requester, plan_id: str) -> OwnedPlan | Refused:
        """The plan behind a button or an option, if it is kept in this server, readable,
        and this member may use it."""
        record = await self._plans.get(plan_id)
        if record is None or record.guild_id != requester.guild_id:
            return Refused(Gone("plan"))
        if not requester.may_act_for(record.user_id):
            return Refused(NotYours())
        try:
            return OwnedPlan(record, parse_plan(record.plan_json))
        except ValueError:
            log.exception("stored plan %s could not be read", record.id)
            return Refused(Unreadable("plan"))

    async def order_for(
        self,
        requester: Requester,
        *,
        prompt: str | None,
        length_s: int | None,
        instrumental: bool,
        plan_id: str | None,
        plan_file: PlanFile | None,
    ) -> ComposeOrder | Refused:
        """What /music compose was asked for, from a prompt, a saved plan or a plan file."""
        if plan_id is None and plan_file is None:
            length = DEFAULT_LENGTH_S if length_s is None else length_s
            return ComposeOrder(prompt or "", length, instrumental)
        if plan_id is not None and plan_file is not None:
            return Refused(PlanSources(both_plans=True))
        if prompt is not None:
            return Refused(PromptAndPlan())
        if length_s is not None or instrumental:
            return Refused(PlanSources(both_plans=False))
        if plan_id is not None:
            owned = await self.owned(requester, plan_id.strip())
            if isinstance(owned, Refused):
                # Said of an option the member chose, not of a button.
                if isinstance(owned.reason, Gone):
                    return Refused(Gone("plan option"))
                if isinstance(owned.reason, NotYours):
                    return Refused(NotYours("plan"))
                return owned
            return ComposeOrder.for_plan(owned.plan)
        assert plan_file is not None
        plan = await self._read_file(plan_file)
        return plan if isinstance(plan, Refused) else ComposeOrder.for_plan(plan)

    async def _read_file(self, plan_file: PlanFile) -> Plan | Refused:
        too_large = Refused(PlanFileTooLarge(PLAN_FILE_MAX_BYTES // 1024))
        if plan_file.size > PLAN_FILE_MAX_BYTES:
            return too_large
        try:
            # Before the 3 s acknowledgement deadline, so keep it short.
            async with asyncio.timeout(2):
                data = await read_capped(self._downloads, plan_file.url, PLAN_FILE_MAX_BYTES)
            return parse_plan(data)
        except TooLarge:
            return too_large
        except (httpx.HTTPError, TimeoutError):
            return Refused(PlanFileUnreachable())
        except ValueError as exc:
            first = str(exc).splitlines()
            return Refused(PlanFileInvalid(" ".join(first[1:3]) if len(first) > 1 else str(exc)))

    # -- edit ---------------------------------------------------------------------------------

    async def section(
        self, requester: Requester, plan_id: str, index: int
    ) -> tuple[OwnedPlan, PlanSection] | Refused:
        """A section to edit: kept sections (audio of an earlier take) cannot be."""
        owned = await self.owned(requester, plan_id)
        if isinstance(owned, Refused):
            return owned
        sections = plan_parts.sections(owned.plan)
        if not 0 <= index < len(sections):
            return Refused(Gone("section"))
        if sections[index].kept:
            return Refused(SectionKept())
        return owned, sections[index]

    async def global_styles(
        self, requester: Requester, plan_id: str
    ) -> tuple[list[str], list[str]] | Refused:
        owned = await self.owned(requester, plan_id)
        if isinstance(owned, Refused):
            return owned
        styles = plan_parts.global_styles(owned.plan)
        return styles if styles is not None else Refused(NoGlobalStyles())

    async def edit_section(
        self, requester: Requester, plan_id: str, index: int, values: dict[str, str]
    ) -> OwnedPlan | Refused:
        """Apply what a section form submitted; fields it did not show stay as they are."""

        def change(plan: Plan) -> Plan:
            current = plan_parts.sections(plan)
            if not 0 <= index < len(current):
                raise InvalidInput("That section is no longer in the plan.")
            edited = {
                attribute: parse(values[key])
                for key, (attribute, parse) in _SECTION_PARSERS.items()
                if key in values
            }
            return plan_parts.replace_section(plan, index, replace(current[index], **edited))

        return await self._edit(requester, plan_id, change)

    async def edit_styles(
        self, requester: Requester, plan_id: str, *, styles: str, avoid: str
    ) -> OwnedPlan | Refused:
        return await self._edit(
            requester,
            plan_id,
            lambda plan: plan_parts.with_global_styles(
                plan,
                plan_parts.parse_styles(styles),
                plan_parts.parse_styles(avoid, "styles to avoid"),
            ),
        )

    async def _edit(
        self, requester: Requester, plan_id: str, change: Callable[[Plan], Plan]
    ) -> OwnedPlan | Refused:
        """Apply a change to the plan and keep it, or say why it cannot be (nothing changes)."""
        owned = await self.owned(requester, plan_id)
        if isinstance(owned, Refused):
            return owned
        try:
            changed = change(owned.plan)
        except InvalidInput as exc:
            return Refused(CannotChange(exc.message))
        await self._plans.update(owned.record.id, changed)
        return OwnedPlan(owned.record, changed)

    # -- from a track -------------------------------------------------------------------------

    async def track_plan(self, requester: Requester, track_id: str) -> Plan | Refused:
        """The plan that produced a track (Show plan), for its requester or a moderator."""
        track = await owned_track(self._tracks, requester, track_id)
        if isinstance(track, Refused):
            return track
        if track.plan_json is None:
            return Refused(NoPlanBehindTrack())
        try:
            return parse_plan(track.plan_json)
        except ValueError:
            return Refused(Unreadable("track plan"))

    async def copy_from_track(self, requester: Requester, track_id: str) -> PlanMade | Refused:
        """Edit & compose: the track's plan, copied into a new plan its presser can edit."""
        plan = await self.track_plan(requester, track_id)
        if isinstance(plan, Refused):
            return plan
        # Kept sections point into the old song; an edited copy composes every section anew.
        fresh = plan_parts.rebuild(plan, [s.fresh() for s in plan_parts.sections(plan)])
        return PlanMade(await self.save(requester, fresh, origin="track"), fresh)
