"""Commands registered without a manual step: synced at start only when their definitions
changed since the last registration (a hash in the database), and an invite URL in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.app import MusicBot
from bot.store.schema import app_commands
from tests.fakes.discord_server import APP_ID, FakeDiscord

# Send Messages, Embed Links, Attach Files, Read Message History, View Channel, Connect, Speak.
PERMISSIONS = 3263488


def puts(fake: FakeDiscord) -> int:
    return len(fake.sent("PUT", r"/applications/\d+/commands$"))


async def test_commands_are_registered_once_and_again_only_when_they_change(
    start_bot: object, discord_fake: FakeDiscord, workdir: Path
) -> None:
    first: MusicBot = await start_bot()  # type: ignore[operator]
    assert puts(discord_fake) == 1
    names = sorted(c["name"] for c in discord_fake.commands["global"])
    assert names == ["jam", "music", "quota"]
    await first.close()

    second: MusicBot = await start_bot()  # type: ignore[operator]
    assert puts(discord_fake) == 1, "unchanged definitions: no call at all"

    # As if the bot were upgraded: what was registered last differs from what it has now.
    await second.services.database.write(
        lambda connection: connection.execute(update(app_commands).values(digest="old"))
    )
    await second.close()
    await start_bot()  # type: ignore[operator]
    assert puts(discord_fake) == 2


async def test_the_start_up_log_gives_the_invite_url_with_the_exact_permissions(
    start_bot: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot"):
        await start_bot()  # type: ignore[operator]
    (line,) = [r.getMessage() for r in caplog.records if "oauth2/authorize" in r.getMessage()]
    assert f"client_id={APP_ID}" in line
    assert f"permissions={PERMISSIONS}" in line
    assert "applications.commands" in line
