"""Quotas and the owner's budgets, as members and moderators read them."""

from __future__ import annotations

from bot.store.quotas import BudgetStatus, QuotaRefused, QuotaStatus

from .escape import channel, duration, inert, relative_time


def budget_refusal(refused: QuotaRefused, length_s: int) -> str:
    """Refused by the owner's budgets: not the member's quota, and when it frees up."""
    budget = refused.budget
    whose = "this server's" if refused.reason.startswith("guild") else "the bot's"
    use = None if budget is None else (budget.guild if whose == "this server's" else budget.bot)
    allowance = f" ({duration(use.limit)} a day)" if use is not None and use.limit else ""
    lead = f"🏦 This is not your own quota: {whose} daily music budget{allowance}"
    if refused.reason.endswith("too_long"):
        return f"{lead} is shorter than this {duration(length_s)} track. Try a shorter length."
    return (
        f"{lead} is used up for now. A {duration(length_s)} track fits again "
        f"{relative_time(refused.available_at)}, or try a shorter length."
    )


def server_budget(status: BudgetStatus) -> str:
    """/quota server: the server's use against its ceiling, and the bot-wide budget."""
    lines = [f"Music composed in the last {status.window_hours} h:"]
    for label, use in (("this server", status.guild), ("the whole bot", status.bot)):
        if use.limit is None:
            lines.append(f"• {label}: **{duration(use.used)}** (no daily limit)")
        else:
            lines.append(
                f"• {label}: **{duration(use.used)}** of **{duration(use.limit)}** "
                f"({duration(use.left or 0)} left)"
            )
    if status.guild.next_release_at is not None:
        lines.append(
            f"The oldest track stops counting {relative_time(status.guild.next_release_at)}."
        )
    return "\n".join(lines)


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


SERVER_DEFAULT = "the server default"
QUOTA_MEMBER_OR_ROLE = "Pick a member or a role, not both."
QUOTA_WINDOW_SERVER_ONLY = "The window is set for the whole server only."
QUOTA_EXEMPT_SCOPE = "Exempt and clear apply to a role or a member."
QUOTA_NOTHING_TO_SET = "Give at least one of tracks, seconds, window_hours or exempt."


def quota_cleared(label: str) -> str:
    return f"{label} now follows the server's quota again."


def quota_set(
    label: str,
    tracks: int | None,
    seconds: int | None,
    window_hours: int | None,
    exempt: bool | None,
) -> str:
    parts = []
    if tracks is not None:
        parts.append(f"{tracks} tracks")
    if seconds is not None:
        parts.append(f"{duration(seconds)} of music")
    if window_hours is not None:
        parts.append(f"per {window_hours} h")
    if exempt is not None:
        parts.append("exempt" if exempt else "not exempt")
    return f"Quota for {label}: {', '.join(parts)}."


def quota_of(mention: str, status: QuotaStatus) -> str:
    """/quota show: a member's quota, said to a moderator."""
    summary = quota_summary(status, about_someone_else=True)
    return f"{mention} ({status.limits.source}):\n{summary}"


def quota_reset(mention: str, wiped: int) -> str:
    return f"Reset {mention}'s quota ({wiped} tracks forgiven)."


def blocked(mention: str, reason: str) -> str:
    why = f" ({inert(reason, 200)})" if reason.strip() else ""
    return f"Blocked {mention} from composing{why}."


def unblocked(mention: str) -> str:
    return f"Unblocked {mention}."


def not_blocked(mention: str) -> str:
    return f"{mention} was not blocked."


def log_channel_set(channel_id: int | None) -> str:
    where = channel(channel_id) if channel_id is not None else "nowhere"
    return f"Quota actions will be posted to {where}."


def done(summary: str) -> str:
    return f"✅ {summary}"


def moderator_action(user_id: int, summary: str) -> str:
    """A moderator's action, as posted to the server's log channel."""
    return f"🛡️ <@{user_id}>: {summary}"


def quota_refusal(refused: QuotaRefused, length_s: int) -> str:
    if refused.by_budget:
        return budget_refusal(refused, length_s)
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
