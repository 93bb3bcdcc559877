"""Embeds built from plain values, so they can be checked without Discord."""

from __future__ import annotations

import discord

from bot.music import SongMetadata

from .text import duration, inert, quoted

ACCENT = discord.Colour(0x7C3AED)


def track_embed(
    *,
    prompt: str,
    length_s: float,
    requester: discord.abc.User,
    metadata: SongMetadata | None,
    output_format: str,
    tracks_left: int | None = None,
    window_hours: int = 24,
) -> discord.Embed:
    title = metadata.title if metadata and metadata.title else "Your track"
    embed = discord.Embed(title=inert(title, 250), colour=ACCENT)
    embed.description = quoted(prompt, 1500)
    embed.add_field(name="Length", value=duration(length_s))
    if metadata and metadata.genres:
        embed.add_field(name="Genres", value=inert(", ".join(metadata.genres), 200))
    embed.add_field(name="Requested by", value=f"{requester.mention} ({inert(requester.name, 40)})")
    kbps = output_format.rsplit("_", 1)[-1]
    footer = f"Eleven Music · MP3 {kbps} kbps"
    if tracks_left is not None:
        plural = "track" if tracks_left == 1 else "tracks"
        footer += f" · {tracks_left} {plural} left in your {window_hours} h quota"
    embed.set_footer(text=footer)
    return embed


def suggestion_embed(*, prompt: str, suggestion: str) -> discord.Embed:
    embed = discord.Embed(
        title="That prompt looks like it names copyrighted music",
        colour=discord.Colour.orange(),
        description=(
            "The music service can't compose it as written, but suggests this instead:\n"
            + quoted(suggestion, 2000)
        ),
    )
    embed.add_field(name="Your prompt", value=quoted(prompt, 1000), inline=False)
    embed.set_footer(text="Only you can use the button below.")
    return embed
