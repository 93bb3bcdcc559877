"""`/jam start | stop | skip | queue`, the now-playing message, and the voice-state events that
end a jam or start its idle timer. Who may stop or skip, and the vote, are the core's."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import jams as jam_rules
from bot.core.jam import Jam, JamEntry
from bot.core.jams import Jams
from bot.core.refusals import NotInServer
from bot.tree import requester, send_ephemeral
from bot.ui import text, waveform
from bot.ui.buttons import jam_view
from bot.ui.embeds import jam_queue_embed, now_playing_embed
from bot.ui.waveform import waveform_png
from bot.voice import JamVoiceClient, VoiceRefused, VoiceSpeaker

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

NOW_PLAYING_INTERVAL = 10.0


class NowPlaying:
    """The jam's screen: a now-playing message in its text channel, edited at most every
    interval, deleted once the track leaves voice (the track itself is posted by the compose)."""

    def __init__(
        self, text_channel: discord.abc.Messageable, interval: float = NOW_PLAYING_INTERVAL
    ) -> None:
        self._text_channel = text_channel
        self._interval = interval

    async def now_playing(self, jam: Jam, entry: JamEntry) -> None:
        message: discord.Message | None = None
        try:
            shown = None
            while not entry.played.done():
                embed = now_playing_embed(
                    headline=entry.job.prompt,
                    requester_id=entry.user_id,
                    elapsed_s=entry.played_seconds,
                    length_s=entry.job.length_s,
                    voice_channel=text.channel(jam.voice_channel_id),
                    queued=len(jam.waiting),
                )
                image = await asyncio.to_thread(
                    waveform_png,
                    entry.waveform,
                    title=entry.job.prompt,
                    length_s=entry.job.length_s,
                    position_s=entry.played_seconds,
                )
                embed.set_image(url=waveform.ATTACHMENT_URL)
                drawn = (embed.to_dict(), image)
                if drawn != shown:
                    file = discord.File(io.BytesIO(image), filename=waveform.FILENAME)
                    if message is None:
                        message = await self._text_channel.send(
                            embed=embed,
                            file=file,
                            view=jam_view(jam.guild_id),
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                    else:
                        await message.edit(embed=embed, attachments=[file])
                    shown = drawn
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(entry.played), self._interval)
        except discord.HTTPException as exc:
            log.warning("could not show what the jam plays: %s", exc)
        finally:
            if message is not None:
                with contextlib.suppress(discord.HTTPException):
                    await message.delete()


@app_commands.guild_only()
class JamCog(commands.GroupCog, group_name="jam", group_description="Play tracks in voice"):
    def __init__(
        self,
        bot: commands.AutoShardedBot,
        services: Services,
        *,
        now_playing_interval: float | None = None,
    ) -> None:
        self.bot = bot
        self.jams: Jams = services.jams
        self.jams.on_ended = self._tell_ended
        self._interval = now_playing_interval or NOW_PLAYING_INTERVAL
        super().__init__()

    @app_commands.command(
        name="start", description="Start a jam in your voice channel: tracks play as composed"
    )
    async def start(self, interaction: discord.Interaction) -> None:
        problem = self._cannot_start(interaction)
        if problem is not None:
            await send_ephemeral(interaction, problem)
            return
        assert isinstance(interaction.user, discord.Member) and interaction.user.voice is not None
        channel = interaction.user.voice.channel
        text_channel = interaction.channel
        assert channel is not None and isinstance(text_channel, discord.abc.Messageable)
        await interaction.response.defer(thinking=True)
        try:
            voice = await channel.connect(timeout=20, self_deaf=True, cls=JamVoiceClient)
        except VoiceRefused as exc:
            log.warning("voice channel %s refused us: close code %d", channel.id, exc.code)
            await interaction.edit_original_response(
                content=text.encryption_required(channel.id)
                if isinstance(jam_rules.lost_voice(exc.code), jam_rules.EncryptionRequired)
                else text.could_not_join(channel.id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        except (TimeoutError, discord.ClientException, discord.HTTPException) as exc:
            log.warning("could not join voice channel %s: %s", channel.id, exc)
            await interaction.edit_original_response(
                content=text.could_not_join(channel.id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        jam = self.jams.start(
            VoiceSpeaker(voice),
            NowPlaying(text_channel, self._interval),
            requester=requester(interaction),
            voice_channel_id=channel.id,
        )
        await interaction.edit_original_response(
            content=text.jam_started(channel.id), allowed_mentions=discord.AllowedMentions.none()
        )
        self.jams.listeners_changed(jam, len(self._listener_ids(jam)))

    def _cannot_start(self, interaction: discord.Interaction) -> str | None:
        member = interaction.user
        if interaction.guild is None or not isinstance(member, discord.Member):
            return text.refusal(NotInServer("jam"))
        if self.jams.unavailable is not None:
            return text.voice_unavailable(self.jams.unavailable)
        running = self.jams.get(interaction.guild.id)
        if running is not None:
            return text.jam_running(running.voice_channel_id)
        if member.voice is None or member.voice.channel is None:
            return text.JOIN_VOICE_FIRST
        permissions = member.voice.channel.permissions_for(interaction.guild.me)
        if not (permissions.connect and permissions.speak):
            return text.needs_voice_permissions(member.voice.channel.id)
        return None

    @app_commands.command(name="stop", description="End the jam and leave the voice channel")
    async def stop(self, interaction: discord.Interaction) -> None:
        await self.stop_pressed(interaction)

    async def stop_pressed(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        who = requester(interaction)
        if not self.jams.may_stop(jam, who, self._listener_ids(jam)):
            await send_ephemeral(interaction, text.ONLY_STARTER)
            return
        await send_ephemeral(interaction, text.STOPPING)
        await self.jams.end(jam, jam_rules.Stopped(who.user_id))

    @app_commands.command(
        name="skip", description="Vote to skip the playing track (it is still posted)"
    )
    async def skip(self, interaction: discord.Interaction) -> None:
        await self.skip_pressed(interaction)

    async def skip_pressed(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        outcome = self.jams.skip(jam, requester(interaction), self._listener_ids(jam))
        await send_ephemeral(interaction, text.skip_outcome(outcome, jam.voice_channel_id))

    @app_commands.command(name="queue", description="What the jam plays now and next")
    async def queue(self, interaction: discord.Interaction) -> None:
        jam = await self._running(interaction)
        if jam is None:
            return
        playing = None
        current = jam.current
        if current is not None and current.fifo is not None:
            playing = (
                current.job.prompt,
                current.user_id,
                current.played_seconds,
                float(current.job.length_s),
            )
        waiting = [(e.job.prompt, e.user_id, float(e.job.length_s)) for e in jam.ordered()]
        total = sum(length for _, _, length in waiting)
        embed = jam_queue_embed(
            voice_channel=text.channel(jam.voice_channel_id), playing=playing, waiting=waiting
        )
        if waiting:
            embed.set_footer(text=text.queue_footer(len(waiting), total))
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _running(self, interaction: discord.Interaction) -> Jam | None:
        jam = self.jams.get(interaction.guild_id or 0)
        if jam is None:
            await send_ephemeral(interaction, text.NO_JAM)
        return jam

    def _listener_ids(self, jam: Jam) -> set[int]:
        """The members listening: everyone in the voice channel but bots (this one too)."""
        guild = self.bot.get_guild(jam.guild_id)
        channel = guild.get_channel(jam.voice_channel_id) if guild is not None else None
        if guild is None or not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            return set()
        return {m.id for m in channel.members if not m.bot and m != guild.me}

    async def _tell_ended(self, jam: Jam, reason: jam_rules.EndReason, waiting: int) -> None:
        await self._tell(jam, text.jam_ended(jam.voice_channel_id, reason, waiting))

    async def _tell(self, jam: Jam, content: str) -> None:
        """A sentence for everyone in the jam's text channel."""
        channel = self.bot.get_partial_messageable(jam.text_channel_id, guild_id=jam.guild_id)
        with contextlib.suppress(discord.HTTPException):
            await channel.send(content, allowed_mentions=discord.AllowedMentions.none())

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        """End a jam whose bot was disconnected; watch a jam channel emptying or filling."""
        jam = self.jams.get(member.guild.id)
        if jam is None:
            return
        if member.id == member.guild.me.id and after.channel is None:
            speaker = jam.speaker
            if isinstance(speaker, VoiceSpeaker) and speaker.reconnecting:
                return  # discord.py reconnects: the bot comes back to the channel
            code = speaker.close_code if isinstance(speaker, VoiceSpeaker) else None
            await self.jams.end(jam, jam_rules.lost_voice(code))
            return
        if member.id == member.guild.me.id and after.channel is not None:
            moved_from = jam.voice_channel_id
            if self.jams.moved(jam, after.channel.id):
                await self._tell(jam, text.jam_moved(moved_from, after.channel.id))
        self.jams.listeners_changed(jam, len(self._listener_ids(jam)))
