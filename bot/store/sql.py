"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


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
