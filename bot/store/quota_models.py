"""The values of the quota ledger (limits, statuses, reservations, the owner's budgets, the
typed refusal) and its pure rules: which limits apply, what is left, when it frees up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["guild", "role", "user"]
COUNTED = ("reserved", "committed")
# What the budgets count: every track the API was asked for and not refunded. A moderator's
# reset gives a member their quota back, but the track was delivered and billed all the same.
BILLED = ("reserved", "committed", "reset")
BUDGET_WINDOW_HOURS = 24
BUDGET_WINDOW_SECONDS = BUDGET_WINDOW_HOURS * 3600
# QuotaRefused reasons that are the operator's budgets, not the member's own quota.
BUDGET_REASONS = ("guild_budget", "guild_budget_too_long", "bot_budget", "bot_budget_too_long")


@dataclass(frozen=True, slots=True)
class QuotaDefaults:
    tracks: int = 5
    seconds: int = 600
    window_hours: int = 24


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    tracks: int | None  # None: unlimited
    seconds: int | None
    window_hours: int
    source: str

    @property
    def exempt(self) -> bool:
        return self.tracks is None and self.seconds is None


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limits: QuotaLimits
    tracks_used: int
    seconds_used: int
    # When the oldest counted track leaves the window (None: nothing counted).
    next_release_at: float | None
    blocked_reason: str | None = None
    blocked: bool = False

    @property
    def tracks_left(self) -> int | None:
        return None if self.limits.tracks is None else max(0, self.limits.tracks - self.tracks_used)

    @property
    def seconds_left(self) -> int | None:
        if self.limits.seconds is None:
            return None
        return max(0, self.limits.seconds - self.seconds_used)


@dataclass(frozen=True, slots=True)
class Budgets:
    """The operator's ceilings, in seconds of music per rolling 24 h (None: no limit).

    `bot_seconds_per_day` counts every server and process; `guild_seconds_per_day` applies to
    each server separately, above whatever its moderators set, exempt members included.
    """

    bot_seconds_per_day: int | None = None
    guild_seconds_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class BudgetUse:
    """One budget over the last 24 h: seconds reserved or delivered (refunds excluded)."""

    limit: int | None  # None: no limit
    used: int
    # When the oldest counted track leaves the window (None: nothing counted).
    next_release_at: float | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A server's use against its ceiling, and the whole bot's against its budget."""

    guild_id: int
    guild: BudgetUse
    bot: BudgetUse
    window_hours: int = BUDGET_WINDOW_HOURS


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    guild_id: int
    user_id: int
    seconds: int
    # What the member has left once this track is delivered (None: unlimited).
    tracks_left: int | None = None
    window_hours: int = 24


class QuotaRefused(Exception):
    """Not reserved. `reason` is one of:

    - the member's own quota: blocked, tracks, seconds, or too_long (over the whole allowance);
    - the operator's budgets (`BUDGET_REASONS`, `by_budget` is True, `budget` is set):
      guild_budget or bot_budget (the server's or the whole bot's seconds for the last 24 h
      are spent), guild_budget_too_long or bot_budget_too_long (the track is longer than the
      budget itself: it can never fit, `available_at` is None).

    `status` is always the member's own quota. `available_at`: when enough of the oldest
    counted uses leave the window for this request to fit (None: never, or not applicable).
    """

    def __init__(
        self,
        reason: str,
        status: QuotaStatus,
        available_at: float | None = None,
        *,
        budget: BudgetStatus | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.available_at = available_at
        self.budget = budget

    @property
    def by_budget(self) -> bool:
        """Refused by the operator's budgets, not by the member's own quota."""
        return self.reason in BUDGET_REASONS


@dataclass(frozen=True, slots=True)
class _Use:
    created_at: float
    seconds: int


def resolve_limits(defaults: QuotaDefaults, rows: Sequence[Any]) -> QuotaLimits:
    """Member override, else the most generous role, else the server default, else defaults."""
    guild = next((r for r in rows if r.scope == "guild"), None)
    member = next((r for r in rows if r.scope == "user"), None)
    roles = [r for r in rows if r.scope == "role"]
    window = (
        guild.window_hours if guild is not None and guild.window_hours else (defaults.window_hours)
    )
    if (member is not None and member.exempt) or any(r.exempt for r in roles):
        return QuotaLimits(None, None, window, "exempt")

    def pick(dimension: str, fallback: int) -> tuple[int, str]:
        if member is not None and getattr(member, dimension) is not None:
            return int(getattr(member, dimension)), "member"
        role_values = [
            int(getattr(r, dimension)) for r in roles if getattr(r, dimension) is not None
        ]
        if role_values:
            return max(role_values), "role"
        if guild is not None and getattr(guild, dimension) is not None:
            return int(getattr(guild, dimension)), "server"
        return fallback, "default"

    tracks, tracks_from = pick("tracks", defaults.tracks)
    seconds, seconds_from = pick("seconds", defaults.seconds)
    source = tracks_from if tracks_from == seconds_from else f"{tracks_from}/{seconds_from}"
    return QuotaLimits(tracks, seconds, window, source)


def _status(limits: QuotaLimits, uses: list[_Use], account: Any) -> QuotaStatus:
    blocked = account is not None and account.blocked_at is not None
    return QuotaStatus(
        limits=limits,
        tracks_used=len(uses),
        seconds_used=sum(u.seconds for u in uses),
        next_release_at=uses[0].created_at + limits.window_hours * 3600 if uses else None,
        blocked_reason=account.blocked_reason if blocked else None,
        blocked=blocked,
    )


def _available_at(
    uses: list[_Use], limits: QuotaLimits, *, tracks: int = 0, seconds: int = 0
) -> float | None:
    """When enough of the oldest uses have left the window for this request to fit."""
    count, total = len(uses), sum(u.seconds for u in uses)
    for use in uses:
        count, total = count - 1, total - use.seconds
        fits_tracks = limits.tracks is None or count + tracks <= limits.tracks
        fits_seconds = limits.seconds is None or total + seconds <= limits.seconds
        if fits_tracks and fits_seconds:
            return use.created_at + limits.window_hours * 3600
    return None
