"""QuotaLedger on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Database
from bot.store.audit import AuditLog
from bot.store.quotas import QuotaDefaults, QuotaLedger, QuotaRefused

G, U, OTHER = 10, 20, 21
DJ, VIP, EVERYONE = 30, 31, 10


def ledger(database: Database, **defaults: int) -> QuotaLedger:
    return QuotaLedger(database, QuotaDefaults(**defaults))


async def test_fifty_concurrent_reservations_with_room_for_five(database: Database) -> None:
    quotas = ledger(database, tracks=5, seconds=10_000)

    async def attempt() -> bool:
        try:
            await quotas.reserve(G, U, [EVERYONE], 10)
        except QuotaRefused:
            return False
        return True

    results = await asyncio.gather(*(attempt() for _ in range(50)))
    assert results.count(True) == 5
    status = await quotas.status(G, U, [EVERYONE])
    assert (status.tracks_used, status.tracks_left) == (5, 0)


async def test_refund_gives_the_track_back_and_commit_keeps_it(database: Database) -> None:
    quotas = ledger(database, tracks=1, seconds=100)
    first = await quotas.reserve(G, U, [], 30)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G, U, [], 30)
    assert refused.value.reason == "tracks"
    assert await quotas.refund(first.id)
    assert not await quotas.commit(first.id), "a refunded reservation cannot be committed"
    second = await quotas.reserve(G, U, [], 30)
    assert await quotas.commit(second.id)
    assert not await quotas.refund(second.id), "a delivered track is never refunded"
    assert (await quotas.status(G, U, [])).tracks_used == 1


async def test_seconds_limit_and_reset_time(database: Database) -> None:
    quotas = ledger(database, tracks=10, seconds=60, window_hours=24)
    await quotas.reserve(G, U, [], 40, now=1_000.0)
    await quotas.reserve(G, U, [], 15, now=2_000.0)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G, U, [], 30, now=3_000.0)
    assert refused.value.reason == "seconds"
    assert refused.value.available_at == 1_000.0 + 24 * 3600
    with pytest.raises(QuotaRefused) as too_long:
        await quotas.reserve(G, OTHER, [], 61, now=3_000.0)
    assert too_long.value.reason == "too_long"
    # Outside the rolling window the old uses no longer count.
    await quotas.reserve(G, U, [], 45, now=1_000.0 + 24 * 3600 + 1)


async def test_overrides_most_generous_role_user_and_exempt(database: Database) -> None:
    quotas = ledger(database, tracks=1, seconds=600)
    await quotas.set_policy(G, "guild", 0, actor_id=1, tracks=2)
    await quotas.set_policy(G, "role", DJ, actor_id=1, tracks=4)
    await quotas.set_policy(G, "role", VIP, actor_id=1, tracks=7, seconds=1200)
    assert (await quotas.status(G, U, [EVERYONE])).limits.tracks == 2
    both = (await quotas.status(G, U, [DJ, VIP])).limits
    assert (both.tracks, both.seconds) == (7, 1200)
    await quotas.set_policy(G, "user", U, actor_id=1, tracks=1)
    assert (await quotas.status(G, U, [DJ, VIP])).limits.tracks == 1
    await quotas.set_policy(G, "role", DJ, actor_id=1, exempt=True)
    assert (await quotas.status(G, U, [DJ])).limits.exempt
    assert await quotas.clear_policy(G, "user", U, actor_id=1)
    assert (await quotas.status(G, U, [VIP])).limits.tracks == 7


async def test_block_reset_and_audit(database: Database) -> None:
    quotas = ledger(database, tracks=1, seconds=600)
    used = await quotas.reserve(G, U, [], 10)
    await quotas.commit(used.id)
    assert await quotas.reset(G, U, actor_id=99) == 1
    await quotas.reserve(G, U, [], 10)
    await quotas.block(G, OTHER, actor_id=99, reason="spam")
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G, OTHER, [], 10)
    assert refused.value.reason == "blocked"
    assert refused.value.status.blocked_reason == "spam"
    assert await quotas.unblock(G, OTHER, actor_id=99)
    await quotas.reserve(G, OTHER, [], 10)
    actions = [e.action for e in await AuditLog(database).recent(G)]
    assert actions == ["quota.unblock", "quota.block", "quota.reset"]
