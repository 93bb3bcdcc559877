"""Words the bot says: every sentence members see lives here. Everything quoted from a
member or the API is escaped here."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord

from bot.core import jams as jam_rules
from bot.core import refusals as r
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
from bot.music.text import displayable
from bot.store.quotas import QuotaRefused, QuotaStatus

NOTHING_CHARGED = "Nothing was taken from your quota."

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


def channel(channel_id: int) -> str:
    return f"<#{channel_id}>"


# -- refusals: nothing was spent or changed ------------------------------------------------------

ONLY_REQUESTER = "Only the member who asked for this (or a moderator) can use this button."


def refusal(reason: r.Refusal) -> str:
    """What a member is told when the core refuses: one friendly sentence."""
    match reason:
        case r.Restarting():
            return "🔧 The bot is restarting. Please try again in a minute; nothing was spent."
        case r.NotInServer(what="plan"):
            return "Plans can only be made in a server channel."
        case r.NotInServer(what="jam"):
            return "Jams only work in a server."
        case r.NotInServer():
            return "Music can only be composed in a server channel."
        case r.PromptAndPlan():
            return "Give a prompt or a plan, not both: a plan already says what to compose."
        case r.WrongPlanShape(shape=shape, model_id=model_id):
            return (
                f"That plan is made of {shape}, which the model this bot uses ({model_id}) "
                "does not take. Make a new one with /music plan."
            )
        case r.EmptyPrompt():
            return "Please describe the music you want: the prompt is empty (or choose a plan)."
        case r.PromptTooLong(length=length, limit=limit):
            return f"That prompt is {length:,} characters; the limit is {limit:,}."
        case r.ControlCharacter(description=description):
            return (
                f"Your prompt contains an invisible control character, {description}. "
                "Please remove it and try again."
            )
        case r.LengthOutOfRange(length_s=length_s, min_s=low, max_s=high):
            return (
                f"The length must be between {low} and {high} seconds (you asked for {length_s})."
            )
        case r.TooLargeToUpload():
            hint = (
                f"The longest that fits is {duration(reason.longest_s)}."
                if reason.longest_s >= reason.min_s
                else "No track fits it."
            )
            return (
                f"A {duration(reason.length_s)} track would not fit the upload limit here "
                f"({reason.limit_bytes / 1024 / 1024:.1f} MiB). {hint}"
            )
        case r.OverQuota(refused=refused, length_s=length_s):
            return quota_refusal(refused, length_s)
        case r.NotYours(what="plan"):
            return "That plan belongs to someone else."
        case r.NotYours():
            return ONLY_REQUESTER
        case r.AlreadyUsed():
            return "This button has already been used."
        case r.Gone(what=what):
            return _GONE.get(what, "This is no longer kept.")
        case r.CannotChange(message=message):
            return f"⚠️ {message}"
        case r.NotStoredForEditing():
            return "⚠️ This track was not stored for editing, so it can't be changed."
        case r.Unreadable(what="plan"):
            return "This plan could not be read."
        case r.Unreadable():
            return "⚠️ This track's plan could not be read."
        case r.NoPlanBehindTrack():
            return "The music service did not say how it planned this."
        case r.SectionKept():
            return "That section keeps audio from an earlier take; it can't be edited."
        case r.NoGlobalStyles():
            return "This plan's model has no global styles."
        case r.PlanRateLimited(wait_s=wait_s):
            return f"⏳ You're making plans quickly. Try again in {max(1, round(wait_s))} s."
        case r.PlanSources(both_plans=True):
            return "Choose a saved plan or attach a plan file, not both."
        case r.PlanSources():
            return "A plan sets its own length and voices; leave `length` and `instrumental` out."
        case r.PlanFileTooLarge(limit_kib=kib):
            return f"That file is more than {kib} KiB; a plan file is at most {kib} KiB of JSON."
        case r.PlanFileUnreachable():
            return "I couldn't download that file; please try again."
        case r.PlanFileInvalid(detail=detail):
            return (
                "That file is not a composition plan in the API's JSON format "
                f"(`sections` or `chunks`): {inert(detail, 300)}"
            )


_GONE = {
    "suggestion": "This suggestion is no longer available.",
    "retry": "This track can no longer be retried.",
    "track": "This track is too old for its buttons to work.",
    "plan": "This plan is no longer kept.",
    "plan option": (
        "I can't find that plan. Pick one from the list, or make one with `/music plan`."
    ),
    "section": "That section is no longer in the plan.",
}


def change_refused(reason: r.Refusal) -> str:
    """A form's change refused: the reason, and that the plan is as it was."""
    text = refusal(reason)
    return f"{text} Nothing was changed." if isinstance(reason, r.CannotChange) else text


# -- a compose's life ----------------------------------------------------------------------------


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


def interrupted(prompt: str, length_s: float) -> str:
    return (
        f"your track “{inert(prompt, 200)}” ({duration(length_s)}) was interrupted when the "
        f"bot restarted. {NOTHING_CHARGED}"
    )


# -- plans ---------------------------------------------------------------------------------------

PLAN_HEADING = "Composition plan"
TRACK_PLAN_HEADING = "The plan behind this track"
COPIED_PLAN_HEADING = "Composition plan (from a track)"
PICK_SECTION = "Which section do you want to edit?"
PICK_REDO_SECTION = "Which section should be composed again? The rest of the track is kept."
SECTION_UPDATED = "✅ Section {number} updated."
STYLES_UPDATED = "✅ Global styles updated."
PLAN_NOT_REDRAWN = "The plan's message could not be updated, but composing it uses the new plan."
_ORIGINS = {"planned": "planned", "suggested": "suggested", "track": "from a track", "file": "file"}


def plan_prompt_refused(suggestion: str) -> str:
    return (
        "🚫 That prompt looks like it names copyrighted music. The music service suggests:\n"
        + quoted(suggestion, 1500)
        + "\nTry `/music plan` with that."
    )


def plan_choice(prompt: str | None, summary: str, length_s: float, origin: str) -> str:
    """An autocomplete line for a saved plan: what it is, its length and where it came from."""
    what = " ".join((prompt or "").split())[:50] or summary[:50]
    return f"{what} · {duration(length_s)} · {_ORIGINS.get(origin, origin)}"


# -- jams ----------------------------------------------------------------------------------------

VOICE_LIBRARIES_MISSING = "the voice libraries are missing (install discord.py[voice])"
NO_JAM = "No jam is running here. Start one with `/jam start`."
JOIN_VOICE_FIRST = "Join a voice channel first: the jam plays in the one you're in."
ONLY_STARTER = "Only the member who started the jam (or a moderator) can stop it."
STOPPING = "⏹️ Stopping the jam."


def voice_unavailable(reason: str) -> str:
    return f"🔇 Voice jams are not available on this bot: {reason}."


def jam_running(voice_channel_id: int) -> str:
    return f"A jam is already running in {channel(voice_channel_id)}."


def needs_voice_permissions(voice_channel_id: int) -> str:
    return f"I need the Connect and Speak permissions in {channel(voice_channel_id)}."


def could_not_join(voice_channel_id: int) -> str:
    return f"🔇 I couldn't join {channel(voice_channel_id)}. Please try again in a minute."


E2EE_REQUIRED = (
    "Discord requires an end-to-end encrypted voice version this bot doesn't support yet. "
    "An admin needs to update the bot (its discord.py and davey)"
)


def encryption_required(voice_channel_id: int) -> str:
    return f"🔒 I can't play in {channel(voice_channel_id)}: {E2EE_REQUIRED}."


def jam_started(voice_channel_id: int) -> str:
    return (
        f"🎶 Jam started in {channel(voice_channel_id)}. Everyone in the channel: "
        "`/music compose` to add a track; each plays here as it is composed, and is "
        "posted when it ends. `/jam queue` shows what's next."
    )


def skip_outcome(outcome: jam_rules.SkipOutcome, voice_channel_id: int) -> str:
    match outcome:
        case jam_rules.NothingPlaying():
            return "Nothing is playing right now."
        case jam_rules.NotListening():
            return f"Join {channel(voice_channel_id)} to vote to skip."
        case jam_rules.Skipped(votes=0):
            return "⏭️ Skipped. The track is still posted when it's done."
        case jam_rules.Skipped(votes=votes, listeners=listeners):
            return f"⏭️ Skipped: {votes} of {listeners} voted."
        case jam_rules.VoteCounted(votes=votes, needed=needed):
            return f"🗳️ Vote counted: {votes} of the {needed} needed to skip."


def jam_moved(from_channel_id: int, to_channel_id: int) -> str:
    return (
        f"🔀 I was moved from {channel(from_channel_id)} to {channel(to_channel_id)}: "
        f"the jam goes on there. Join {channel(to_channel_id)} to listen and add tracks."
    )


def jam_ended(voice_channel_id: int, reason: jam_rules.EndReason, waiting: int) -> str:
    match reason:
        case jam_rules.Stopped(by_user_id=user_id):
            why = f"stopped by <@{user_id}>"
        case jam_rules.Disconnected():
            why = "I was disconnected from voice"
        case jam_rules.EncryptionRequired():
            why = E2EE_REQUIRED[0].lower() + E2EE_REQUIRED[1:]
        case jam_rules.Idle(seconds=seconds):
            why = f"nobody was listening for {duration(seconds)}"
        case jam_rules.Restarting():
            why = "the bot is restarting"
    note = (
        f" {waiting} waiting track(s) were not played; nothing was taken from their quotas."
        if waiting
        else ""
    )
    return f"⏹️ The jam in {channel(voice_channel_id)} has ended: {why}.{note}"


def queue_footer(waiting: int, total_s: float) -> str:
    return f"{waiting} waiting · {duration(total_s)} of music"


SOMETHING_WENT_WRONG = "Something went wrong. It has been logged; please try again."
