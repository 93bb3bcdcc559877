"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from .database import Database


async def mark_once(database: Database, table: Table, row_id: str, column: str) -> bool:
    """Stamp `column` with the time if it is still empty; False when it was already set.

    Backs buttons that must act once however fast they are clicked.
    """

    def stamp(connection: Connection) -> bool:
        result = connection.execute(
            update(table)
            .where(table.c.id == row_id, table.c[column].is_(None))
            .values({column: time.time()})
        )
        return result.rowcount == 1

    return await database.write(stamp)


async def unmark(database: Database, table: Table, row_id: str, column: str) -> None:
    """Empty `column` again, so the button can be used once more."""

    def clear(connection: Connection) -> None:
        connection.execute(update(table).where(table.c.id == row_id).values({column: None}))

    await database.write(clear)


def _insert(dialect: str, table: Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_ignore(dialect: str, table: Table, values: Mapping[str, Any]) -> Insert:
    """INSERT that does nothing when the primary key already exists."""
    statement: Insert = _insert(dialect, table).values(**values).on_conflict_do_nothing()
    return statement


def upsert(
    dialect: str,
    table: Table,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any],
) -> Insert:
    """INSERT, or UPDATE `update` on the row with the same `keys`."""
    statement: Insert = (
        _insert(dialect, table)
        .values(**values)
        .on_conflict_do_update(index_elements=list(keys), set_=dict(update))
    )
    return statement
