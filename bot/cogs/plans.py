"""Composition plans as members see them: the plan message, its forms and menus, Show plan,
and Edit & compose. Decisions (ownership, limits, the rate) are PlanService's."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.orders import ComposeOrder
from bot.core.plans import OwnedPlan, PlanFailed, PlanService
from bot.core.refusals import Gone, NotInServer, Refused
from bot.core.track_orders import ButtonOrder
from bot.music import BadPrompt, MusicPrompt
from bot.music import plans as plan_parts
from bot.music.plans import Plan
from bot.tree import choices, requester, send_ephemeral
from bot.ui import text
from bot.ui.embeds import plan_embed, plan_file
from bot.ui.items import row_view
from bot.ui.modals import SectionForm, StylesForm, section_parts
from bot.ui.plan_buttons import EditAndComposeButton, EditSectionMenu, plan_view

if TYPE_CHECKING:
    from bot.services import Services

    from .tracks import TracksCog

log = logging.getLogger(__name__)


class PlansCog(commands.Cog):
    def __init__(self, bot: commands.AutoShardedBot, services: Services, tracks: TracksCog) -> None:
        self.bot = bot
        self._plans: PlanService = services.plans
        self._tracks = tracks

    # -- /music plan --------------------------------------------------------------------------

    async def create(self, interaction: discord.Interaction, prompt: str, length_s: int) -> None:
        if interaction.guild_id is None:
            await send_ephemeral(interaction, text.refusal(NotInServer("plan")))
            return
        who = requester(interaction)
        refused = self._plans.may_plan(who, prompt, length_s)
        if refused is not None:
            await send_ephemeral(interaction, text.refusal(refused.reason))
            return
        await interaction.response.defer(thinking=True)
        made = await self._plans.create(who, prompt, length_s)
        if isinstance(made, PlanFailed):
            exc = made.error
            content = (
                text.plan_prompt_refused(exc.prompt_suggestion)
                if isinstance(exc, BadPrompt)
                else text.music_error(exc, charged_note=False)
            )
            await interaction.edit_original_response(
                content=content, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        embed, left_out = plan_embed(made.plan, heading=text.PLAN_HEADING, prompt=prompt)
        message = await interaction.edit_original_response(
            embed=embed,
            view=_view(made.plan_id, made.plan),
            attachments=[plan_file(made.plan)] if left_out else [],
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await self._plans.set_message(made.plan_id, message.id)

    # -- /music compose with a plan -----------------------------------------------------------

    async def choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's recent plans matching what they typed, for autocomplete."""
        if interaction.guild_id is None:
            return []
        records = await self._plans.recent(requester(interaction))
        return choices(
            ((text.plan_choice(r.prompt, r.summary, r.length_s, r.origin), r.id) for r in records),
            current,
        )

    # -- plan buttons -------------------------------------------------------------------------

    async def compose_plan(self, interaction: discord.Interaction, plan_id: str) -> None:
        """Compose this plan, under a plan: a new message, as often as the owner likes."""
        owned = await self._plans.owned(requester(interaction), plan_id)
        found = (
            owned
            if isinstance(owned, Refused)
            else ButtonOrder(ComposeOrder.for_plan(owned.plan), owned.record.user_id)
        )
        await self._tracks.compose_for_button(interaction, found)

    async def pick_section(self, interaction: discord.Interaction, plan_id: str) -> None:
        owned = await self._plans.owned(requester(interaction), plan_id)
        if isinstance(owned, Refused):
            await send_ephemeral(interaction, text.refusal(owned.reason))
            return
        menu = EditSectionMenu.for_plan(plan_id, plan_parts.sections(owned.plan))
        await send_ephemeral(interaction, text.PICK_SECTION, view=menu)

    async def open_section(
        self, interaction: discord.Interaction, plan_id: str, index: int, part: int = 1
    ) -> None:
        found = await self._plans.section(requester(interaction), plan_id, index)
        if isinstance(found, Refused):
            await send_ephemeral(interaction, text.refusal(found.reason))
            return
        _, section = found
        if not 1 <= part <= len(section_parts(section)):
            await send_ephemeral(interaction, text.refusal(Gone("section")))
            return
        await interaction.response.send_modal(SectionForm(plan_id, index, section, part))

    async def save_section(
        self, interaction: discord.Interaction, plan_id: str, index: int, values: dict[str, str]
    ) -> None:
        edited = await self._plans.edit_section(requester(interaction), plan_id, index, values)
        await self._redraw(interaction, edited, text.SECTION_UPDATED.format(number=index + 1))

    async def open_styles(self, interaction: discord.Interaction, plan_id: str) -> None:
        styles = await self._plans.global_styles(requester(interaction), plan_id)
        if isinstance(styles, Refused):
            await send_ephemeral(interaction, text.refusal(styles.reason))
            return
        await interaction.response.send_modal(StylesForm(plan_id, *styles))

    async def save_styles(
        self, interaction: discord.Interaction, plan_id: str, *, styles: str, avoid: str
    ) -> None:
        edited = await self._plans.edit_styles(
            requester(interaction), plan_id, styles=styles, avoid=avoid
        )
        await self._redraw(interaction, edited, text.STYLES_UPDATED)

    async def _redraw(
        self, interaction: discord.Interaction, edited: OwnedPlan | Refused, done: str
    ) -> None:
        """Confirm a kept change privately and redraw the plan's public message."""
        if isinstance(edited, Refused):
            await send_ephemeral(interaction, text.change_refused(edited.reason))
            return
        record, plan = edited.record, edited.plan
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
        embed, left_out = plan_embed(plan, heading=text.PLAN_HEADING, prompt=record.prompt)
        channel = self.bot.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
        try:
            await channel.get_partial_message(record.message_id).edit(
                embed=embed,
                view=_view(record.id, plan),
                attachments=[plan_file(plan)] if left_out else [],
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.warning("could not redraw plan %s: %s", record.id, exc)
            await send_ephemeral(interaction, text.PLAN_NOT_REDRAWN)

    # -- track buttons ------------------------------------------------------------------------

    async def show_track_plan(self, interaction: discord.Interaction, track_id: str) -> None:
        """The Show plan button under a track: the plan that produced it, privately."""
        plan = await self._plans.track_plan(requester(interaction), track_id)
        if isinstance(plan, Refused):
            await send_ephemeral(interaction, text.refusal(plan.reason))
            return
        embed, left_out = plan_embed(plan, heading=text.TRACK_PLAN_HEADING)
        await interaction.response.send_message(
            embed=embed,
            view=row_view(EditAndComposeButton(track_id)),
            files=[plan_file(plan)] if left_out else [],
            ephemeral=True,
        )

    async def edit_track_plan(self, interaction: discord.Interaction, track_id: str) -> None:
        """Edit & compose: the track's plan, copied into a new plan its presser can edit."""
        made = await self._plans.copy_from_track(requester(interaction), track_id)
        if isinstance(made, Refused):
            await send_ephemeral(interaction, text.refusal(made.reason))
            return
        embed, left_out = plan_embed(made.plan, heading=text.COPIED_PLAN_HEADING)
        callback = await interaction.response.send_message(
            embed=embed,
            view=_view(made.plan_id, made.plan),
            files=[plan_file(made.plan)] if left_out else [],
            allowed_mentions=discord.AllowedMentions.none(),
        )
        if callback.message_id is not None:
            await self._plans.set_message(made.plan_id, callback.message_id)


def _view(plan_id: str, plan: Plan) -> discord.ui.View:
    return plan_view(plan_id, has_global_styles=isinstance(plan, MusicPrompt))
