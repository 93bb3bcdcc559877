"""The database: SQLite by default, PostgreSQL for many processes.

Stores hand the database a function of one connection, run as one transaction:
`await database.write(work)` or `await database.read(work)`. How it runs is this module's
business:

- SQLite: in the database's own thread, on a plain `sqlite3` connection. The whole transaction
  is one hop from the event loop; an async driver would make each statement a hop, and that
  cost (a third of a millisecond a statement, measured) would cap quota reservations at a few
  hundred a second. One thread also means one writer per process, queued in the executor
  instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
- PostgreSQL: asyncpg, through SQLAlchemy's `run_sync`, so the same function serves both and
  every statement is awaited on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .migrations import migrate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[Connection], T]


class StoreUnavailable(RuntimeError):
    """The database cannot be used; the message says why, without any password."""


class Database:
    """Owns the engine. `open()` creates the SQLite folder and brings the schema up to date."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._sqlite: Engine | None = None
        self._async: AsyncEngine | None = None
        self._thread: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            # `sqlite+aiosqlite://` (this project's earlier default) means the same file.
            self._sqlite = create_engine(
                self.url.set(drivername="sqlite"),
                pool_size=1,
                max_overflow=0,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(self._sqlite, "connect", _sqlite_pragmas)
            event.listen(self._sqlite, "begin", _sqlite_begin)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        else:
            # Imported here: SQLite deployments never load the async layer or asyncpg.
            from sqlalchemy.ext.asyncio import create_async_engine

            self._async = create_async_engine(
                self.url, pool_size=10, max_overflow=10, pool_pre_ping=True
            )

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    async def write(self, work: Work[T]) -> T:
        """Run `work` in one transaction (on SQLite, holding the write lock from the start)."""
        if self._sqlite is not None:
            engine = self._sqlite

            def transaction() -> T:
                with engine.begin() as connection:
                    return work(connection)

            return await self._in_thread(transaction)
        assert self._async is not None
        async with self._async.begin() as connection:
            return await connection.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        """Run `work` without writing (it sees one consistent snapshot)."""
        if self._sqlite is not None:
            engine = self._sqlite

            def snapshot() -> T:
                with engine.connect() as connection:
                    connection.execution_options(sqlite_read=True)
                    return work(connection)

            return await self._in_thread(snapshot)
        assert self._async is not None
        async with self._async.connect() as connection:
            return await connection.run_sync(work)

    async def _in_thread(self, call: Callable[[], T]) -> T:
        if self._thread is None:
            raise StoreUnavailable("the database is closed")
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def open(self) -> None:
        if self.is_sqlite and sqlite3.sqlite_version_info < (3, 35):
            # UPDATE ... RETURNING settles a job and its quota in one statement.
            raise StoreUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is needed "
                "(or use PostgreSQL through DATABASE_URL)"
            )
        database = self.url.database
        if self.is_sqlite and database and database != ":memory:":
            await asyncio.to_thread(Path(database).parent.mkdir, parents=True, exist_ok=True)
        try:
            await self.write(migrate)
        except (OSError, SQLAlchemyError) as exc:
            where = self.url.render_as_string(hide_password=True)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreUnavailable(f"cannot open the database {where}: {reason}") from None
        log.info("database ready: %s", self.url.render_as_string(hide_password=True))

    async def ping(self) -> bool:
        """True when a trivial query answers (for the health check)."""
        try:
            await self.read(lambda connection: connection.exec_driver_sql("SELECT 1").scalar())
        except (OSError, SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        """Close every connection; closing twice is harmless."""
        if self._thread is not None and self._sqlite is not None:
            thread, self._thread = self._thread, None
            await asyncio.get_running_loop().run_in_executor(thread, self._sqlite.dispose)
            thread.shutdown(wait=True)
        if self._async is not None:
            await self._async.dispose()


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
    # A write takes the lock up front, so read-then-write transactions cannot interleave.
    reading = connection.get_execution_options().get("sqlite_read", False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
