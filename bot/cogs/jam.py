"""`/jam start | stop | skip | queue`: thin; the work is in JamFlow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.jam_flow import JamFlow

if TYPE_CHECKING:
    from bot.app import MusicBot


@app_commands.guild_only()
class JamCog(commands.GroupCog, group_name="jam", group_description="Play tracks in voice"):
    def __init__(self, jam_flow: JamFlow) -> None:
        self.jam_flow = jam_flow
        super().__init__()

    @app_commands.command(
        name="start", description="Start a jam in your voice channel: tracks play as composed"
    )
    async def start(self, interaction: discord.Interaction[MusicBot]) -> None:
        await self.jam_flow.start(interaction)

    @app_commands.command(name="stop", description="End the jam and leave the voice channel")
    async def stop(self, interaction: discord.Interaction[MusicBot]) -> None:
        await self.jam_flow.stop(interaction)

    @app_commands.command(
        name="skip", description="Vote to skip the playing track (it is still posted)"
    )
    async def skip(self, interaction: discord.Interaction[MusicBot]) -> None:
        await self.jam_flow.skip(interaction)

    @app_commands.command(name="queue", description="What the jam plays now and next")
    async def queue(self, interaction: discord.Interaction[MusicBot]) -> None:
        await self.jam_flow.queue(interaction)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        await self.jam_flow.voice_state_update(member, before, after)
