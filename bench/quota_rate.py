"""How many quota reservations per second the ledger decides, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.quota_rate [--reservations 5000] [--members 500] [--tasks 32]
                                         [--database-url URL ...]

Each reservation is the whole decision a compose makes before Discord's 3 s deadline: lock the
member's account, resolve their limits (server, roles, member), count their window, insert the
reservation. `--tasks` reservations are in flight at once, over `--members` members; each
member's later reservations see the earlier ones. Every database is created fresh. Without
--database-url, a SQLite file is measured, and PostgreSQL too when TEST_POSTGRES_URL is set
(`eval "$(scripts/postgres start)"`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import Database
from bot.store.quotas import QuotaDefaults, QuotaLedger


async def fresh_postgres(url: str) -> str:
    """A new database on the server of `url`, so each run starts empty."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def measure(url: str, args: argparse.Namespace) -> tuple[float, int]:
    database = Database(url)
    await database.open()
    ledger = QuotaLedger(database, QuotaDefaults(tracks=1_000_000, seconds=10**9, window_hours=24))
    # Warm the pool and the caches the way a running bot is warm.
    await ledger.reserve(1, 1, [], 10)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(args.reservations):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            await ledger.reserve(1, 1000 + index % args.members, [11, 12], 30)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.tasks)))
    elapsed = time.perf_counter() - started
    await database.close()
    return elapsed, args.reservations


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reservations", type=int, default=5000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--database-url", action="append", default=[])
    args = parser.parse_args()
    targets = list(args.database_url)
    with tempfile.TemporaryDirectory() as folder:
        if not targets:
            targets.append(f"sqlite:///{folder}/quota.db")
            if os.environ.get("TEST_POSTGRES_URL"):
                targets.append(os.environ["TEST_POSTGRES_URL"])
        print(f"{args.reservations} reservations, {args.members} members, {args.tasks} at once")
        for url in targets:
            if url.startswith("postgresql"):
                url = await fresh_postgres(url)
            elapsed, count = await measure(url, args)
            kind = make_url(url).get_backend_name()
            print(f"  {kind:10s} {count / elapsed:8.0f} reservations/s ({elapsed:.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
