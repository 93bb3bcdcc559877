"""Composition plans as members see them: make one, look at it, edit it, compose it.

Plans cost no credits but the API rate-limits them, so each member gets a few per minute.
Composing goes through ComposeFlow, with the same quota, queue and errors as /music compose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord
import httpx
from discord import app_commands

from bot import metrics
from bot.attachments import TooLarge, read_capped
from bot.flow import (
    ONLY_REQUESTER,
    RESTARTING,
    ComposeFlow,
    ComposeOrder,
    check_order,
    may_act_for,
    plan_file,
)
from bot.music import BadPrompt, InvalidInput, MusicClient, MusicError, MusicPrompt, parse_plan
from bot.music import plans as plan_parts
from bot.music.plans import Plan
from bot.store.plans import PlanRecord, PlanStore, TrackStore
from bot.tree import send_ephemeral
from bot.ui.buttons import EditAndComposeButton, EditSectionMenu, plan_view, row_view
from bot.ui.embeds import plan_embed
from bot.ui.modals import SectionForm, StylesForm, section_parts
from bot.ui.text import duration, inert, music_error, quoted

log = logging.getLogger(__name__)

# The largest plan the API accepts is about 500 KiB of JSON.
PLAN_FILE_MAX_BYTES = 1024 * 1024
# /music compose with a prompt and no length.
DEFAULT_LENGTH_S = 30
NO_PLAN = "I can't find that plan. Pick one from the list, or make one with `/music plan`."
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
_ORIGINS = {"planned": "planned", "suggested": "suggested", "track": "from a track", "file": "file"}


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


class PlanFlow:
    def __init__(
        self,
        music: MusicClient,
        plans: PlanStore,
        tracks: TrackStore,
        compose_flow: ComposeFlow,
        downloads: httpx.AsyncClient,
        *,
        plans_per_minute: int = 5,
    ) -> None:
        self._music = music
        self._downloads = downloads
        self._plans = plans
        self._tracks = tracks
        self._compose = compose_flow
        self._limit = RateLimit(plans_per_minute, 60.0)

    # -- /music plan --------------------------------------------------------------------------

    async def create(self, interaction: discord.Interaction, prompt: str, length_s: int) -> None:
        problem = check_order(ComposeOrder(prompt, length_s), self._compose.model_id)
        if not self._compose.accepting:
            problem = RESTARTING
        if problem is None and interaction.guild_id is None:
            problem = "Plans can only be made in a server channel."
        if problem is not None:
            await send_ephemeral(interaction, problem)
            return
        assert interaction.guild_id is not None and interaction.channel_id is not None
        wait = self._limit.wait_time((interaction.guild_id, interaction.user.id))
        if wait > 0:
            await send_ephemeral(
                interaction,
                f"⏳ You're making plans quickly. Try again in {max(1, round(wait))} s.",
            )
            return
        await interaction.response.defer(thinking=True)
        try:
            with metrics.api_call("plan"):
                plan = await self._music.create_plan(
                    prompt, music_length_ms=length_s * 1000, model_id=self._compose.model_id
                )
        except MusicError as exc:
            await self._tell_plan_error(interaction, exc)
            return
        plan_id = await self._plans.save(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            origin="planned",
            prompt=prompt,
            plan=plan,
        )
        embed, left_out = plan_embed(plan, heading="Composition plan", prompt=prompt)
        message = await interaction.edit_original_response(
            embed=embed,
            view=self._view(plan_id, plan),
            attachments=[plan_file(plan)] if left_out else [],
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self._plans.set_message(plan_id, message.id)

    @staticmethod
    async def _tell_plan_error(interaction: discord.Interaction, exc: MusicError) -> None:
        if isinstance(exc, BadPrompt):
            content = (
                "🚫 That prompt looks like it names copyrighted music. The music service "
                "suggests:\n"
                + quoted(exc.prompt_suggestion, 1500)
                + "\nTry `/music plan` with that."
            )
        else:
            content = music_error(exc).replace(" Nothing was taken from your quota.", "")
        await interaction.edit_original_response(
            content=content, allowed_mentions=discord.AllowedMentions.none()
        )

    # -- /music compose with a plan -----------------------------------------------------------

    async def choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent plans matching what they typed, for autocomplete."""
        if interaction.guild_id is None:
            return []
        listings = await self._plans.recent(interaction.guild_id, interaction.user.id)
        needle = current.strip().lower()
        choices = []
        for record in listings:
            what = " ".join((record.prompt or "").split())[:50] or record.summary[:50]
            label = (
                f"{what} · {duration(record.length_s)}"
                f" · {_ORIGINS.get(record.origin, record.origin)}"
            )
            if needle and needle not in label.lower() and not record.id.startswith(needle):
                continue
            choices.append(app_commands.Choice(name=label[:100], value=record.id))
        return choices[:25]

    async def order_for(
        self,
        interaction: discord.Interaction,
        *,
        prompt: str | None,
        length_s: int | None,
        instrumental: bool,
        plan_id: str | None,
        plan_upload: discord.Attachment | None,
    ) -> ComposeOrder | None:
        """What /music compose was asked for; None (after saying why) when it makes no sense."""
        if plan_id is None and plan_upload is None:
            length = DEFAULT_LENGTH_S if length_s is None else length_s
            return ComposeOrder(prompt or "", length, instrumental)
        problem = None
        if plan_id is not None and plan_upload is not None:
            problem = "Choose a saved plan or attach a plan file, not both."
        elif prompt is not None:
            problem = "Give a prompt or a plan, not both: a plan already says what to compose."
        elif length_s is not None or instrumental:
            problem = (
                "A plan sets its own length and voices; leave `length` and `instrumental` out."
            )
        if problem is not None:
            await send_ephemeral(interaction, problem)
            return None
        plan = (
            await self._stored_plan(interaction, plan_id)
            if plan_id is not None
            else await self._uploaded_plan(interaction, plan_upload)
        )
        return ComposeOrder.for_plan(plan) if plan is not None else None

    async def _stored_plan(self, interaction: discord.Interaction, plan_id: str) -> Plan | None:
        found = await self._owned(
            interaction,
            plan_id.strip(),
            missing=NO_PLAN,
            not_theirs="That plan belongs to someone else.",
        )
        return found[1] if found is not None else None

    async def _uploaded_plan(
        self, interaction: discord.Interaction, upload: discord.Attachment | None
    ) -> Plan | None:
        assert upload is not None
        too_large = (
            f"That file is more than {PLAN_FILE_MAX_BYTES // 1024} KiB; a plan file is at most "
            f"{PLAN_FILE_MAX_BYTES // 1024} KiB of JSON."
        )
        if upload.size > PLAN_FILE_MAX_BYTES:
            await send_ephemeral(interaction, too_large)
            return None
        try:
            # Before the 3 s acknowledgement deadline, so keep it short.
            async with asyncio.timeout(2):
                data = await read_capped(self._downloads, upload.url, PLAN_FILE_MAX_BYTES)
            return parse_plan(data)
        except TooLarge:
            await send_ephemeral(interaction, too_large)
        except (httpx.HTTPError, TimeoutError):
            await send_ephemeral(interaction, "I couldn't download that file; please try again.")
        except ValueError as exc:
            first = str(exc).splitlines()
            detail = inert(" ".join(first[1:3]) if len(first) > 1 else str(exc), 300)
            await send_ephemeral(
                interaction,
                "That file is not a composition plan in the API's JSON format "
                f"(`sections` or `chunks`): {detail}",
            )
        return None

    # -- plan buttons -------------------------------------------------------------------------

    async def compose(self, interaction: discord.Interaction, plan_id: str) -> None:
        found = await self._owned(interaction, plan_id)
        if found is None:
            return
        record, plan = found
        await self._compose.compose_plan(interaction, record.user_id, plan)

    async def pick_section(self, interaction: discord.Interaction, plan_id: str) -> None:
        found = await self._owned(interaction, plan_id)
        if found is None:
            return
        _, plan = found
        await interaction.response.send_message(
            "Which section do you want to edit?",
            view=EditSectionMenu.for_plan(plan_id, plan_parts.sections(plan)),
            ephemeral=True,
        )

    async def open_section(
        self, interaction: discord.Interaction, plan_id: str, index: int, part: int = 1
    ) -> None:
        found = await self._owned(interaction, plan_id)
        if found is None:
            return
        _, plan = found
        sections = plan_parts.sections(plan)
        if not 0 <= index < len(sections) or not 1 <= part <= len(section_parts(sections[index])):
            await send_ephemeral(interaction, "That section is no longer in the plan.")
            return
        if sections[index].kept:
            await send_ephemeral(
                interaction, "That section keeps audio from an earlier take; it can't be edited."
            )
            return
        await interaction.response.send_modal(SectionForm(plan_id, index, sections[index], part))

    async def save_section(
        self, interaction: discord.Interaction, plan_id: str, index: int, values: dict[str, str]
    ) -> None:
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

        await self._edit(interaction, plan_id, change, f"✅ Section {index + 1} updated.")

    async def open_styles(self, interaction: discord.Interaction, plan_id: str) -> None:
        found = await self._owned(interaction, plan_id)
        if found is None:
            return
        _, plan = found
        styles = plan_parts.global_styles(plan)
        if styles is None:
            await send_ephemeral(interaction, "This plan's model has no global styles.")
            return
        await interaction.response.send_modal(StylesForm(plan_id, *styles))

    async def save_styles(
        self, interaction: discord.Interaction, plan_id: str, *, styles: str, avoid: str
    ) -> None:
        await self._edit(
            interaction,
            plan_id,
            lambda plan: plan_parts.with_global_styles(
                plan,
                plan_parts.parse_styles(styles),
                plan_parts.parse_styles(avoid, "styles to avoid"),
            ),
            "✅ Global styles updated.",
        )

    async def _edit(
        self,
        interaction: discord.Interaction,
        plan_id: str,
        change: Callable[[Plan], Plan],
        done: str,
    ) -> None:
        """Apply a form's change to the plan, or say why it cannot be (and change nothing)."""
        found = await self._owned(interaction, plan_id)
        if found is None:
            return
        record, plan = found
        try:
            changed = change(plan)
        except InvalidInput as exc:
            await send_ephemeral(interaction, f"⚠️ {exc.message} Nothing was changed.")
            return
        await self._save(interaction, record, changed, done)

    # -- track buttons ------------------------------------------------------------------------

    async def show_track_plan(self, interaction: discord.Interaction, track_id: str) -> None:
        """The Show plan button under a track: the plan that produced it, privately."""
        plan = await self._track_plan(interaction, track_id)
        if plan is None:
            return
        embed, left_out = plan_embed(plan, heading="The plan behind this track")
        await interaction.response.send_message(
            embed=embed,
            view=row_view(EditAndComposeButton(track_id)),
            files=[plan_file(plan)] if left_out else [],
            ephemeral=True,
        )

    async def edit_track_plan(self, interaction: discord.Interaction, track_id: str) -> None:
        """Edit & compose: the track's plan, copied into a new plan its presser can edit."""
        plan = await self._track_plan(interaction, track_id)
        if plan is None:
            return
        assert interaction.guild_id is not None and interaction.channel_id is not None
        # Kept sections point into the old song; an edited copy composes every section anew.
        fresh = plan_parts.rebuild(plan, [s.fresh() for s in plan_parts.sections(plan)])
        plan_id = await self._plans.save(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            origin="track",
            plan=fresh,
        )
        embed, left_out = plan_embed(fresh, heading="Composition plan (from a track)")
        callback = await interaction.response.send_message(
            embed=embed,
            view=self._view(plan_id, fresh),
            files=[plan_file(fresh)] if left_out else [],
            allowed_mentions=discord.AllowedMentions.none(),
        )
        if callback.message_id is not None:
            await self._plans.set_message(plan_id, callback.message_id)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _view(plan_id: str, plan: Plan) -> discord.ui.View:
        return plan_view(plan_id, has_global_styles=isinstance(plan, MusicPrompt))

    async def _owned(
        self,
        interaction: discord.Interaction,
        plan_id: str,
        *,
        missing: str = "This plan is no longer kept.",
        not_theirs: str = ONLY_REQUESTER,
    ) -> tuple[PlanRecord, Plan] | None:
        """The plan behind a button or an option, if it is kept in this server, readable, and
        this member may use it; otherwise None, after saying why."""
        record = await self._plans.get(plan_id)
        if record is None or record.guild_id != interaction.guild_id:
            await send_ephemeral(interaction, missing)
            return None
        if not may_act_for(interaction, record.user_id):
            await send_ephemeral(interaction, not_theirs)
            return None
        plan = await self._readable(interaction, record)
        return (record, plan) if plan is not None else None

    @staticmethod
    async def _readable(interaction: discord.Interaction, record: PlanRecord) -> Plan | None:
        try:
            return parse_plan(record.plan_json)
        except ValueError:
            log.exception("stored plan %s could not be read", record.id)
            await send_ephemeral(interaction, "This plan could not be read.")
            return None

    async def _track_plan(self, interaction: discord.Interaction, track_id: str) -> Plan | None:
        track = await self._compose.track_for(interaction, track_id)
        if track is None:
            return None
        if track.plan_json is None:
            await send_ephemeral(interaction, "The music service did not say how it planned this.")
            return None
        try:
            return parse_plan(track.plan_json)
        except ValueError:
            await send_ephemeral(interaction, "This track's plan could not be read.")
            return None

    async def _save(
        self, interaction: discord.Interaction, record: PlanRecord, plan: Plan, done: str
    ) -> None:
        """Store the changed plan, confirm privately, and redraw the plan's public message."""
        await self._plans.update(record.id, plan)
        # Answered first: the form must be answered within 3 s, and the redraw is a REST call
        # that may wait out a rate limit.
        if interaction.message is not None and interaction.message.flags.ephemeral:
            # The section menu it came from, redrawn with the new names: more can be edited.
            menu = EditSectionMenu.for_plan(record.id, plan_parts.sections(plan))
            await interaction.response.edit_message(content=done, view=menu)
        else:
            await send_ephemeral(interaction, done)
        if record.message_id is None:
            return
        embed, left_out = plan_embed(plan, heading="Composition plan", prompt=record.prompt)
        channel = interaction.client.get_partial_messageable(
            record.channel_id, guild_id=record.guild_id
        )
        try:
            await channel.get_partial_message(record.message_id).edit(
                embed=embed,
                view=self._view(record.id, plan),
                attachments=[plan_file(plan)] if left_out else [],
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.warning("could not redraw plan %s: %s", record.id, exc)
            await send_ephemeral(
                interaction,
                "The plan's message could not be updated, but composing it uses the new plan.",
            )
