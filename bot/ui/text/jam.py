"""Voice jams: starting, skipping, stopping, the queue."""

from __future__ import annotations

from bot.core import jams as jam_rules

from .escape import channel, duration

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


def jam_moved(from_channel_id: int, to_channel_id: int) -> str:
    return (
        f"🔀 I was moved from {channel(from_channel_id)} to {channel(to_channel_id)}: "
        f"the jam goes on there. Join {channel(to_channel_id)} to listen and add tracks."
    )


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
