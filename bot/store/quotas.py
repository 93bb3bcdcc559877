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
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from .audit import record_action
from .budget_sql import (
    _budget_available_at,
    _budget_seconds,
    _budget_use,
    _budget_uses,
    _lock_budget,
)
from .database import Database
from .quota_models import (
    BILLED,
    BUDGET_REASONS,
    BUDGET_WINDOW_HOURS,
    BUDGET_WINDOW_SECONDS,
    COUNTED,
    Budgets,
    BudgetStatus,
    BudgetUse,
    QuotaDefaults,
    QuotaLimits,
    QuotaRefused,
    QuotaStatus,
    Reservation,
    Scope,
    _available_at,
    _status,
    _Use,
    resolve_limits,
)
from .schema import quota_accounts, quota_policies, quota_usage
from .sql import upsert

__all__ = [
    "BILLED",
    "BUDGET_REASONS",
    "BUDGET_WINDOW_HOURS",
    "BUDGET_WINDOW_SECONDS",
    "COUNTED",
    "BudgetStatus",
    "BudgetUse",
    "Budgets",
    "QuotaDefaults",
    "QuotaLedger",
    "QuotaLimits",
    "QuotaRefused",
    "QuotaStatus",
    "Reservation",
    "Scope",
    "resolve_limits",
]


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


def _lock_account(connection: Connection, guild_id: int, user_id: int) -> Any:
    statement = _ACCOUNT[connection.dialect.name]
    return connection.execute(statement, {"guild_id": guild_id, "user_id": user_id}).first()


def _uses(
    connection: Connection, guild_id: int, user_id: int, limits: QuotaLimits, now: float
) -> list[_Use]:
    since = now - limits.window_hours * 3600
    rows = connection.execute(
        _USES, {"guild_id": guild_id, "user_id": user_id, "since": since}
    ).all()
    return [_Use(row.created_at, row.seconds) for row in rows]
