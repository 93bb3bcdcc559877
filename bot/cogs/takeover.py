"""A stopped process's jobs as members see them: a track it had posted is found and charged
once; anything else is told truthfully (the bot restarted, or another process took over), in
the member's own reply while its token lasts, with Try again. The settling is the Composer's."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.composer import reply_editable, reply_of
from bot.delivery import post_late, track_was_posted
from bot.store.jobs import JobRecord
from bot.ui import text
from bot.ui.buttons import RetryButton

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


class TakeoverCog(commands.Cog):
    def __init__(self, bot: commands.AutoShardedBot, services: Services) -> None:
        self.bot = bot
        # A stopped process's jobs are settled at start-up and after leases: the Composer asks.
        services.composer.on_interrupted = self._tell_interrupted
        services.composer.was_delivered = self._was_delivered

    async def _was_delivered(self, record: JobRecord) -> bool:
        """Whether a stopped process's track reached the channel before it could record so."""
        assert self.bot.user is not None
        channel = self.bot.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
        return await track_was_posted(
            channel,
            author_id=self.bot.user.id,
            track_id=record.id,
            message_id=record.message_id,
            since=record.created_at,
        )

    async def _tell_interrupted(self, records: list[JobRecord]) -> None:
        """A process died mid-job: tell each requester what happened, with a way to try again:
        in their own reply while its token lasts (any process may edit it), else in the
        channel."""
        for record in records:
            content = text.interrupted(record.prompt, record.length_s, restarted=record.restarted)
            if await self._edit_reply(record, content):
                continue
            channel = self.bot.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
            try:
                await post_late(
                    channel,
                    discord.Object(record.user_id),
                    content,
                    view=RetryButton.as_view(record.id),
                )
            except discord.HTTPException as exc:
                log.warning(
                    "could not tell channel %s about job %s: %s", record.channel_id, record.id, exc
                )

    async def _edit_reply(self, record: JobRecord, content: str) -> bool:
        """Edit the member's reply through the job's interaction token; False when it cannot
        be reached that way (no token kept, or it expired)."""
        reply = reply_of(record)
        if not reply_editable(reply, created_at=record.created_at, now=time.time()):
            return False
        assert reply.application_id is not None and reply.interaction_token is not None
        assert reply.message_id is not None
        requester = discord.Object(record.user_id)
        webhook = discord.Webhook.partial(
            reply.application_id, reply.interaction_token, client=self.bot
        )
        try:
            await webhook.edit_message(
                reply.message_id,
                content=f"<@{record.user_id}> {content}",
                embeds=[],
                attachments=[],
                view=RetryButton.as_view(record.id),
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, users=[requester], replied_user=False
                ),
            )
        except discord.HTTPException as exc:
            # The exception names the status, never the token.
            log.info("could not edit the reply for job %s (%s): posting instead", record.id, exc)
            return False
        return True
