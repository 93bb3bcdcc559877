"""The database: one async SQLAlchemy engine, SQLite by default, PostgreSQL for many processes."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .migrations import migrate

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The database cannot be used; the message says why, without any password."""


class Database:
    """Owns the engine. `open()` creates the SQLite folder and brings the schema up to date."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            # SQLite takes one writer at a time. One connection per process queues statements
            # in the pool (a cheap asyncio wait) instead of in SQLite's busy handler, which
            # sleeps in steps of up to 100 ms; other processes still wait via busy_timeout.
            options.update(pool_size=1, max_overflow=0, connect_args={"timeout": 30})
        else:
            options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # aiosqlite's own transaction handling is off so BEGIN IMMEDIATE works (see _begin).
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    async def open(self) -> None:
        if self.is_sqlite and sqlite3.sqlite_version_info < (3, 35):
            # UPDATE ... RETURNING settles a job and its quota in one statement.
            raise StoreUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed "
                "(or use PostgreSQL through DATABASE_URL)"
            )
        database = self.url.database
        if self.is_sqlite and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        try:
            await migrate(self.engine)
        except (OSError, SQLAlchemyError) as exc:
            where = self.url.render_as_string(hide_password=True)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreUnavailable(f"cannot open the database {where}: {reason}") from None
        log.info("database ready: %s", self.url.render_as_string(hide_password=True))

    async def ping(self) -> bool:
        """True when a trivial query answers (for the health check)."""
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except (OSError, SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock up front: read-then-write transactions cannot interleave.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
