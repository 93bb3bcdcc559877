"""The owner's budgets in SQL: their lock rows, and the seconds billed in the last 24 h."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from .quota_models import BILLED, BUDGET_WINDOW_SECONDS, BudgetUse, _Use
from .schema import quota_budget_locks, quota_usage


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
