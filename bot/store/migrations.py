"""Versioned schema steps, applied in order at start-up; nothing for a user to run by hand."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import Connection, inspect, select

from . import schema

log = logging.getLogger(__name__)


def _create(*tables: str) -> Callable[[Connection], None]:
    def step(connection: Connection) -> None:
        schema.metadata.create_all(
            connection, tables=[schema.metadata.tables[name] for name in tables]
        )

    return step


def _add_columns(*columns: str) -> Callable[[Connection], None]:
    """ALTER TABLE ADD COLUMN for each `table.column`, unless the table was created with it
    (by a later create step)."""

    def step(connection: Connection) -> None:
        for qualified in columns:
            table, column = qualified.split(".")
            if column in {c["name"] for c in inspect(connection).get_columns(table)}:
                continue
            definition = schema.metadata.tables[table].c[column]
            kind = definition.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN "{column}" {kind}')

    return step


def _create_indexes(*names: str) -> Callable[[Connection], None]:
    """CREATE INDEX for each `table.index`, unless the table was created with it."""

    def step(connection: Connection) -> None:
        for qualified in names:
            table, name = qualified.split(".")
            index = next(i for i in schema.metadata.tables[table].indexes if i.name == name)
            index.create(connection, checkfirst=True)

    return step


def _steps(*steps: Callable[[Connection], None]) -> Callable[[Connection], None]:
    def step(connection: Connection) -> None:
        for each in steps:
            each(connection)

    return step


# Any constant: the key of the lock that serialises migrations on PostgreSQL.
_MIGRATION_LOCK = 0x6D6967726174

# Append only: a released step never changes.
STEPS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _create("suggestions")),
    (
        2,
        _create(
            "quota_policies", "quota_accounts", "quota_usage", "guild_settings", "audit_log", "jobs"
        ),
    ),
    (3, _add_columns("jobs.retried_at")),
    (4, _create("plans", "tracks")),
    (5, _add_columns("jobs.message_id", "tracks.regenerated_at", "tracks.extended_at")),
    (
        6,
        _steps(
            _create("quota_budget_locks"), _create_indexes("quota_usage.ix_quota_usage_created")
        ),
    ),
    (
        7,
        _steps(
            _create("interaction_claims", "identify_slots"),
            _add_columns("jobs.interaction_token", "jobs.application_id"),
        ),
    ),
    (8, _create("app_commands")),
    (9, _add_columns("tracks.stems2_at", "tracks.stems6_at")),
]


def migrate(connection: Connection) -> int:
    """Apply the steps the database has not seen, in the caller's transaction; return the
    schema version."""
    if connection.dialect.name == "postgresql":
        # Two processes starting together must not both run the same step, nor both create
        # the first table (a unique violation in PostgreSQL's catalogue): one at a time.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    _create("schema_version")(connection)
    done = set(connection.execute(select(schema.schema_version.c.version)).scalars())
    for version, step in STEPS:
        if version in done:
            continue
        step(connection)
        connection.execute(
            schema.schema_version.insert().values(version=version, applied_at=time.time())
        )
        log.info("database schema upgraded to version %d", version)
    return max(v for v, _ in STEPS)
