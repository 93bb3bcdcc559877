"""A compose's life: progress, failures, delivery, stems, deletion, interruptions."""

from __future__ import annotations

from bot.core.jam import JamEnded
from bot.music import (
    Busy,
    HarmfulContent,
    InvalidInput,
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

from .escape import channel, duration, inert

NOTHING_CHARGED = "Nothing was taken from your quota."


def music_error(error: MusicError, *, charged_note: bool = True) -> str:
    """One short, specific sentence for a failed compose; never internal detail.
    `charged_note` adds that nothing was taken from the quota (not said of a plan)."""
    text = _music_error(error, NOTHING_CHARGED if charged_note else "")
    return text.rstrip()


def _music_error(error: MusicError, nothing_charged: str) -> str:
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


def progress(
    headline: str,
    length_s: float,
    *,
    position: int | None,
    elapsed_s: float | None,
    playing_in: int | None = None,
) -> str:
    """The progress message: its place in line, then "Composing… N s" (or "Playing in…")."""
    line = f"“{inert(headline, 80)}” · {duration(length_s)}"
    if elapsed_s is not None:
        if playing_in is not None:
            return f"🎵 Playing in {channel(playing_in)}… {round(elapsed_s)} s\n{line}"
        return f"🎵 Composing… {round(elapsed_s)} s\n{line}"
    ahead = "you're next" if position == 1 else f"#{position} in line"
    where = " in the jam" if playing_in is not None else ""
    return f"🎼 Queued{where} — {ahead}\n{line}"


def composing_for(user_id: int) -> str:
    return f"🎼 Composing for <@{user_id}>…"


UPLOAD_REFUSED = (
    "📤 The track was composed, but Discord refused the upload. "
    "Nothing was taken from your quota; please try again."
)
LATE_TRACK = "your track is ready:"
LATE_NOTE = "about your music request:"
SUGGESTION_HEADING = "That prompt looks like it names copyrighted music"
PLAN_SUGGESTION_HEADING = "That plan looks like it names copyrighted music"
PLAN_SUGGESTION_NOTE = f"The music service suggests this plan instead. {NOTHING_CHARGED}"
NO_USABLE_PLAN = (
    "🚫 The music service refused this plan as copyrighted material and offered no usable "
    f"alternative. {NOTHING_CHARGED}"
)


def compose_failure(cause: BaseException) -> str:
    """Why a compose failed, said after it was refunded."""
    if isinstance(cause, JamEnded):
        return f"⏹️ The jam ended before your track's turn. {NOTHING_CHARGED}"
    if isinstance(cause, InvalidInput):
        return f"⚠️ {inert(cause.message, 500)}"
    if isinstance(cause, MusicError):
        return music_error(cause)
    return (
        "💥 Something went wrong while composing. Nothing was taken from your quota; "
        "please try again."
    )


def interrupted(prompt: str, length_s: float, *, restarted: bool = True) -> str:
    """A job a stopped process left: `restarted` when it was this bot's own earlier run,
    else another process (another shard's) took the job over after its owner went silent."""
    what = (
        "was interrupted when the bot restarted"
        if restarted
        else "was interrupted: the process composing it stopped, and another process took over"
    )
    return f"your track “{inert(prompt, 200)}” ({duration(length_s)}) {what}. {NOTHING_CHARGED}"


TRACK_DELETED = "🗑️ The track is deleted: its message, its file and what the bot kept of it."


def track_choice(what: str, length_s: float) -> str:
    """An autocomplete line for one of the member's tracks."""
    return f"{' '.join(what.split())[:80]} · {duration(length_s)}"


PICK_STEMS = "Split this track into which stems? It counts as one track of the same length."
STEMS_REFUSED = (
    "📤 The stems were made, but Discord refused the upload. "
    "Nothing was taken from your quota; please try again."
)


def separating(elapsed_s: float | None = None) -> str:
    """The stems' progress line."""
    if elapsed_s is None:
        return "🎚️ Separating stems…"
    return f"🎚️ Separating stems… {elapsed_s:.0f} s"


def stems_posted(user_id: int, headline: str, names: list[str], part: int, parts: int) -> str:
    """Above the stems' files; echoes a title, so sent without mentions."""
    more = f" ({part}/{parts})" if parts > 1 else ""
    title = inert(headline, 200)
    return f"🎚️ Stems of **{title}** for <@{user_id}>{more}: {', '.join(names)}"


def stems_failed(cause: BaseException) -> str:
    """Why stems failed, said after the refund."""
    return f"⚠️ The stems could not be made ({compose_failure(cause)}). {NOTHING_CHARGED}"


NOT_ALLOWED_HERE = (
    "👋 This bot only works in the servers its owner chose, and this is not one of them, so "
    "it is leaving. Nothing was composed or charged here."
)
SOMETHING_WENT_WRONG = "Something went wrong. It has been logged; please try again."
