"""QuotaLedger on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Database
from bot.store.audit import AuditLog
from bot.store.quotas import Budgets, QuotaDefaults, QuotaLedger, QuotaRefused
from tests.databases import open_database

G, U, OTHER = 10, 20, 21
DJ, VIP, EVERYONE = 30, 31, 10


DAY = 24 * 3600


def ledger(database: Database, **defaults: int) -> QuotaLedger:
    return QuotaLedger(database, QuotaDefaults(**defaults))


def budgeted(
    database: Database, *, bot: int | None = None, guild: int | None = None
) -> QuotaLedger:
    """Members' own quotas out of the way: only the budgets can refuse."""
    return QuotaLedger(
        database,
        QuotaDefaults(tracks=1000, seconds=100_000),
        budgets=Budgets(bot_seconds_per_day=bot, guild_seconds_per_day=guild),
    )


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


# -- budgets no server can exceed (issue 17) ------------------------------------------------------


async def test_the_bot_budget_refuses_across_guilds_even_exempt_members(database: Database) -> None:
    quotas = budgeted(database, bot=100)
    await quotas.set_policy(3, "role", VIP, actor_id=1, exempt=True)
    await quotas.reserve(1, U, [], 60, now=1_000.0)
    await quotas.reserve(2, U, [], 30, now=2_000.0)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(3, U, [VIP], 20, now=3_000.0)
    assert refused.value.reason == "bot_budget"
    assert refused.value.status.limits.exempt, "not the member's own quota"
    # 60 s must leave the window for 20 more to fit.
    assert refused.value.available_at == 1_000.0 + DAY
    assert refused.value.budget is not None
    assert (refused.value.budget.bot.used, refused.value.budget.bot.limit) == (90, 100)
    await quotas.reserve(3, U, [VIP], 10, now=3_000.0)  # exactly the last 10 s
    with pytest.raises(QuotaRefused) as full:
        await quotas.reserve(4, U, [], 1, now=3_000.0)
    assert full.value.reason == "bot_budget"


async def test_a_track_longer_than_a_budget_can_never_fit(database: Database) -> None:
    quotas = budgeted(database, bot=100, guild=50)
    with pytest.raises(QuotaRefused) as bot:
        await QuotaLedger(
            database,
            QuotaDefaults(tracks=1000, seconds=100_000),
            budgets=Budgets(bot_seconds_per_day=100),
        ).reserve(G, U, [], 101)
    assert bot.value.reason == "bot_budget_too_long"
    assert bot.value.available_at is None
    with pytest.raises(QuotaRefused) as guild:
        await quotas.reserve(G, U, [], 51)
    assert guild.value.reason == "guild_budget_too_long"
    assert guild.value.available_at is None
    await quotas.reserve(G, U, [], 50)


async def test_the_guild_ceiling_refuses_an_exempt_member_whatever_moderators_set(
    database: Database,
) -> None:
    quotas = budgeted(database, guild=60)
    await quotas.set_policy(G, "guild", 0, actor_id=1, tracks=10_000, seconds=10_000_000)
    await quotas.set_policy(G, "role", DJ, actor_id=1, exempt=True)
    await quotas.reserve(G, U, [DJ], 50, now=1_000.0)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G, OTHER, [DJ], 20, now=2_000.0)
    assert refused.value.reason == "guild_budget"
    assert refused.value.available_at == 1_000.0 + DAY
    assert refused.value.budget is not None
    assert (refused.value.budget.guild.used, refused.value.budget.guild.limit) == (50, 60)
    # Another server is not affected by this one's use.
    await quotas.reserve(G + 1, OTHER, [], 60, now=2_000.0)


async def test_a_refund_frees_the_budget_and_a_commit_keeps_it(database: Database) -> None:
    quotas = budgeted(database, bot=50, guild=50)
    first = await quotas.reserve(G, U, [], 50)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G + 1, OTHER, [], 10)
    assert refused.value.reason == "bot_budget", "a reservation in flight counts"
    assert await quotas.refund(first.id)
    second = await quotas.reserve(G, OTHER, [], 50)
    assert await quotas.commit(second.id)
    for guild in (G, G + 1):
        with pytest.raises(QuotaRefused):
            await quotas.reserve(guild, U, [], 10)


async def test_a_moderator_reset_does_not_free_the_guild_ceiling(database: Database) -> None:
    quotas = budgeted(database, guild=50)
    used = await quotas.reserve(G, U, [], 50)
    await quotas.commit(used.id)
    assert await quotas.reset(G, U, actor_id=99) == 1
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G, U, [], 10)
    assert refused.value.reason == "guild_budget", "the track was delivered and billed"


async def test_the_rolling_window_frees_the_budgets(database: Database) -> None:
    quotas = budgeted(database, bot=60, guild=40)
    await quotas.reserve(G, U, [], 40, now=1_000.0)
    await quotas.reserve(G + 1, U, [], 20, now=2_000.0)
    with pytest.raises(QuotaRefused) as refused:
        await quotas.reserve(G + 2, U, [], 30, now=3_000.0)
    assert (refused.value.reason, refused.value.available_at) == ("bot_budget", 1_000.0 + DAY)
    with pytest.raises(QuotaRefused) as guild:
        await quotas.reserve(G, OTHER, [], 1, now=3_000.0)
    assert (guild.value.reason, guild.value.available_at) == ("guild_budget", 1_000.0 + DAY)
    with pytest.raises(QuotaRefused):
        await quotas.reserve(G + 2, U, [], 30, now=1_000.0 + DAY - 1)
    await quotas.reserve(G + 2, U, [], 30, now=1_000.0 + DAY)
    await quotas.reserve(G, OTHER, [], 10, now=1_000.0 + DAY)  # the server's 40 s left too


async def test_budget_status_reports_use_ceilings_and_when_they_free(database: Database) -> None:
    quotas = budgeted(database, bot=500, guild=100)
    await quotas.reserve(G, U, [], 30, now=1_000.0)
    kept = await quotas.reserve(G, OTHER, [], 20, now=2_000.0)
    await quotas.commit(kept.id)
    await quotas.refund((await quotas.reserve(G, U, [], 40, now=2_500.0)).id)
    await quotas.reserve(G + 1, U, [], 70, now=3_000.0)
    status = await quotas.budget_status(G, now=4_000.0)
    assert (status.guild.used, status.guild.limit, status.guild.left) == (50, 100, 50)
    assert status.guild.next_release_at == 1_000.0 + DAY
    assert (status.bot.used, status.bot.limit, status.bot.left) == (120, 500, 380)
    assert status.bot.next_release_at == 1_000.0 + DAY
    later = await quotas.budget_status(G, now=2_500.0 + DAY)
    assert (later.guild.used, later.bot.used) == (0, 70)
    assert later.guild.next_release_at is None
    assert later.bot.next_release_at == 3_000.0 + DAY
    unlimited = await ledger(database).budget_status(G, now=4_000.0)
    assert (unlimited.guild.limit, unlimited.bot.limit) == (None, None)
    assert (unlimited.guild.used, unlimited.bot.used, unlimited.bot.left) == (50, 120, None)


async def test_concurrent_reservations_never_pass_the_last_seconds_of_a_budget(
    db_url: str,
) -> None:
    """Four "processes" (each its own engine and connections) race 40 reservations from 40
    servers for a bot budget with room for exactly 5, then 30 members of one server for a
    ceiling with room for exactly 4 (each member's own account lock does not serialise them)."""
    async with (
        open_database(db_url) as a,
        open_database(db_url) as b,
        open_database(db_url) as c,
        open_database(db_url) as d,
    ):
        databases = [a, b, c, d]
        bot = [budgeted(db, bot=50) for db in databases]
        guild = [budgeted(db, guild=40) for db in databases]

        async def attempt(quotas: QuotaLedger, guild_id: int, user_id: int) -> bool:
            try:
                await quotas.reserve(guild_id, user_id, [], 10)
            except QuotaRefused as refused:
                assert refused.reason in ("bot_budget", "guild_budget")
                return False
            return True

        results = await asyncio.gather(*(attempt(bot[i % 4], 1_000 + i, U) for i in range(40)))
        assert results.count(True) == 5
        assert (await bot[0].budget_status(1_000)).bot.used == 50

        results = await asyncio.gather(*(attempt(guild[i % 4], G, 5_000 + i) for i in range(30)))
        assert results.count(True) == 4
        assert (await guild[0].budget_status(G)).guild.used == 40


async def test_metrics_show_the_bots_budget_use(database: Database) -> None:
    from prometheus_client import generate_latest

    from bot import metrics

    quotas = budgeted(database, bot=600)
    await quotas.reserve(G, U, [], 45)
    await quotas.refund((await quotas.reserve(G + 1, U, [], 30)).id)
    await metrics.refresh_budget(quotas)
    scraped = generate_latest(metrics.registry).decode()
    assert "music_budget_seconds_used 45.0" in scraped
    assert "music_budget_seconds_limit 600.0" in scraped
    await metrics.refresh_budget(ledger(database))
    assert "music_budget_seconds_limit +Inf" in generate_latest(metrics.registry).decode()
