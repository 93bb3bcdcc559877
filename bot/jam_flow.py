"""Jams as members see them: /jam start, stop, skip and queue, and leaving an empty channel.

One jam per server. While it runs, /music compose from a member in its voice channel queues
into it (see ComposeFlow); everything else about a track (quota, queue, errors) is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from bot.jam import Jam
from bot.jobs import Composer
from bot.tree import send_ephemeral
from bot.ui.embeds import jam_queue_embed
from bot.ui.text import duration

log = logging.getLogger(__name__)

DEFAULT_IDLE_SECONDS = 120.0


class JamFlow:
    def __init__(
        self,
        composer: Composer,
        *,
        pcm_channels: int = 1,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        now_playing_interval: float | None = None,
    ) -> None:
        self._composer = composer
        self._channels = pcm_channels
        self._idle_seconds = idle_seconds
        self._now_playing_interval = now_playing_interval
        self._jams: dict[int, Jam] = {}
        self._idle: dict[int, asyncio.Task[None]] = {}
        # Why voice cannot work on this machine (set at start-up), or None.
        self.unavailable: str | None = None

    def jam_for(self, interaction: discord.Interaction) -> Jam | None:
        """The jam a /music compose goes to: this server's, if the member is listening to it."""
        jam = self._jams.get(interaction.guild_id or 0)
        member = interaction.user
        if jam is None or not isinstance(member, discord.Member) or member.voice is None:
            return None
        return jam if member.voice.channel == jam.channel else None

    # -- commands -----------------------------------------------------------------------------

    async def start(self, interaction: discord.Interaction) -> None:
        problem = self._cannot_start(interaction)
        if problem is not None:
            await send_ephemeral(interaction, problem)
            return
        assert isinstance(interaction.user, discord.Member) and interaction.user.voice is not None
        channel = interaction.user.voice.channel
        assert channel is not None and interaction.guild is not None
        text_channel = interaction.channel
        assert isinstance(text_channel, discord.abc.Messageable)
        await interaction.response.defer(thinking=True)
        try:
            voice = await channel.connect(timeout=20, self_deaf=True, cls=discord.VoiceClient)
        except (TimeoutError, discord.ClientException, discord.HTTPException) as exc:
            log.warning("could not join voice channel %s: %s", channel.id, exc)
            await interaction.edit_original_response(
                content=f"🔇 I couldn't join {channel.mention}. Please try again in a minute.",
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        options = {}
        if self._now_playing_interval is not None:
            options["now_playing_interval"] = self._now_playing_interval
        jam = Jam(
            voice,
            text_channel,
            starter_id=interaction.user.id,
            composer=self._composer,
            pcm_channels=self._channels,
            **options,
        )
        self._jams[interaction.guild.id] = jam
        log.info("jam started in voice channel %s", channel.id)
        await interaction.edit_original_response(
            content=(
                f"🎶 Jam started in {channel.mention}. Everyone in the channel: "
                "`/music compose` to add a track; each plays here as it is composed, and is "
                "posted when it ends. `/jam queue` shows what's next."
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self._watch_listeners(jam)

    def _cannot_start(self, interaction: discord.Interaction) -> str | None:
        member = interaction.user
        if interaction.guild is None or not isinstance(member, discord.Member):
            return "Jams only work in a server."
        if self.unavailable is not None:
            return f"🔇 Voice jams are not available on this bot: {self.unavailable}."
        running = self._jams.get(interaction.guild.id)
        if running is not None:
            return f"A jam is already running in {running.channel.mention}."
        if member.voice is None or member.voice.channel is None:
            return "Join a voice channel first: the jam plays in the one you're in."
        permissions = member.voice.channel.permissions_for(interaction.guild.me)
        if not (permissions.connect and permissions.speak):
            return f"I need the Connect and Speak permissions in {member.voice.channel.mention}."
        return None

    async def stop(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        member = interaction.user
        listening = isinstance(member, discord.Member) and member in jam.listeners()
        starter_left = all(m.id != jam.starter_id for m in jam.listeners())
        if not (member.id == jam.starter_id or _moderator(member) or (listening and starter_left)):
            await send_ephemeral(
                interaction, "Only the member who started the jam (or a moderator) can stop it."
            )
            return
        await send_ephemeral(interaction, "⏹️ Stopping the jam.")
        await self.end(jam, f"stopped by {member.mention}")

    async def skip(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        entry = jam.current
        if entry is None:
            await send_ephemeral(interaction, "Nothing is playing right now.")
            return
        member = interaction.user
        listeners = jam.listeners()
        if member.id == entry.user_id or _moderator(member):
            jam.skip()
            await send_ephemeral(
                interaction, "⏭️ Skipped. The track is still posted when it's done."
            )
            return
        if not isinstance(member, discord.Member) or member not in listeners:
            await send_ephemeral(interaction, f"Join {jam.channel.mention} to vote to skip.")
            return
        jam.skip_votes.add(member.id)
        votes = len(jam.skip_votes & {m.id for m in listeners})
        needed = len(listeners) // 2 + 1
        if votes >= needed:
            jam.skip()
            await send_ephemeral(interaction, f"⏭️ Skipped: {votes} of {len(listeners)} voted.")
        else:
            await send_ephemeral(
                interaction, f"🗳️ Vote counted: {votes} of the {needed} needed to skip."
            )

    async def queue(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        playing = None
        if jam.current is not None and jam.current.fifo is not None:
            current = jam.current
            assert current.fifo is not None
            playing = (
                current.job.prompt,
                current.user_id,
                current.fifo.played_seconds,
                float(current.job.length_s),
            )
        waiting = [(e.job.prompt, e.user_id, float(e.job.length_s)) for e in jam.ordered()]
        total = sum(length for _, _, length in waiting)
        embed = jam_queue_embed(voice_channel=jam.channel.mention, playing=playing, waiting=waiting)
        if waiting:
            embed.set_footer(text=f"{len(waiting)} waiting · {duration(total)} of music")
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _running(self, interaction: discord.Interaction) -> Jam | None:
        jam = self._jams.get(interaction.guild_id or 0)
        if jam is None:
            await send_ephemeral(
                interaction, "No jam is running here. Start one with `/jam start`."
            )
        return jam

    # -- the end ------------------------------------------------------------------------------

    async def end(self, jam: Jam, reason: str) -> None:
        """End the jam and say so in its text channel."""
        guild_id = jam.channel.guild.id
        if self._jams.get(guild_id) is not jam:
            return
        del self._jams[guild_id]
        idle = self._idle.pop(guild_id, None)
        if idle is not None and idle is not asyncio.current_task():
            idle.cancel()
        channel_name = jam.channel.mention
        waiting = await jam.end()
        log.info("jam in voice channel %s ended: %s", jam.channel.id, reason)
        note = (
            f" {len(waiting)} waiting track(s) were not played; nothing was taken from "
            "their quotas."
            if waiting
            else ""
        )
        with contextlib.suppress(discord.HTTPException):
            await jam.text_channel.send(
                f"⏹️ The jam in {channel_name} has ended: {reason}.{note}",
                allowed_mentions=discord.AllowedMentions.none(),
            )

    async def voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """Someone joined or left a channel: end a jam whose bot was disconnected, and watch
        for a jam channel emptying or filling."""
        jam = self._jams.get(member.guild.id)
        if jam is None:
            return
        me = member.guild.me
        if member.id == me.id and after.channel is None:
            await self.end(jam, "I was disconnected from voice")
            return
        self._watch_listeners(jam)

    def _watch_listeners(self, jam: Jam) -> None:
        """Leave after `idle_seconds` with nobody listening; a listener coming back cancels it."""
        guild_id = jam.channel.guild.id
        idle = self._idle.get(guild_id)
        if jam.listeners():
            if idle is not None:
                idle.cancel()
                del self._idle[guild_id]
        elif idle is None:
            self._idle[guild_id] = asyncio.create_task(self._leave_when_idle(jam))

    async def _leave_when_idle(self, jam: Jam) -> None:
        await asyncio.sleep(self._idle_seconds)
        self._idle.pop(jam.channel.guild.id, None)
        if not jam.listeners():
            await self.end(jam, f"nobody was listening for {duration(self._idle_seconds)}")

    async def close(self) -> None:
        for jam in list(self._jams.values()):
            await self.end(jam, "the bot is restarting")


def _moderator(member: discord.abc.User) -> bool:
    return isinstance(member, discord.Member) and member.guild_permissions.manage_guild
