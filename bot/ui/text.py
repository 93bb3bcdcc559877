"""Words the bot says. Everything quoted from a member or the API is escaped here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord

from bot.music import (
    Busy,
    HarmfulContent,
    InvalidRequest,
    MusicError,
    PaymentRequired,
    QuotaExceeded,
    RateLimited,
    ServerError,
    StreamBroken,
    TransportError,
    Unauthorized,
    UnplayableAudio,
)
from bot.music.text import displayable
from bot.store.quotas import QuotaRefused, QuotaStatus

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


def music_error(error: MusicError) -> str:
    """One short, specific sentence for a failed compose; never internal detail."""
    nothing_charged = "Nothing was taken from your quota."
    match error:
        case HarmfulContent():
            return "🚫 The music service refused this prompt as harmful content. " + nothing_charged
        case Unauthorized():
            return (
                "🔑 This server's ElevenLabs API key was refused. "
                "Please tell a server admin. " + nothing_charged
            )
        case PaymentRequired():
            return (
                "💳 This server's ElevenLabs plan does not include music generation. "
                "A server admin needs a paid plan. " + nothing_charged
            )
        case QuotaExceeded():
            return (
                "🪫 This server's ElevenLabs account is out of credits. "
                "Please tell a server admin. " + nothing_charged
            )
        case Busy() | RateLimited():
            wait = error.retry_after if isinstance(error, RateLimited) else None
            when = f"in {max(1, round(wait))} s" if wait else "in a minute"
            return f"⏳ The music service is busy right now. Try again {when}. " + nothing_charged
        case InvalidRequest():
            return (
                "⚠️ The music service could not accept this request: "
                f"{inert(error.message, 300)}. " + nothing_charged
            )
        case StreamBroken():
            return (
                "📉 The track was cut off before it finished. Please try again. " + nothing_charged
            )
        case UnplayableAudio():
            return (
                "🔇 The music service sent back audio that can't be played. Please try again. "
                + nothing_charged
            )
        case TransportError():
            return (
                "📡 The music service could not be reached. Please try again in a minute. "
                + nothing_charged
            )
        case ServerError():
            return "💥 The music service had an error. Please try again. " + nothing_charged
        case _:
            return "💥 Something went wrong while composing. Please try again. " + nothing_charged


def relative_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "soon"
    return discord.utils.format_dt(datetime.fromtimestamp(timestamp, UTC), "R")


def quota_summary(status: QuotaStatus, *, about_someone_else: bool = False) -> str:
    """The member's quota, said to them, or (for a moderator) about them."""
    you, your = ("they", "their") if about_someone_else else ("you", "your")
    them = "them" if about_someone_else else "you"
    limits = status.limits
    window = f"{limits.window_hours} h"
    if status.blocked:
        reason = f": {inert(status.blocked_reason, 200)}" if status.blocked_reason else ""
        return f"🚫 A moderator has blocked {them} from composing here{reason}."
    if limits.exempt:
        return f"♾️ {you.capitalize()} have no music quota here (exempt)."
    lines = [f"In the last {window} {you} have used:"]
    if limits.tracks is not None:
        lines.append(
            f"• **{status.tracks_used}** of **{limits.tracks}** tracks ({status.tracks_left} left)"
        )
    if limits.seconds is not None and status.seconds_left is not None:
        lines.append(
            f"• **{duration(status.seconds_used)}** of **{duration(limits.seconds)}** "
            f"of music ({duration(status.seconds_left)} left)"
        )
    if status.next_release_at is not None:
        lines.append(
            f"{your.capitalize()} oldest track stops counting "
            f"{relative_time(status.next_release_at)}."
        )
    return "\n".join(lines)


def quota_refusal(refused: QuotaRefused, length_s: int) -> str:
    status, limits = refused.status, refused.status.limits
    window = f"{limits.window_hours} h"
    when = relative_time(refused.available_at)
    match refused.reason:
        case "blocked":
            return quota_summary(status)
        case "tracks":
            return (
                f"🎟️ You've used all {limits.tracks} tracks of your quota for the last "
                f"{window}. You can compose again {when}."
            )
        case "too_long":
            return (
                f"⏱️ Your quota allows {duration(limits.seconds or 0)} of music per {window}, "
                f"less than this {duration(length_s)} track. Try a shorter length."
            )
        case _:
            left = status.seconds_left or 0
            return (
                f"⏱️ A {duration(length_s)} track would exceed your quota: "
                f"{duration(left)} of music left for the last {window}. "
                f"More is available {when}, or try a shorter length."
            )
