"""Quotas through the local Discord: refusals are private, moderators are checked and logged."""

from __future__ import annotations

import pytest

from bot.app import MusicBot
from bot.store.audit import AuditLog
from tests.conftest import RunningSandbox
from tests.e2e.test_compose import ephemeral_reply, finished
from tests.fakes.discord_server import ALICE, BOB, GUILD_ID, JAM_CHANNEL, MOD, FakeDiscord


async def test_over_quota_is_refused_privately_without_an_api_call(
    start_bot: object, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await start_bot(default_quota_tracks=1)  # type: ignore[operator]
    first = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    assert (await finished(discord_fake, first))["attachments"]
    calls = len(sandbox.sandbox.requests)

    second = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "jazz", "length": 3})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, second))
    content = reply.payload["data"]["content"]
    assert "used all 1 tracks" in content
    assert "<t:" in content and ":R>" in content, "the reset time, shown in the member's zone"
    assert len(sandbox.sandbox.requests) == calls


async def test_failed_compose_costs_nothing(
    start_bot: object, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await start_bot(default_quota_tracks=1)  # type: ignore[operator]
    failed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi fault:server_error", "length": 3}
    )
    assert "had an error" in (await finished(discord_fake, failed))["content"]
    ok = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    assert (await finished(discord_fake, ok))["attachments"]


async def test_quota_me_is_private(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    interaction = await discord_fake.slash(ALICE, "quota", "me", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert "**0** of **5** tracks" in reply.payload["data"]["content"]


@pytest.mark.parametrize("sub", ["set", "reset", "block"])
async def test_non_moderators_are_refused(
    bot: MusicBot, discord_fake: FakeDiscord, sub: str
) -> None:
    options: dict[str, object] = {"tracks": 0} if sub == "set" else {"user": ALICE}
    interaction = await discord_fake.slash(BOB, "quota", sub, options)
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert "Manage Server" in reply.payload["data"]["content"]
    assert await AuditLog(bot.services.database).recent(GUILD_ID) == []


async def test_moderator_change_applies_to_the_next_compose_and_is_audited(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    channel = await discord_fake.slash(MOD, "quota", "set", {"user": ALICE, "seconds": 4})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, channel))
    assert "Quota for" in reply.payload["data"]["content"]

    refused = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 5})
    content = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    assert "allows 0:04 of music" in content.payload["data"]["content"]
    allowed = await discord_fake.slash(BOB, "music", "compose", {"prompt": "lofi", "length": 5})
    assert (await finished(discord_fake, allowed))["attachments"]

    entries = await AuditLog(bot.services.database).recent(GUILD_ID)
    assert [(e.action, e.actor_id, e.target) for e in entries] == [
        ("quota.set", MOD.id, f"user:{ALICE.id}")
    ]
    assert entries[0].details == {"seconds": 4}


async def test_block_stops_composing_and_posts_to_the_log_channel(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    log_set = await discord_fake.slash(MOD, "quota", "log", {"channel": JAM_CHANNEL})
    await discord_fake.wait_for(lambda: discord_fake.sent("POST", r"/channels/\d+/messages$"))
    block = await discord_fake.slash(
        MOD, "quota", "block", {"user": ALICE, "reason": "spamming @everyone"}
    )
    await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, block))
    posted = await discord_fake.wait_for(
        lambda: discord_fake.sent("POST", r"/channels/\d+/messages$")[1:]
    )
    assert "Blocked <@" in posted[0].payload["content"]
    assert "spamming @\u200beveryone" in posted[0].payload["content"]
    assert posted[0].payload["allowed_mentions"] == {"parse": []}
    assert log_set.acknowledged

    refused = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 5})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    assert "blocked you from composing" in reply.payload["data"]["content"]
    assert not sandbox.sandbox.requests


async def test_show_speaks_about_the_member(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    block = await discord_fake.slash(MOD, "quota", "block", {"user": BOB})
    await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, block))
    show = await discord_fake.slash(MOD, "quota", "show", {"user": BOB})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, show))
    assert "has blocked them from composing" in reply.payload["data"]["content"]
    mine = await discord_fake.slash(ALICE, "quota", "me", {})
    own = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, mine))
    assert "you have used" in own.payload["data"]["content"]
