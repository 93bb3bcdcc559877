"""The Composer on real databases with the sandbox: fairness, global concurrency, crashes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from sqlalchemy import select

from bot.core.composer import ComposeJob, Composer
from bot.music import MusicClient, build_request
from bot.store import Database
from bot.store.jobs import JobRecord, JobStore
from bot.store.quotas import QuotaLedger
from bot.store.schema import quota_usage
from tests.conftest import FAST_RETRY, RunningSandbox
from tests.databases import open_database

G = 1


class StartOrder:
    """Listener that records when each job starts and how many are queued."""

    def __init__(self, starts: list[str], name: str, queued: asyncio.Queue[str]) -> None:
        self.starts, self.name, self._queued = starts, name, queued

    async def queued(self, position: int) -> None:
        await self._queued.put(self.name)

    async def started(self) -> None:
        self.starts.append(self.name)


def job(user: int, prompt: str, reservation_id: str | None = None) -> ComposeJob:
    return ComposeJob(
        id=uuid.uuid4().hex,
        guild_id=G,
        user_id=user,
        channel_id=5,
        prompt=prompt,
        length_s=3,
        instrumental=False,
        request=build_request(prompt=prompt, length_s=3),
        output_format="mp3_44100_64",
        reservation_id=reservation_id,
    )


@asynccontextmanager
async def composer(
    database: Database, sandbox: RunningSandbox, *, concurrency: int, lease: float = 30
) -> AsyncIterator[tuple[Composer, JobStore]]:
    store = JobStore(database, owner=uuid.uuid4().hex, lease_seconds=lease)
    async with MusicClient("test-key", base_url=sandbox.url, retry_policy=FAST_RETRY) as music:
        instance = Composer(music, store, concurrency=concurrency, poll_interval=0.05)
        await instance.start()
        try:
            yield instance, store
        finally:
            await instance.stop()


async def run_and_finish(instance: Composer, item: ComposeJob, listener: StartOrder) -> None:
    with await instance.run(item, listener):
        pass
    await instance.finish(item.id, delivered=True)


async def test_one_members_ten_jobs_do_not_delay_anothers_first(
    database: Database, sandbox: RunningSandbox
) -> None:
    starts: list[str] = []
    queued: asyncio.Queue[str] = asyncio.Queue()
    async with composer(database, sandbox, concurrency=1) as (instance, _):
        a_jobs = [
            asyncio.create_task(
                run_and_finish(
                    instance,
                    job(100, f"lofi {i} fault:slow:0.2"),
                    StartOrder(starts, f"A{i}", queued),
                )
            )
            for i in range(10)
        ]
        # Wait until all ten are in line behind the first before B asks.
        seen: set[str] = set()
        while len(seen) < 9:
            seen.add(await asyncio.wait_for(queued.get(), 10))
        b_job = asyncio.create_task(
            run_and_finish(instance, job(200, "jazz"), StartOrder(starts, "B", queued))
        )
        await asyncio.wait_for(asyncio.gather(*a_jobs, b_job), 60)
    second_a = [name for name in starts if name.startswith("A")][1]
    assert starts.index("B") < starts.index(second_a), starts
    assert starts[0] == "A0"


async def test_two_composers_on_one_database_share_the_concurrency(
    db_url: str, sandbox: RunningSandbox
) -> None:
    starts: list[str] = []
    queued: asyncio.Queue[str] = asyncio.Queue()
    async with AsyncExitStack() as stack:
        # Two engines: as two processes would have.
        first_db = await stack.enter_async_context(open_database(db_url))
        second_db = await stack.enter_async_context(open_database(db_url))
        first, _ = await stack.enter_async_context(composer(first_db, sandbox, concurrency=2))
        second, _ = await stack.enter_async_context(composer(second_db, sandbox, concurrency=2))
        runs = [
            run_and_finish(
                instance,
                job(user, f"house {user} {i} fault:slow:0.15"),
                StartOrder(starts, f"{user}", queued),
            )
            for i in range(4)
            for user, instance in ((300 + i, first), (400 + i, second))
        ]
        await asyncio.wait_for(asyncio.gather(*runs), 60)
    assert len(starts) == 8
    assert sandbox.sandbox.peak_in_flight == 2


async def test_a_dead_owners_jobs_are_interrupted_and_refunded(
    database: Database, sandbox: RunningSandbox
) -> None:
    quotas = QuotaLedger(database)
    reservation = await quotas.reserve(G, 100, [], 3)
    dead = JobStore(database, owner="dead-process", lease_seconds=0.01)
    item = job(100, "lofi", reservation.id)
    await dead.enqueue(
        job_id=item.id,
        guild_id=G,
        user_id=100,
        channel_id=5,
        prompt="lofi",
        length_s=3,
        instrumental=False,
        request=item.request.model_dump_json(),
        output_format="mp3_44100_64",
        reservation_id=reservation.id,
    )
    assert await dead.claim_next(2)
    reported: list[JobRecord] = []

    async def report(records: list[JobRecord]) -> None:
        reported.extend(records)

    store = JobStore(database, owner="new-process", lease_seconds=30)
    async with MusicClient("test-key", base_url=sandbox.url) as music:
        recovered = Composer(music, store, concurrency=2, on_interrupted=report)
        await recovered.start()
        await recovered.stop()
    assert [r.id for r in reported] == [item.id]
    assert (await store.get(item.id)).state == "interrupted"  # type: ignore[union-attr]
    state = await database.read(
        lambda connection: connection.execute(
            select(quota_usage.c.state).where(quota_usage.c.id == reservation.id)
        ).scalar_one()
    )
    assert state == "refunded"
    assert (await quotas.status(G, 100, [])).tracks_used == 0


@pytest.mark.parametrize("delivered", [True, False])
async def test_finishing_settles_the_reservation(
    database: Database, sandbox: RunningSandbox, delivered: bool
) -> None:
    quotas = QuotaLedger(database)
    reservation = await quotas.reserve(G, 100, [], 3)
    async with composer(database, sandbox, concurrency=1) as (instance, store):
        item = job(100, "lofi", reservation.id)
        with await instance.run(item):
            pass
        await instance.finish(item.id, delivered=delivered)
        assert (await store.get(item.id)).state == ("done" if delivered else "failed")  # type: ignore[union-attr]
    assert (await quotas.status(G, 100, [])).tracks_used == (1 if delivered else 0)


async def test_a_reservation_without_a_job_is_refunded_once_stale(database: Database) -> None:
    quotas = QuotaLedger(database)
    orphan = await quotas.reserve(G, 100, [], 3, now=1.0)
    fresh = await quotas.reserve(G, 101, [], 3)
    store = JobStore(database, owner="new-process", lease_seconds=30)
    await store.take_stale()
    assert not await quotas.commit(orphan.id), "the orphan was refunded"
    assert await quotas.commit(fresh.id), "a reservation made just now is left alone"


async def test_a_cancelled_wait_does_not_hold_a_slot(
    database: Database, sandbox: RunningSandbox
) -> None:
    starts: list[str] = []
    queued: asyncio.Queue[str] = asyncio.Queue()
    async with composer(database, sandbox, concurrency=1) as (instance, store):
        busy = asyncio.create_task(
            run_and_finish(
                instance, job(100, "lofi fault:slow:0.3"), StartOrder(starts, "first", queued)
            )
        )
        cancelled_job = job(101, "jazz")
        waiting = asyncio.create_task(
            run_and_finish(instance, cancelled_job, StartOrder(starts, "cancelled", queued))
        )
        assert await asyncio.wait_for(queued.get(), 10) == "cancelled"
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.wait_for(busy, 10)
        # The next job still gets the only slot.
        await asyncio.wait_for(
            run_and_finish(instance, job(102, "house"), StartOrder(starts, "last", queued)), 10
        )
        record = await store.get(cancelled_job.id)
    assert starts == ["first", "last"]
    assert record is not None and (record.state, record.error) == ("failed", "abandoned")


async def test_prune_forgets_only_settled_history(database: Database) -> None:
    quotas = QuotaLedger(database)
    store = JobStore(database, owner="p", lease_seconds=30)
    old = await quotas.reserve(G, 100, [], 3, now=10.0)
    live = await quotas.reserve(G, 101, [], 3, now=10.0)
    await quotas.commit(old.id)
    for job_id, reservation in (("a" * 32, old), ("b" * 32, live)):
        await store.enqueue(
            job_id=job_id,
            guild_id=G,
            user_id=100,
            channel_id=5,
            prompt="p",
            length_s=3,
            instrumental=False,
            request="{}",
            output_format="mp3_44100_64",
            reservation_id=reservation.id,
        )
    await store.finish("a" * 32, delivered=True)
    assert await store.prune(before=1e12) == 1
    assert await store.get("a" * 32) is None
    assert await store.get("b" * 32) is not None, "a queued job is kept"
    assert await quotas.commit(live.id), "an open reservation is kept"
