"""ALLOWED_GUILDS: the owner keeps the bot to chosen servers; elsewhere it says why and leaves."""

from __future__ import annotations

from tests.e2e.test_compose import ephemeral_reply
from tests.fakes.discord_server import ALICE, CHANNEL_ID, GUILD_ID, FakeDiscord


async def test_a_server_not_on_the_allow_list_is_told_why_and_left(
    start_bot: object, discord_fake: FakeDiscord
) -> None:
    await start_bot(allowed_guilds=str(GUILD_ID + 1))  # type: ignore[operator]
    await discord_fake.wait_for(lambda: discord_fake.left_guilds)
    assert discord_fake.left_guilds == [GUILD_ID]
    (said,) = [
        r
        for r in discord_fake.sent("POST", rf"/channels/{CHANNEL_ID}/messages$")
        if "only works in the servers its owner chose" in r.payload.get("content", "")
    ]
    assert said.payload["allowed_mentions"] == {"parse": []} or not said.payload[
        "allowed_mentions"
    ].get("parse")


async def test_a_listed_server_keeps_the_bot(start_bot: object, discord_fake: FakeDiscord) -> None:
    await start_bot(allowed_guilds=f"{GUILD_ID + 1}, {GUILD_ID}")  # type: ignore[operator]
    interaction = await discord_fake.slash(ALICE, "quota", "me", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert "tracks" in reply.payload["data"]["content"]
    assert discord_fake.left_guilds == []


async def test_an_interaction_from_elsewhere_is_refused_before_anything(
    start_bot: object, discord_fake: FakeDiscord
) -> None:
    discord_fake.leave_denied = True
    await start_bot(allowed_guilds=str(GUILD_ID + 1))  # type: ignore[operator]
    interaction = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi"})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert "only works in the servers its owner chose" in reply.payload["data"]["content"]
