"""Deleting a track: its requester (a button, or /music forget) or a moderator; the message, the
stored rows and the buttons go, and a moderator's deletion is in the audit log."""

from __future__ import annotations

from typing import Any

from bot.app import MusicBot
from bot.store.audit import AuditLog
from tests.e2e.test_compose import ephemeral_reply, finished
from tests.fakes.discord_server import ALICE, BOB, GUILD_ID, MOD, FakeDiscord

DELETE = "music:track:delete:"


async def compose(fake: FakeDiscord, prompt: str = "lofi") -> dict[str, Any]:
    interaction = await fake.slash(ALICE, "music", "compose", {"prompt": prompt, "length": 3})
    message = await finished(fake, interaction)
    assert message["attachments"]
    return message


def track_id(fake: FakeDiscord, message: dict[str, Any]) -> str:
    return fake.custom_id(message, DELETE).removeprefix(DELETE)


async def test_the_requester_deletes_their_track_with_its_button(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    message = await compose(discord_fake)
    track = track_id(discord_fake, message)
    press = await discord_fake.click(ALICE, message, discord_fake.custom_id(message, DELETE))
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, press))
    assert "deleted" in reply.payload["data"]["content"]
    await discord_fake.wait_for(lambda: int(message["id"]) not in discord_fake.messages)
    assert await bot.services.tracks.get(track) is None
    assert await bot.services.jobs.get(track) is None
    assert await AuditLog(bot.services.database).recent(GUILD_ID) == []


async def test_someone_else_cannot_delete_a_track(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    message = await compose(discord_fake)
    press = await discord_fake.click(BOB, message, discord_fake.custom_id(message, DELETE))
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, press))
    assert "Only the member who asked" in reply.payload["data"]["content"]
    assert int(message["id"]) in discord_fake.messages
    assert await bot.services.tracks.get(track_id(discord_fake, message)) is not None


async def test_a_moderators_deletion_is_audited(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    message = await compose(discord_fake)
    press = await discord_fake.click(MOD, message, discord_fake.custom_id(message, DELETE))
    await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, press))
    await discord_fake.wait_for(lambda: int(message["id"]) not in discord_fake.messages)
    (entry,) = await AuditLog(bot.services.database).recent(GUILD_ID)
    assert entry.action == "track_deleted"
    assert entry.actor_id == MOD.id and entry.target == f"user:{ALICE.id}"


async def test_music_forget_offers_and_deletes_the_members_tracks(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    message = await compose(discord_fake, "ambient bells")
    track = track_id(discord_fake, message)
    ask = await discord_fake.slash(ALICE, "music", "forget", {"track": "bells"}, focused="track")
    await discord_fake.wait_for(lambda: ask.choices is not None)
    assert ask.choices is not None and [c["value"] for c in ask.choices] == [track]
    others = await discord_fake.slash(BOB, "music", "forget", {"track": ""}, focused="track")
    await discord_fake.wait_for(lambda: others.choices is not None)
    assert others.choices == [], "only the member's own tracks"

    forget = await discord_fake.slash(ALICE, "music", "forget", {"track": track})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, forget))
    assert "deleted" in reply.payload["data"]["content"]
    await discord_fake.wait_for(lambda: int(message["id"]) not in discord_fake.messages)
    assert await bot.services.tracks.get(track) is None

    again = await discord_fake.slash(ALICE, "music", "forget", {"track": track})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, again))
    assert (
        "too old" in reply.payload["data"]["content"]
        or "no longer" in reply.payload["data"]["content"]
    )
