"""The schema steps on real SQLite and PostgreSQL databases."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from bot.store import Database
from bot.store.jobs import JobStore
from bot.store.migrations import STEPS, migrate


async def columns(database: Database, table: str) -> set[str]:
    found = await database.read(lambda connection: inspect(connection).get_columns(table))
    return {c["name"] for c in found}


async def indexes(database: Database, table: str) -> set[str]:
    found = await database.read(lambda connection: inspect(connection).get_indexes(table))
    return {str(i["name"]) for i in found}


async def test_a_version_2_database_is_upgraded_in_place(database: Database) -> None:
    def back_to_version_2(connection: Connection) -> None:
        connection.execute(text("ALTER TABLE jobs DROP COLUMN retried_at"))
        connection.execute(text("DROP TABLE plans"))
        connection.execute(text("DROP TABLE tracks"))
        connection.execute(text("DROP TABLE quota_budget_locks"))
        connection.execute(text("DROP INDEX ix_quota_usage_created"))
        connection.execute(text("DELETE FROM schema_version WHERE version > 2"))

    await database.write(back_to_version_2)
    assert "retried_at" not in await columns(database, "jobs")

    latest = max(version for version, _ in STEPS)
    assert await database.write(migrate) == latest
    assert "retried_at" in await columns(database, "jobs")
    assert "song_id" in await columns(database, "tracks")
    assert "message_id" in await columns(database, "plans")
    assert "target_id" in await columns(database, "quota_budget_locks")
    assert "ix_quota_usage_created" in await indexes(database, "quota_usage")
    assert await database.write(migrate) == latest, "running again changes nothing"


async def test_a_retry_is_claimed_once(database: Database) -> None:
    store = JobStore(database, owner="p", lease_seconds=30)
    await store.enqueue(
        job_id="c" * 32,
        guild_id=1,
        user_id=2,
        channel_id=3,
        prompt="p",
        length_s=3,
        instrumental=False,
        request="{}",
        output_format="mp3_44100_64",
        reservation_id=None,
    )
    assert await store.claim_retry("c" * 32)
    assert not await store.claim_retry("c" * 32)
    await store.release_retry("c" * 32)
    assert await store.claim_retry("c" * 32)
