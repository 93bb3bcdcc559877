"""The owner's budgets through the local Discord: no server's moderators can spend past them."""

from __future__ import annotations

import httpx

from bot.app import MusicBot
from tests.conftest import RunningSandbox
from tests.e2e.test_compose import ephemeral_reply, finished
from tests.fakes.discord_server import ALICE, BOB, MOD, FakeDiscord


async def test_a_server_ceiling_holds_for_exempt_members_and_says_it_is_not_their_quota(
    start_bot: object, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await start_bot(guild_max_seconds_per_day=12)  # type: ignore[operator]
    exempt = await discord_fake.slash(MOD, "quota", "set", {"user": ALICE, "exempt": True})
    await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, exempt))
    first = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 8})
    assert (await finished(discord_fake, first))["attachments"]
    calls = len(sandbox.sandbox.requests)

    second = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "jazz", "length": 5})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, second))
    content = reply.payload["data"]["content"]
    assert "not your own quota" in content
    assert "server" in content
    assert "<t:" in content and ":R>" in content, "when it frees up"
    assert reply.payload["data"]["flags"] & 64, "private"
    assert len(sandbox.sandbox.requests) == calls, "nothing was spent"

    # A shorter track still fits what is left.
    fits = await discord_fake.slash(BOB, "music", "compose", {"prompt": "ambient", "length": 3})
    assert (await finished(discord_fake, fits))["attachments"]


async def test_the_bots_budget_refuses_a_track_that_can_never_fit(
    start_bot: object, discord_fake: FakeDiscord
) -> None:
    await start_bot(music_budget_seconds_per_day=5)  # type: ignore[operator]
    refused = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 8})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    content = reply.payload["data"]["content"]
    assert "not your own quota" in content and "0:05" in content


async def test_quota_server_shows_moderators_the_servers_use_against_its_ceiling(
    start_bot: object, discord_fake: FakeDiscord
) -> None:
    await start_bot(guild_max_seconds_per_day=600, music_budget_seconds_per_day=3600)  # type: ignore[operator]
    done = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 4})
    assert (await finished(discord_fake, done))["attachments"]

    shown = await discord_fake.slash(MOD, "quota", "server", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, shown))
    content = reply.payload["data"]["content"]
    assert "0:04" in content and "10:00" in content, content

    refused = await discord_fake.slash(BOB, "quota", "server", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    assert "Manage Server" in reply.payload["data"]["content"]


async def test_metrics_expose_the_budgets_use(start_bot: object, discord_fake: FakeDiscord) -> None:
    bot: MusicBot = await start_bot(  # type: ignore[operator]
        metrics_port=0, music_budget_seconds_per_day=100
    )
    done = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    assert (await finished(discord_fake, done))["attachments"]
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{bot.health.port}/metrics")
    assert "music_budget_seconds_used 3.0" in response.text
    assert "music_budget_seconds_limit 100.0" in response.text
