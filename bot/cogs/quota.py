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
from bot.ui.text import duration, inert, quota_summary

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
        await send_ephemeral(interaction, quota_summary(status))

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
            await send_ephemeral(interaction, "Pick a member or a role, not both.")
            return
        if member is not None:
            scope, target, label = "user", member.id, member.mention
        elif role is not None:
            scope, target, label = "role", role.id, role.mention
        else:
            scope, target, label = "guild", 0, "the server default"
        if scope != "guild" and window_hours is not None:
            await send_ephemeral(interaction, "The window is set for the whole server only.")
            return
        if scope == "guild" and (exempt is not None or clear):
            await send_ephemeral(interaction, "Exempt and clear apply to a role or a member.")
            return
        if clear:
            await self.quotas.clear_policy(
                interaction.guild_id, scope, target, actor_id=interaction.user.id
            )
            summary = f"{label} now follows the server's quota again."
        elif tracks is None and seconds is None and window_hours is None and exempt is None:
            await send_ephemeral(
                interaction, "Give at least one of tracks, seconds, window_hours or exempt."
            )
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
            parts = []
            if tracks is not None:
                parts.append(f"{tracks} tracks")
            if seconds is not None:
                parts.append(f"{duration(seconds)} of music")
            if window_hours is not None:
                parts.append(f"per {window_hours} h")
            if exempt is not None:
                parts.append("exempt" if exempt else "not exempt")
            summary = f"Quota for {label}: {', '.join(parts)}."
        await self._done(interaction, summary)

    @app_commands.command(name="show", description="A member's quota and usage")
    @app_commands.rename(member="user")
    @moderator
    async def show(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        status = await self.quotas.status(interaction.guild_id, member.id, _role_ids(member))
        text = quota_summary(status, about_someone_else=True)
        await send_ephemeral(interaction, f"{member.mention} ({status.limits.source}):\n{text}")

    @app_commands.command(name="reset", description="Give a member their whole quota back")
    @app_commands.rename(member="user")
    @moderator
    async def reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        wiped = await self.quotas.reset(
            interaction.guild_id, member.id, actor_id=interaction.user.id
        )
        await self._done(interaction, f"Reset {member.mention}'s quota ({wiped} tracks forgiven).")

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
        why = f" ({inert(reason, 200)})" if reason.strip() else ""
        await self._done(interaction, f"Blocked {member.mention} from composing{why}.")

    @app_commands.command(name="unblock", description="Let a blocked member compose again")
    @app_commands.rename(member="user")
    @moderator
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild_id is not None
        if await self.quotas.unblock(interaction.guild_id, member.id, actor_id=interaction.user.id):
            await self._done(interaction, f"Unblocked {member.mention}.")
        else:
            await send_ephemeral(interaction, f"{member.mention} was not blocked.")

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
        where = channel.mention if channel else "nowhere"
        await self._done(interaction, f"Quota actions will be posted to {where}.")

    async def _done(self, interaction: discord.Interaction, summary: str) -> None:
        """Confirm to the moderator, then post to the log channel when one is set."""
        await send_ephemeral(interaction, f"✅ {summary}")
        assert interaction.guild is not None
        channel_id = await self.audit.log_channel(interaction.guild.id)
        channel = interaction.guild.get_channel(channel_id) if channel_id else None
        if isinstance(channel, discord.abc.Messageable):
            try:
                await channel.send(
                    f"🛡️ {interaction.user.mention}: {summary}",
                    allowed_mentions=discord.AllowedMentions.none(),
                )
            except discord.HTTPException as exc:
                log.warning("could not post to the quota log channel: %s", exc)
