"""How a button or form finds the cog that handles it: by name, with `get_cog`, so ui/
imports no cog. Each family declares the Protocol its cog meets beside its items."""

from __future__ import annotations

from typing import Any

import discord
from discord.ext import commands

Interaction = discord.Interaction[commands.AutoShardedBot]
# The cogs' names (their class names), as `get_cog` finds them.
TRACKS_COG, STEMS_COG, PLANS_COG, JAM_COG = "TracksCog", "StemsCog", "PlansCog", "JamCog"


def handler(interaction: Interaction, name: str) -> Any:
    """The loaded cog that handles a family of items; the family casts it to its Protocol."""
    cog = interaction.client.get_cog(name)
    if cog is None:
        raise LookupError(f"the {name} cog is not loaded")
    return cog
