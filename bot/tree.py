"""The command tree: the one place app-command errors become a sentence for the member, the one
way to reply privately, and who a member is to the core."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable

import discord
from discord import app_commands

from bot.core.allow_list import AllowList
from bot.core.requester import Requester
from bot.store.commands import CommandRegistry
from bot.ui import text

log = logging.getLogger(__name__)


class MusicTree(app_commands.CommandTree):
    # The owner's allow-list; set by the bot. A server not on it gets no command run.
    allowed = AllowList()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if self.allowed.allows(interaction.guild_id):
            return True
        await send_ephemeral(interaction, text.NOT_ALLOWED_HERE)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(error, app_commands.MissingPermissions):
            message = "You need the Manage Server permission to do that."
        elif isinstance(error, app_commands.CheckFailure):
            message = str(error) or "You can't use this command here."
        elif isinstance(error, app_commands.TransformerError):
            message = "One of the options was not valid."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=error)
            message = text.SOMETHING_WENT_WRONG
        await send_ephemeral(interaction, message)


async def send_ephemeral(
    interaction: discord.Interaction, message: str, *, view: discord.ui.View | None = None
) -> None:
    """Reply privately whether or not the interaction was already answered: the one way."""
    mentions = discord.AllowedMentions.none()
    try:
        if interaction.response.is_done():
            if view is not None:
                await interaction.followup.send(
                    message, ephemeral=True, allowed_mentions=mentions, view=view
                )
            else:
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=mentions)
        else:
            await interaction.response.send_message(
                message,
                ephemeral=True,
                allowed_mentions=mentions,
                view=view or discord.utils.MISSING,
            )
    except discord.HTTPException as exc:
        log.warning("could not tell the member about an error: %s", exc)


def requester(interaction: discord.Interaction) -> Requester:
    """The member behind an interaction, as the core sees them (in a server channel)."""
    member = interaction.user
    roles: tuple[int, ...] = ()
    moderator = False
    if isinstance(member, discord.Member):
        roles = tuple(r.id for r in member.roles)
        moderator = member.guild_permissions.manage_guild
    return Requester(
        guild_id=interaction.guild_id or 0,
        channel_id=interaction.channel_id or 0,
        user_id=member.id,
        role_ids=roles,
        moderator=moderator,
    )


def _is_moderator(interaction: discord.Interaction) -> bool:
    if not requester(interaction).moderator:
        raise app_commands.MissingPermissions(["manage_guild"])
    return True


# A moderator-only command: the same rule (Manage Server) the core's Requester carries.
moderator = app_commands.check(_is_moderator)


def choices(options: Iterable[tuple[str, str]], typed: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: the (label, value) options whose label holds what the member typed, or
    whose value starts with it; Discord shows at most 25."""
    needle = typed.strip().lower()
    matching = [
        app_commands.Choice(name=label[:100], value=value)
        for label, value in options
        if not needle or needle in label.lower() or value.startswith(needle)
    ]
    return matching[:25]


def upload_limit(interaction: discord.Interaction) -> int:
    """The largest file the bot may post here: the interaction's limit, and the guild's for
    the fallback post after the token expires."""
    limit = interaction.filesize_limit
    if interaction.guild is not None:
        limit = min(limit, interaction.guild.filesize_limit)
    return limit


async def sync_if_changed(tree: app_commands.CommandTree, registry: CommandRegistry) -> bool:
    """Register the commands with Discord when their definitions differ from what was last
    registered (Discord allows 200 command creates a day per server): True when it synced."""
    definitions = sorted(
        (command.to_dict(tree) for command in tree.get_commands()), key=lambda c: c["name"]
    )
    digest = hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()
    if await registry.digest() == digest:
        log.debug("commands unchanged since they were last registered")
        return False
    try:
        synced = await tree.sync()
        await registry.registered(digest)
    except Exception as exc:
        # Never a reason not to start: the commands registered last time still work.
        log.warning("could not register the commands (%s); `python -m bot sync` does it", exc)
        return False
    log.info("registered %d command(s) with Discord: their definitions changed", len(synced))
    return True
