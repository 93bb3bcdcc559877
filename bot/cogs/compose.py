"""`/music compose` and `/music plan`: the option schema and autocomplete. The conversation is
the Tracks cog's, plans the Plans cog's."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.orders import MAX_SECONDS, MIN_SECONDS
from bot.core.plans import PlanFile, PlanService
from bot.core.refusals import Refused
from bot.music.models import PROMPT_MAX_CHARS
from bot.tree import requester, send_ephemeral
from bot.ui import text

from .plans import PlansCog
from .tracks import TracksCog


@app_commands.guild_only()
class ComposeCog(commands.GroupCog, group_name="music", group_description="Compose music"):
    def __init__(self, plans: PlanService, tracks: TracksCog, plans_cog: PlansCog) -> None:
        self._plans = plans
        self._tracks = tracks
        self._plans_cog = plans_cog
        super().__init__()

    @app_commands.command(
        name="compose", description="Compose a track from a description or a plan"
    )
    @app_commands.describe(
        prompt="Describe the music: genre, mood, instruments, tempo…",
        length="Length in seconds (3 to 600; 30 if left out)",
        instrumental="No vocals",
        plan="One of your saved plans (from /music plan) instead of a prompt",
        plan_file="A composition plan as a JSON file, in the API's format, instead of a prompt",
    )
    async def compose(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS] | None = None,
        length: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS] | None = None,
        instrumental: bool = False,
        plan: str | None = None,
        plan_file: discord.Attachment | None = None,
    ) -> None:
        order = await self._plans.order_for(
            requester(interaction),
            prompt=prompt,
            length_s=length,
            instrumental=instrumental,
            plan_id=plan,
            plan_file=PlanFile(plan_file.url, plan_file.size) if plan_file is not None else None,
        )
        if isinstance(order, Refused):
            await send_ephemeral(interaction, text.refusal(order.reason))
            return
        await self._tracks.compose(interaction, order)

    @compose.autocomplete("plan")
    async def _plan_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._plans_cog.choices(interaction, current)

    @app_commands.command(name="forget", description="Delete one of your tracks")
    @app_commands.describe(track="One of your tracks (its message and what the bot kept go)")
    async def forget(self, interaction: discord.Interaction, track: str) -> None:
        await self._tracks.delete_track(interaction, track.strip())

    @forget.autocomplete("track")
    async def _track_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._tracks.track_choices(interaction, current)

    @app_commands.command(name="plan", description="Plan a track's sections before composing it")
    @app_commands.describe(
        prompt="Describe the music: genre, mood, instruments, tempo…",
        length="Length in seconds (3 to 600)",
    )
    async def plan(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        length: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS],
    ) -> None:
        await self._plans_cog.create(interaction, prompt, length)
