"""QuotaLedger: who may compose how much, charged only for tracks that were delivered.

`reserve` before any API call, `commit` on delivery, `refund` on any failure. A reservation is
decided while the member's account row is locked, so concurrent composes by one member (from
any number of processes) can never exceed the quota.

Above every member's quota sit the operator's `Budgets`: seconds of music per rolling 24 h for
the whole bot and for any one server, whatever its moderators set (exempt members included).
They are checked in the same transaction as the member's quota, while a budget row
(`quota_budget_locks`) is locked, so concurrent reservations in any number of processes never
pass the last seconds of a budget either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from .audit import record_action
from .database import Database
from .schema import quota_accounts, quota_budget_locks, quota_policies, quota_usage
from .sql import upsert

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


class QuotaLedger:
    def __init__(
        self,
        database: Database,
        defaults: QuotaDefaults | None = None,
        *,
        budgets: Budgets | None = None,
    ) -> None:
        self._db = database
        self.defaults = defaults or QuotaDefaults()
        self.budgets = budgets or Budgets()

    # -- members ------------------------------------------------------------------------------

    async def reserve(
        self,
        guild_id: int,
        user_id: int,
        role_ids: Iterable[int],
        seconds: int,
        *,
        job_id: str | None = None,
        now: float | None = None,
    ) -> Reservation:
        moment = time.time() if now is None else now
        roles = list(role_ids)

        def decide(connection: Connection) -> Reservation:
            # Always in this order (bot, server, member), so no two reservations deadlock.
            if self.budgets.bot_seconds_per_day is not None:
                _lock_budget(connection, "bot", 0)
            if self.budgets.guild_seconds_per_day is not None:
                _lock_budget(connection, "guild", guild_id)
            account = _lock_account(connection, guild_id, user_id)
            limits = self._limits(connection, guild_id, user_id, roles)
            uses = _uses(connection, guild_id, user_id, limits, moment)
            status = _status(limits, uses, account)
            if status.blocked:
                raise QuotaRefused("blocked", status)
            if limits.tracks is not None and status.tracks_used + 1 > limits.tracks:
                raise QuotaRefused("tracks", status, _available_at(uses, limits, tracks=1))
            if limits.seconds is not None and status.seconds_used + seconds > limits.seconds:
                if seconds > limits.seconds:
                    raise QuotaRefused("too_long", status)
                raise QuotaRefused("seconds", status, _available_at(uses, limits, seconds=seconds))
            self._check_budgets(connection, guild_id, seconds, moment, status)
            reservation = Reservation(
                uuid.uuid4().hex,
                guild_id,
                user_id,
                seconds,
                tracks_left=(
                    None if limits.tracks is None else limits.tracks - status.tracks_used - 1
                ),
                window_hours=limits.window_hours,
            )
            connection.execute(
                _INSERT_USE,
                {
                    "id": reservation.id,
                    "guild_id": guild_id,
                    "user_id": user_id,
                    "seconds": seconds,
                    "state": "reserved",
                    "job_id": job_id,
                    "created_at": moment,
                    "updated_at": moment,
                },
            )
            return reservation

        return await self._db.write(decide)

    async def commit(self, reservation_id: str) -> bool:
        return await self._settle(reservation_id, "committed")

    async def refund(self, reservation_id: str) -> bool:
        return await self._settle(reservation_id, "refunded")

    async def _settle(self, reservation_id: str, state: str) -> bool:
        def settle(connection: Connection) -> bool:
            result = connection.execute(
                update(quota_usage)
                .where(quota_usage.c.id == reservation_id, quota_usage.c.state == "reserved")
                .values(state=state, updated_at=time.time())
            )
            return result.rowcount == 1

        return await self._db.write(settle)

    async def status(
        self, guild_id: int, user_id: int, role_ids: Iterable[int], *, now: float | None = None
    ) -> QuotaStatus:
        moment = time.time() if now is None else now
        roles = list(role_ids)

        def look(connection: Connection) -> QuotaStatus:
            account = connection.execute(
                select(quota_accounts).where(
                    quota_accounts.c.guild_id == guild_id, quota_accounts.c.user_id == user_id
                )
            ).first()
            limits = self._limits(connection, guild_id, user_id, roles)
            uses = _uses(connection, guild_id, user_id, limits, moment)
            return _status(limits, uses, account)

        return await self._db.read(look)

    async def budget_status(self, guild_id: int, *, now: float | None = None) -> BudgetStatus:
        """The server's seconds used in the last 24 h against its ceiling, and the whole bot's
        against its budget (for `/quota server` and `/metrics`)."""
        moment = time.time() if now is None else now

        def look(connection: Connection) -> BudgetStatus:
            return self._budget_status(connection, guild_id, moment)

        return await self._db.read(look)

    async def bot_budget(self, *, now: float | None = None) -> BudgetUse:
        """The whole bot's seconds used in the last 24 h against its budget."""
        moment = time.time() if now is None else now

        def look(connection: Connection) -> BudgetUse:
            return _budget_use(connection, None, self.budgets.bot_seconds_per_day, moment)

        return await self._db.read(look)

    # -- moderators ---------------------------------------------------------------------------

    async def set_policy(
        self,
        guild_id: int,
        scope: Scope,
        target_id: int,
        *,
        actor_id: int,
        tracks: int | None = None,
        seconds: int | None = None,
        window_hours: int | None = None,
        exempt: bool | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "tracks": tracks,
                "seconds": seconds,
                "window_hours": window_hours,
                "exempt": exempt,
            }.items()
            if v is not None
        }

        def change(connection: Connection) -> None:
            connection.execute(
                upsert(
                    connection.dialect.name,
                    quota_policies,
                    {
                        "guild_id": guild_id,
                        "scope": scope,
                        "target_id": target_id,
                        "exempt": False,
                        "updated_at": time.time(),
                        **changes,
                    },
                    keys=("guild_id", "scope", "target_id"),
                    update={**changes, "updated_at": time.time()},
                )
            )
            record_action(
                connection, guild_id, actor_id, "quota.set", f"{scope}:{target_id}", changes
            )

        await self._db.write(change)

    async def clear_policy(
        self, guild_id: int, scope: Scope, target_id: int, *, actor_id: int
    ) -> bool:
        def clear(connection: Connection) -> bool:
            result = connection.execute(
                delete(quota_policies).where(
                    quota_policies.c.guild_id == guild_id,
                    quota_policies.c.scope == scope,
                    quota_policies.c.target_id == target_id,
                )
            )
            record_action(connection, guild_id, actor_id, "quota.clear", f"{scope}:{target_id}", {})
            return result.rowcount == 1

        return await self._db.write(clear)

    async def reset(self, guild_id: int, user_id: int, *, actor_id: int) -> int:
        """Forget a member's delivered tracks; returns how many were wiped."""

        def wipe(connection: Connection) -> int:
            result = connection.execute(
                update(quota_usage)
                .where(
                    quota_usage.c.guild_id == guild_id,
                    quota_usage.c.user_id == user_id,
                    quota_usage.c.state == "committed",
                )
                .values(state="reset", updated_at=time.time())
            )
            record_action(
                connection,
                guild_id,
                actor_id,
                "quota.reset",
                f"user:{user_id}",
                {"tracks": result.rowcount},
            )
            return int(result.rowcount)

        return await self._db.write(wipe)

    async def block(self, guild_id: int, user_id: int, *, actor_id: int, reason: str) -> None:
        def block(connection: Connection) -> None:
            _lock_account(connection, guild_id, user_id)
            connection.execute(
                update(quota_accounts)
                .where(quota_accounts.c.guild_id == guild_id, quota_accounts.c.user_id == user_id)
                .values(blocked_reason=reason, blocked_by=actor_id, blocked_at=time.time())
            )
            record_action(
                connection,
                guild_id,
                actor_id,
                "quota.block",
                f"user:{user_id}",
                {"reason": reason},
            )

        await self._db.write(block)

    async def unblock(self, guild_id: int, user_id: int, *, actor_id: int) -> bool:
        def unblock(connection: Connection) -> bool:
            result = connection.execute(
                update(quota_accounts)
                .where(
                    quota_accounts.c.guild_id == guild_id,
                    quota_accounts.c.user_id == user_id,
                    quota_accounts.c.blocked_at.is_not(None),
                )
                .values(blocked_reason=None, blocked_by=None, blocked_at=None)
            )
            record_action(connection, guild_id, actor_id, "quota.unblock", f"user:{user_id}", {})
            return result.rowcount == 1

        return await self._db.write(unblock)

    # -- internals ----------------------------------------------------------------------------

    def _budget_status(self, connection: Connection, guild_id: int, now: float) -> BudgetStatus:
        return BudgetStatus(
            guild_id,
            guild=_budget_use(connection, guild_id, self.budgets.guild_seconds_per_day, now),
            bot=_budget_use(connection, None, self.budgets.bot_seconds_per_day, now),
        )

    def _check_budgets(
        self, connection: Connection, guild_id: int, seconds: int, now: float, status: QuotaStatus
    ) -> None:
        """Raise QuotaRefused when the server's ceiling or the bot's budget has no room. With
        both full, the one that frees up later is reported: that is when the member can
        compose."""
        scopes = (
            ("guild", guild_id, self.budgets.guild_seconds_per_day),
            ("bot", None, self.budgets.bot_seconds_per_day),
        )
        refusals: list[tuple[str, float | None]] = []
        for scope, guild, limit in scopes:
            if limit is None:
                continue
            if seconds > limit:
                refusals.append((f"{scope}_budget_too_long", None))
                continue
            used = _budget_seconds(connection, guild, now)
            if used + seconds > limit:
                uses = _budget_uses(connection, guild, now)
                refusals.append((f"{scope}_budget", _budget_available_at(uses, limit, seconds)))
        if not refusals:
            return
        never = [r for r in refusals if r[1] is None]
        reason, available_at = never[0] if never else max(refusals, key=lambda r: r[1] or 0.0)
        budget = self._budget_status(connection, guild_id, now)
        raise QuotaRefused(reason, status, available_at, budget=budget)

    def _limits(
        self, connection: Connection, guild_id: int, user_id: int, role_ids: Sequence[int]
    ) -> QuotaLimits:
        rows = connection.execute(
            _POLICIES, {"guild_id": guild_id, "user_id": user_id, "role_ids": list(role_ids)}
        ).all()
        return resolve_limits(self.defaults, rows)


# Built once: a reservation runs these on every compose, and SQLAlchemy then skips building
# and caching a new statement each time.


def _account_upsert(insert: Any) -> Any:
    """Create the member's account row if needed and return it, locked until the transaction
    ends: concurrent reservations of one member wait here (PostgreSQL row lock; SQLite's
    BEGIN IMMEDIATE already serialises every writer)."""
    statement = insert(quota_accounts).values(
        guild_id=bindparam("guild_id"), user_id=bindparam("user_id")
    )
    return statement.on_conflict_do_update(
        index_elements=["guild_id", "user_id"],
        set_={"guild_id": statement.excluded.guild_id},
    ).returning(*quota_accounts.c)


_ACCOUNT = {
    "sqlite": _account_upsert(sqlite_dialect.insert),
    "postgresql": _account_upsert(postgresql_dialect.insert),
}
_POLICIES = select(quota_policies).where(
    quota_policies.c.guild_id == bindparam("guild_id"),
    or_(
        quota_policies.c.scope == "guild",
        and_(
            quota_policies.c.scope == "role",
            quota_policies.c.target_id.in_(bindparam("role_ids", expanding=True)),
        ),
        and_(quota_policies.c.scope == "user", quota_policies.c.target_id == bindparam("user_id")),
    ),
)
_USES = (
    select(quota_usage.c.created_at, quota_usage.c.seconds)
    .where(
        quota_usage.c.guild_id == bindparam("guild_id"),
        quota_usage.c.user_id == bindparam("user_id"),
        quota_usage.c.state.in_(COUNTED),
        quota_usage.c.created_at > bindparam("since"),
    )
    .order_by(quota_usage.c.created_at)
)
_INSERT_USE = quota_usage.insert()


def _budget_lock_upsert(insert: Any) -> Any:
    statement = insert(quota_budget_locks).values(
        scope=bindparam("scope"), target_id=bindparam("target_id")
    )
    return statement.on_conflict_do_update(
        index_elements=["scope", "target_id"],
        set_={"scope": statement.excluded.scope},
    ).returning(quota_budget_locks.c.scope)


_BUDGET_LOCK = {
    "sqlite": _budget_lock_upsert(sqlite_dialect.insert),
    "postgresql": _budget_lock_upsert(postgresql_dialect.insert),
}


def _billed_since(*columns: Any, guild: bool) -> Any:
    statement = select(*columns).where(
        quota_usage.c.state.in_(BILLED), quota_usage.c.created_at > bindparam("since")
    )
    return statement.where(quota_usage.c.guild_id == bindparam("guild_id")) if guild else statement


_BUDGET_TOTALS = {
    guild: _billed_since(
        func.coalesce(func.sum(quota_usage.c.seconds), 0),
        func.min(quota_usage.c.created_at),
        guild=guild,
    )
    for guild in (True, False)
}
_BUDGET_USES = {
    guild: _billed_since(quota_usage.c.created_at, quota_usage.c.seconds, guild=guild).order_by(
        quota_usage.c.created_at
    )
    for guild in (True, False)
}


def _lock_account(connection: Connection, guild_id: int, user_id: int) -> Any:
    statement = _ACCOUNT[connection.dialect.name]
    return connection.execute(statement, {"guild_id": guild_id, "user_id": user_id}).first()


def _lock_budget(connection: Connection, scope: str, target_id: int) -> None:
    """Create the budget's row if needed and lock it until the transaction ends: concurrent
    reservations against one budget, from any process, wait here (as for `_lock_account`)."""
    statement = _BUDGET_LOCK[connection.dialect.name]
    connection.execute(statement, {"scope": scope, "target_id": target_id}).first()


def _budget_totals(connection: Connection, guild_id: int | None, now: float) -> tuple[int, Any]:
    """Seconds billed in the last 24 h (one server's, or the whole bot's with None), and when
    the oldest of them was reserved."""
    row = connection.execute(
        _BUDGET_TOTALS[guild_id is not None],
        {"guild_id": guild_id, "since": now - BUDGET_WINDOW_SECONDS},
    ).one()
    return int(row[0]), row[1]


def _budget_seconds(connection: Connection, guild_id: int | None, now: float) -> int:
    return _budget_totals(connection, guild_id, now)[0]


def _budget_use(
    connection: Connection, guild_id: int | None, limit: int | None, now: float
) -> BudgetUse:
    used, oldest = _budget_totals(connection, guild_id, now)
    release = None if oldest is None else float(oldest) + BUDGET_WINDOW_SECONDS
    return BudgetUse(limit=limit, used=used, next_release_at=release)


def _budget_uses(connection: Connection, guild_id: int | None, now: float) -> list[_Use]:
    rows = connection.execute(
        _BUDGET_USES[guild_id is not None],
        {"guild_id": guild_id, "since": now - BUDGET_WINDOW_SECONDS},
    ).all()
    return [_Use(row.created_at, row.seconds) for row in rows]


def _budget_available_at(uses: list[_Use], limit: int, seconds: int) -> float | None:
    """When enough of the oldest billed uses have left the window for `seconds` to fit."""
    total = sum(u.seconds for u in uses)
    for use in uses:
        total -= use.seconds
        if total + seconds <= limit:
            return use.created_at + BUDGET_WINDOW_SECONDS
    return None


def _uses(
    connection: Connection, guild_id: int, user_id: int, limits: QuotaLimits, now: float
) -> list[_Use]:
    since = now - limits.window_hours * 3600
    rows = connection.execute(
        _USES, {"guild_id": guild_id, "user_id": user_id, "since": since}
    ).all()
    return [_Use(row.created_at, row.seconds) for row in rows]


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
