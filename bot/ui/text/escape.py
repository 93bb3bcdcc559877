"""Quoting what members and the API wrote, inert; lengths, times and channels."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord

from bot.music.text import displayable

# An opening or closing square bracket after an even number of backslashes (none included):
# one that Discord would read as part of a masked link, `[text](url)`.
_BARE_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")


def inert(text: str, limit: int = 1000) -> str:
    """Shown as typed: one kind of line break, no control characters, markdown escaped (every
    masked link too), mentions defused; cut to `limit` characters."""
    # Line breaks first: markdown is escaped line by line, and Discord breaks lines on them all.
    escaped = discord.utils.escape_markdown(displayable(text))
    # discord.py escapes only the first masked link of a text (its pattern is greedy).
    escaped = _BARE_BRACKET.sub(r"\1\\\2", escaped)
    escaped = discord.utils.escape_mentions(escaped)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def quoted(text: str, limit: int = 1000) -> str:
    """A block quote of at most `limit` characters, quote marks included."""
    lines = inert(text, limit).splitlines() or [""]
    block = "\n".join(f"> {line}" for line in lines)
    return block if len(block) <= limit else block[: limit - 1] + "…"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def relative_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "soon"
    return discord.utils.format_dt(datetime.fromtimestamp(timestamp, UTC), "R")


def channel(channel_id: int) -> str:
    return f"<#{channel_id}>"
