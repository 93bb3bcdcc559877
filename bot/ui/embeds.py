"""Embeds built from plain values, so they can be checked without Discord.

Whatever the API returns (30 sections, 30 long lyric lines each), an embed stays inside
Discord's limits: 256 title, 4096 description, 25 fields of 256/1024, 6000 in total.
"""

from __future__ import annotations

import io
import json

import discord

from bot.music import SongMetadata
from bot.music import plans as plan_parts
from bot.music.plans import Plan, PlanSection

from .text import duration, inert, quoted

ACCENT = discord.Colour(0x7C3AED)
EMBED_TOTAL = 6000
FIELD_VALUE = 1024
MAX_FIELDS = 25
# Room kept for what Discord counts that we do not size exactly (a safety margin).
_MARGIN = 100
_LYRICS_PREVIEW = 700


def plan_file(plan: Plan) -> discord.File:
    """The whole plan in the API's JSON, for when the embed cannot show all of it."""
    data = json.dumps(plan.to_wire(), indent=2, ensure_ascii=False).encode()
    return discord.File(io.BytesIO(data), filename="plan.json")


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6000 limit."""
    size = len(embed.title or "") + len(embed.description or "")
    size += len(embed.footer.text or "") + len(embed.author.name or "")
    return size + sum(len(f.name or "") + len(f.value or "") for f in embed.fields)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def track_embed(
    *,
    headline: str,
    length_s: float,
    requester: discord.abc.User,
    metadata: SongMetadata | None,
    plan: Plan | None,
    output_format: str,
    tracks_left: int | None = None,
    window_hours: int = 24,
) -> discord.Embed:
    title = metadata.title if metadata and metadata.title else "Your track"
    embed = discord.Embed(title=inert(title, 250), colour=ACCENT)
    embed.description = quoted(headline, 1500)
    embed.add_field(name="Length", value=duration(length_s))
    if metadata and metadata.genres:
        embed.add_field(name="Genres", value=inert(", ".join(metadata.genres), 200))
    if metadata and metadata.languages:
        embed.add_field(name="Languages", value=inert(", ".join(metadata.languages), 100))
    if metadata and metadata.is_explicit is not None:
        embed.add_field(name="Explicit", value="🅴 Yes" if metadata.is_explicit else "No")
    embed.add_field(name="Requested by", value=f"{requester.mention} ({inert(requester.name, 40)})")
    lyrics = _lyrics_preview(plan) if plan is not None else None
    if lyrics:
        embed.add_field(name="Lyrics", value=lyrics, inline=False)
    kbps = output_format.rsplit("_", 1)[-1]
    footer = f"Eleven Music · MP3 {kbps} kbps"
    if tracks_left is not None:
        plural = "track" if tracks_left == 1 else "tracks"
        footer += f" · {tracks_left} {plural} left in your {window_hours} h quota"
    embed.set_footer(text=footer)
    return embed


def _lyrics_preview(plan: Plan) -> str | None:
    """The first lines of the lyrics, section by section; "Show plan" has them all."""
    blocks = []
    for name, lines in plan_parts.lyrics(plan):
        blocks.append(f"**{inert(name, 60)}**\n" + "\n".join(inert(line, 200) for line in lines))
    if not blocks:
        return None
    text = "\n".join(blocks)
    if len(text) <= _LYRICS_PREVIEW:
        return text
    return cut(text, _LYRICS_PREVIEW - 30) + "\n*(all lyrics: Show plan)*"


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


def plan_embed(
    plan: Plan, *, heading: str, prompt: str | None = None, note: str | None = None
) -> tuple[discord.Embed, bool]:
    """The plan as an embed, and whether anything was left out (then attach the JSON)."""
    found = plan_parts.sections(plan)
    embed = discord.Embed(title=cut(inert(heading, 250), 256), colour=ACCENT)
    description = [f"**{len(found)} section(s) · {duration(plan.duration_ms / 1000)}**"]
    if prompt:
        description.append(quoted(prompt, 500))
    styles = plan_parts.global_styles(plan)
    if styles is not None:
        positive, negative = styles
        description.append("🎚️ Styles: " + (inert(", ".join(positive), 400) or "—"))
        if negative:
            description.append("🚫 Avoid: " + inert(", ".join(negative), 200))
    if note:
        description.append(inert(note, 300))
    embed.description = "\n".join(description)

    shown = found if len(found) <= MAX_FIELDS else found[: MAX_FIELDS - 1]
    hidden = len(found) - len(shown)
    footer = "Edit a section or the styles, then compose it. Only its owner can."
    left_out = hidden > 0
    names = [
        cut(f"{number}. {inert(s.name, 60)} · {duration(s.duration_ms / 1000)}", 256)
        for number, s in enumerate(shown, start=1)
    ]
    more = f"…and {hidden} more section(s)" if hidden else ""
    budget = (
        EMBED_TOTAL
        - _MARGIN
        - embed_size(embed)
        - len(footer)
        - 60  # the footer's "full plan attached" note
        - sum(len(name) for name in names)
        - len(more) * 2
    )
    per_field = max(1, min(FIELD_VALUE, budget // max(1, len(shown))))
    for name, section in zip(names, shown, strict=True):
        value, was_cut = _section_value(section, per_field)
        left_out = left_out or was_cut
        embed.add_field(name=name, value=value, inline=False)
    if more:
        embed.add_field(name=more, value="See the attached plan.json.", inline=False)
    if left_out:
        footer += " The full plan is attached as plan.json."
    embed.set_footer(text=footer)
    return embed, left_out


def _section_value(section: PlanSection, limit: int) -> tuple[str, bool]:
    parts = []
    if section.kept:
        parts.append("🔁 Kept from the earlier take")
    if section.positive_styles:
        parts.append("🎚️ " + inert(", ".join(section.positive_styles), 300))
    if section.negative_styles:
        parts.append("🚫 " + inert(", ".join(section.negative_styles), 200))
    if section.lines:
        parts.append("\n".join(f"> {inert(line, 200)}" for line in section.lines))
    elif not section.kept:
        parts.append("*instrumental*")
    text = "\n".join(parts)
    return cut(text, limit), len(text) > limit


def progress_bar(elapsed_s: float, length_s: float, width: int = 16) -> str:
    """`▰▰▰▰▱▱▱▱ 0:12 / 0:30`"""
    done = 0 if length_s <= 0 else min(width, round(width * elapsed_s / length_s))
    bar = "▰" * done + "▱" * (width - done)
    return f"{bar} {duration(min(elapsed_s, length_s))} / {duration(length_s)}"


def now_playing_embed(
    *,
    headline: str,
    requester_id: int,
    elapsed_s: float,
    length_s: float,
    voice_channel: str,
    queued: int,
) -> discord.Embed:
    embed = discord.Embed(
        title="🔊 Now playing",
        colour=ACCENT,
        description=f"In {voice_channel}\n{quoted(headline, 1000)}",
    )
    embed.add_field(name="Asked by", value=f"<@{requester_id}>")
    embed.add_field(name="Up next", value=f"{queued} track(s)" if queued else "nothing yet")
    embed.add_field(name="Progress", value=progress_bar(elapsed_s, length_s), inline=False)
    embed.set_footer(text="Add a track with /music compose · Skip needs a majority of listeners")
    return embed


def jam_queue_embed(
    *,
    voice_channel: str,
    playing: tuple[str, int, float, float] | None,
    waiting: list[tuple[str, int, float]],
) -> discord.Embed:
    """The jam's queue: (headline, requester id, elapsed, length) playing, then (headline,
    requester id, length) for each waiting track, in the order they will play."""
    embed = discord.Embed(
        title="🎶 The jam's queue", colour=ACCENT, description=f"In {voice_channel}"
    )
    if playing is not None:
        headline, requester_id, elapsed_s, length_s = playing
        progress = progress_bar(elapsed_s, length_s)
        embed.add_field(
            name="Now playing",
            value=f"{quoted(headline, 300)}\n<@{requester_id}> · {progress}",
            inline=False,
        )
    lines = [
        f"{n}. “{inert(headline, 60)}” · {duration(length_s)} · <@{requester_id}>"
        for n, (headline, requester_id, length_s) in enumerate(waiting[:20], start=1)
    ]
    if len(waiting) > 20:
        lines.append(f"…and {len(waiting) - 20} more")
    embed.add_field(
        name="Up next", value="\n".join(lines) or "Nothing yet: /music compose", inline=False
    )
    return embed
