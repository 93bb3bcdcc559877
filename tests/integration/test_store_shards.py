"""What processes sharing one database agree on: who answers an interaction, when a shard may
identify, and who took over a dead process's job. On real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from bot.store import Database
from bot.store.jobs import JobStore
from bot.store.shards import IdentifySlots, InteractionClaims


async def test_an_interaction_is_claimed_by_one_process_only(database: Database) -> None:
    first, second = InteractionClaims(database, owner="a"), InteractionClaims(database, owner="b")
    results = await asyncio.gather(
        *(claims.claim(1234567890123456789) for claims in (first, second, first, second))
    )
    assert sorted(results) == [False, False, False, True]
    assert await first.claim(1234567890123456790), "another interaction is free"


async def test_old_claims_are_pruned(database: Database) -> None:
    claims = InteractionClaims(database, owner="a")
    assert await claims.claim(1)
    assert await claims.prune(time.time() - 60) == 0, "a fresh claim stays"
    assert await claims.prune(time.time() + 1) == 1
    assert await claims.claim(1), "pruned: claimable again (Discord never resends it)"


async def test_one_identify_per_bucket_per_interval(database: Database) -> None:
    first, second = IdentifySlots(database), IdentifySlots(database)
    now = 1000.0
    waits = await asyncio.gather(
        first.claim(bucket=0, interval=5.0, now=now), second.claim(bucket=0, interval=5.0, now=now)
    )
    assert sorted(waits) == [0.0, 5.0], "the second identify in a bucket waits its turn"
    assert await second.claim(bucket=1, interval=5.0, now=now) == 0.0, "buckets are independent"
    assert await first.claim(bucket=0, interval=5.0, now=now + 2) == 3.0
    assert await first.claim(bucket=0, interval=5.0, now=now + 5) == 0.0


async def enqueue(store: JobStore, job_id: str, **extra: object) -> None:
    await store.enqueue(
        job_id=job_id,
        guild_id=1,
        user_id=2,
        channel_id=3,
        prompt="p",
        length_s=3,
        instrumental=False,
        request="{}",
        output_format="mp3_44100_64",
        reservation_id=None,
        **extra,  # type: ignore[arg-type]
    )


async def test_a_taken_over_job_says_whose_it_was_and_keeps_its_reply_token(
    database: Database,
) -> None:
    earlier_run = JobStore(database, owner="inst1:host:1:aaa", lease_seconds=30)
    # A lease already over: that process stopped renewing it.
    other_process = JobStore(database, owner="inst2:host:2:bbb", lease_seconds=-1)
    await enqueue(earlier_run, "a" * 32, interaction_token="tok-a", application_id=77)
    await enqueue(other_process, "b" * 32, interaction_token="tok-b", application_id=77)

    restarted = JobStore(
        database, owner="inst1:host:3:ccc", lease_seconds=30, predecessors="inst1:"
    )
    taken = {record.id: record for record in await restarted.take_stale()}
    assert taken["a" * 32].restarted and not taken["b" * 32].restarted
    assert taken["b" * 32].interaction_token == "tok-b"
    assert taken["b" * 32].application_id == 77
    assert "tok-b" not in repr(taken["b" * 32]), "a reply token is never logged"
