"""Stems under every track, end to end through the fake Discord and the sandbox."""

from __future__ import annotations

import pytest

from bot.app import MusicBot
from tests.audio import dominant_hz, mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.test_compose import attachments_of, ephemeral_reply, finished
from tests.e2e.test_plans import tracks_used
from tests.fakes.discord_server import ALICE, BOB, MOD, FakeDiscord, Interaction


async def stems_message(fake: FakeDiscord, interaction: Interaction) -> dict[str, object]:
    """The public message the stems were posted in, once it holds them."""

    def done() -> dict[str, object] | None:
        for message in reversed(list(fake.messages.values())):
            meta = message.get("interaction_metadata") or {}
            if meta.get("id") == str(interaction.id) and message["attachments"]:
                return message
        return None

    found: dict[str, object] = await fake.wait_for(done, timeout=20)
    return found


async def test_stems_of_a_track_once_per_choice_for_its_requester_or_a_moderator(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    composed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "rock piano", "length": 5}
    )
    track = await finished(discord_fake, composed)
    (song,) = attachments_of(discord_fake, track)
    assert await tracks_used(bot, ALICE) == 1
    button = discord_fake.custom_id(track, "music:track:stems:")

    stranger = await discord_fake.click(BOB, track, button)
    refusal = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, stranger))
    assert "Only the member" in refusal.payload["data"]["content"]

    press = await discord_fake.click(ALICE, track, button)
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    assert picker["flags"] & 64, "the choice is private"
    menu = discord_fake.custom_id(picker, "music:track:stemspick:")
    chosen = await discord_fake.choose(ALICE, picker, menu, ["2"])
    posted = await stems_message(discord_fake, chosen)
    names = [a["filename"] for a in posted["attachments"]]  # type: ignore[index]
    assert names == ["rock-piano-vocals.mp3", "rock-piano-accompaniment.mp3"]
    vocals, accompaniment = attachments_of(discord_fake, posted)
    assert mp3_seconds(vocals) == pytest.approx(5.0, abs=0.2)
    assert dominant_hz(vocals) > 250 and dominant_hz(accompaniment) < 130
    assert await tracks_used(bot, ALICE) == 2, "charged like a track of the same length"
    (separation,) = [r for r in sandbox.sandbox.requests if r.path.endswith("stem-separation")]
    assert separation.query["output_format"] == "mp3_44100_128"
    del song

    again = await discord_fake.choose(ALICE, picker, menu, ["2"])
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, again))
    assert "already" in reply.payload["data"]["content"]
    assert await tracks_used(bot, ALICE) == 2

    # A moderator may take six stems of Alice's track; charged to the moderator.
    press = await discord_fake.click(MOD, track, button)
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    chosen = await discord_fake.choose(MOD, picker, menu, ["6"])
    posted = await stems_message(discord_fake, chosen)
    assert len(posted["attachments"]) == 6  # type: ignore[arg-type]
    assert await tracks_used(bot, MOD) == 1 and await tracks_used(bot, ALICE) == 2


async def test_stems_fit_the_upload_limit(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    # 120 s at 128 kbps is ~1.9 MB a stem: with a 1.5 MiB limit each stem must be smaller.
    composed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "rock piano", "length": 120}
    )
    track = await finished(discord_fake, composed)
    discord_fake.attachment_size_limit = 1536 * 1024
    press = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:stems:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    chosen = await discord_fake.choose(
        ALICE, picker, discord_fake.custom_id(picker, "music:track:stemspick:"), ["2"]
    )
    posted = await stems_message(discord_fake, chosen)
    for stem in attachments_of(discord_fake, posted):
        assert len(stem) <= 1536 * 1024
        assert mp3_seconds(stem) == pytest.approx(120.0, abs=0.5)


async def test_stems_of_a_track_whose_audio_is_no_longer_kept_are_refused_up_front(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    composed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "rock piano", "length": 5}
    )
    track = await finished(discord_fake, composed)
    button = discord_fake.custom_id(track, "music:track:stems:")
    press = await discord_fake.click(ALICE, track, button)
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    menu = discord_fake.custom_id(picker, "music:track:stemspick:")
    # Pruned (or delivered before audio was kept) while the choice was open.
    kept = bot.services.track_audio
    (path,) = kept.directory.glob("*.mp3")
    path.unlink()

    chosen = await discord_fake.choose(ALICE, picker, menu, ["2"])
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, chosen))
    assert "no longer kept" in reply.payload["data"]["content"]
    again = await discord_fake.click(ALICE, track, button)
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, again))
    assert "no longer kept" in reply.payload["data"]["content"], "refused before the choice"
    assert await tracks_used(bot, ALICE) == 1, "nothing reserved, nothing charged"
    assert not [r for r in sandbox.sandbox.requests if r.path.endswith("stem-separation")]
