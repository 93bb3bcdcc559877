"""`/music compose` and `/music plan`: thin; the work is in ComposeFlow and PlanFlow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.flow import MAX_SECONDS, MIN_SECONDS, ComposeFlow
from bot.music.models import PROMPT_MAX_CHARS
from bot.plan_flow import PlanFlow

if TYPE_CHECKING:
    from bot.app import MusicBot


@app_commands.guild_only()
class ComposeCog(commands.GroupCog, group_name="music", group_description="Compose music"):
    def __init__(self, compose_flow: ComposeFlow, plan_flow: PlanFlow) -> None:
        self.compose_flow = compose_flow
        self.plan_flow = plan_flow
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
        interaction: discord.Interaction[MusicBot],
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS] | None = None,
        length: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS] | None = None,
        instrumental: bool = False,
        plan: str | None = None,
        plan_file: discord.Attachment | None = None,
    ) -> None:
        order = await self.plan_flow.order_for(
            interaction,
            prompt=prompt,
            length_s=length,
            instrumental=instrumental,
            plan_id=plan,
            plan_upload=plan_file,
        )
        if order is not None:
            await self.compose_flow.compose(interaction, order)

    @compose.autocomplete("plan")
    async def _plan_choices(
        self, interaction: discord.Interaction[MusicBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.plan_flow.choices(interaction, current)

    @app_commands.command(name="plan", description="Plan a track's sections before composing it")
    @app_commands.describe(
        prompt="Describe the music: genre, mood, instruments, tempo…",
        length="Length in seconds (3 to 600)",
    )
    async def plan(
        self,
        interaction: discord.Interaction[MusicBot],
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        length: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS],
    ) -> None:
        await self.plan_flow.create(interaction, prompt, length)
