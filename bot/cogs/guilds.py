"""The owner's allow-list as servers see it: elsewhere the bot says why it cannot work there,
and leaves."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.core.allow_list import AllowList
from bot.ui import text

log = logging.getLogger(__name__)


class GuildsCog(commands.Cog):
    def __init__(self, bot: commands.AutoShardedBot, allowed: AllowList) -> None:
        self.bot = bot
        self.allowed = allowed

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if self.bot.application_id is not None:
            log.info("invite the bot to a server: %s", invite_url(self.bot.application_id))
        for guild in list(self.bot.guilds):
            await self._leave_unless_allowed(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._leave_unless_allowed(guild)

    async def _leave_unless_allowed(self, guild: discord.Guild) -> None:
        if self.allowed.allows(guild.id):
            return
        log.warning("server %s is not in ALLOWED_GUILDS: leaving it", guild.id)
        channel = _where_to_say(guild)
        if channel is not None:
            try:
                await channel.send(
                    text.NOT_ALLOWED_HERE, allowed_mentions=discord.AllowedMentions.none()
                )
            except discord.HTTPException as exc:
                log.warning("could not say why in server %s: %s", guild.id, exc)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.error("could not leave server %s (not in ALLOWED_GUILDS): %s", guild.id, exc)


# What the bot does, and nothing more: post and edit its messages with tracks and embeds, read
# its recent messages (to find a track after a crash), and join and speak in voice for jams.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    connect=True,
    speak=True,
)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id, permissions=PERMISSIONS, scopes=("bot", "applications.commands")
    )


def _where_to_say(guild: discord.Guild) -> discord.TextChannel | None:
    """The server's system channel, else its first text channel the bot may post in."""
    candidates = [guild.system_channel, *guild.text_channels]
    for channel in candidates:
        if channel is not None and channel.permissions_for(guild.me).send_messages:
            return channel
    return None
