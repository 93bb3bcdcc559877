"""`/quota`: members see their own; moderators (Manage Server) set, show, reset and block.

Discord applies `default_member_permissions` only to a whole top-level command, and `/quota me`
must stay open to everyone, so every moderator subcommand also checks Manage Server at run time.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.store.audit import AuditLog
from bot.store.quotas import QuotaLedger, Scope
from bot.tree import moderator, send_ephemeral
from bot.ui import text

log = logging.getLogger(__name__)


def _role_ids(member: discord.Member | discord.User) -> list[int]:
    return [r.id for r in member.roles] if isinstance(member, discord.Member) else []


@app_commands.guild_only()
class QuotaCog(commands.GroupCog, group_name="quota", group_description="Music quotas"):
    def __init__(self, quotas: QuotaLedger, audit: AuditLog) -> None:
        self.quotas = quotas
        self.audit = audit
        super().__init__()

    @app_commands.command(name="me", description="How much music you can still compose here")
    async def me(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        status = await self.quotas.status(
            interaction.guild_id, interaction.user.id, _role_ids(interaction.user)
        )
        await send_ephemeral(interaction, text.quota_summary(status))

    @app_commands.command(
        name="set", description="Set the quota for the server, a role or a member"
    )
    @app_commands.describe(
        member="Set this member's own quota",
        role="Set the quota for members with this role (the most generous role wins)",
        tracks="Tracks per window",
        seconds="Seconds of music per window",
        window_hours="Length of the rolling window (server default only)",
        exempt="No limits at all (role or member only)",
        clear="Remove this role's or member's own setting",
    )
    @app_commands.rename(member="user")
    @moderator
    async def set_quota(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        role: discord.Role | None = None,
        tracks: app_commands.Range[int, 0, 10_000] | None = None,
        seconds: app_commands.Range[int, 0, 1_000_000] | None = None,
        window_hours: app_commands.Range[int, 1, 744] | None = None,
        exempt: bool | None = None,
        clear: bool = False,
    ) -> None:
        assert interaction.guild_id is not None
        scope: Scope
        if member is not None and role is not None:
            await send_ephemeral(interaction, text.QUOTA_MEMBER_OR_ROLE)
            return
        if member is not None:
            scope, target, label = "user", member.id, member.mention
        elif role is not None:
            scope, target, label = "role", role.id, role.mention
        else:
            scope, target, label = "guild", 0, text.SERVER_DEFAULT
        if scope != "guild" and window_hours is not None:
            await send_ephemeral(interaction, text.QUOTA_WINDOW_SERVER_ONLY)
            return
        if scope == "guild" and (exempt is not None or clear):
            await send_ephemeral(interaction, text.QUOTA_EXEMPT_SCOPE)
            return
        if clear:
            await self.quotas.clear_policy(
                interaction.guild_id, scope, target, actor_id=interaction.user.id
            )
            summary = text.quota_cleared(label)
        elif tracks is None and seconds is None and window_hours is None and exempt is None:
            await send_ephemeral(interaction, text.QUOTA_NOTHING_TO_SET)
            return
        else:
            await self.quotas.set_policy(
                interaction.guild_id,
                scope,
                target,
                actor_id=interaction.user.id,
                tracks=tracks,
                seconds=seconds,
                window_hours=window_hours,
                exempt=exempt,
            )
            summary = text.quota_set(label, tracks, seconds, window_hours, exempt)
        await self._done(interaction, summary)

    @app_commands.command(
        name="server", description="This server's music today against the owner's budgets"
    )
    @moderator
    async def server(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        status = await self.quotas.budget_status(interaction.guild_id)
        await send_ephemeral(interaction, text.server_budget(status))

    @app_commands.command(name="show", description="A member's quota and usage")
    @app_commands.rename(member="user")
    @moderator
    async def show(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        status = await self.quotas.status(interaction.guild_id, member.id, _role_ids(member))
        await send_ephemeral(interaction, text.quota_of(member.mention, status))

    @app_commands.command(name="reset", description="Give a member their whole quota back")
    @app_commands.rename(member="user")
    @moderator
    async def reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        wiped = await self.quotas.reset(
            interaction.guild_id, member.id, actor_id=interaction.user.id
        )
        await self._done(interaction, text.quota_reset(member.mention, wiped))

    @app_commands.command(name="block", description="Stop a member from composing")
    @app_commands.rename(member="user")
    @moderator
    async def block(
        self,
        interaction: discord.Interaction,
        member: discord.Member,
        reason: app_commands.Range[str, 0, 200] = "",
    ) -> None:
        assert interaction.guild_id is not None
        await self.quotas.block(
            interaction.guild_id, member.id, actor_id=interaction.user.id, reason=reason.strip()
        )
        await self._done(interaction, text.blocked(member.mention, reason))

    @app_commands.command(name="unblock", description="Let a blocked member compose again")
    @app_commands.rename(member="user")
    @moderator
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        if await self.quotas.unblock(interaction.guild_id, member.id, actor_id=interaction.user.id):
            await self._done(interaction, text.unblocked(member.mention))
        else:
            await send_ephemeral(interaction, text.not_blocked(member.mention))

    @app_commands.command(name="log", description="Post moderator quota actions to a channel")
    @app_commands.describe(channel="Where to post; leave empty to stop posting")
    @moderator
    async def log_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await self.audit.set_log_channel(
            interaction.guild_id, channel.id if channel else None, actor_id=interaction.user.id
        )
        await self._done(interaction, text.log_channel_set(channel.id if channel else None))

    async def _done(self, interaction: discord.Interaction, summary: str) -> None:
        """Confirm to the moderator, then post to the log channel when one is set."""
        await send_ephemeral(interaction, text.done(summary))
        assert interaction.guild is not None
        channel_id = await self.audit.log_channel(interaction.guild.id)
        channel = interaction.guild.get_channel(channel_id) if channel_id else None
        if isinstance(channel, discord.abc.Messageable):
            try:
                await channel.send(
                    text.moderator_action(interaction.user.id, summary),
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException as exc:
                log.warning("could not post to the quota log channel: %s", exc)
