"""Words the bot says. Everything quoted from a member or the API is escaped here."""

from __future__ import annotations

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
)


def inert(text: str, limit: int = 1000) -> str:
    """Markdown escaped and mentions defused, cut to `limit` characters."""
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def quoted(text: str, limit: int = 1000) -> str:
    return "\n".join(f"> {line}" for line in inert(text, limit).splitlines() or [""])


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
        case TransportError():
            return (
                "📡 The music service could not be reached. Please try again in a minute. "
                + nothing_charged
            )
        case ServerError():
            return "💥 The music service had an error. Please try again. " + nothing_charged
        case _:
            return "💥 Something went wrong while composing. Please try again. " + nothing_charged
