"""`/music compose`: thin; the work is in ComposeFlow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.flow import MAX_SECONDS, MIN_SECONDS, ComposeFlow, ComposeOrder
from bot.music.models import PROMPT_MAX_CHARS

if TYPE_CHECKING:
    from bot.app import MusicBot


@app_commands.guild_only()
class ComposeCog(commands.GroupCog, group_name="music", group_description="Compose music"):
    def __init__(self, flow: ComposeFlow) -> None:
        self.flow = flow
        super().__init__()

    @app_commands.command(name="compose", description="Compose a track from a description")
    @app_commands.describe(
        prompt="Describe the music: genre, mood, instruments, tempo…",
        length="Length in seconds (3 to 600)",
        instrumental="No vocals",
    )
    async def compose(
        self,
        interaction: discord.Interaction[MusicBot],
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        length: app_commands.Range[int, MIN_SECONDS, MAX_SECONDS],
        instrumental: bool = False,
    ) -> None:
        await self.flow.compose(interaction, ComposeOrder(prompt, length, instrumental))
