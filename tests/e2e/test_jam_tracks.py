"""What a jam track is and keeps: its pitch and length whatever channels the API sends, the
stream's song id (so Extend and Redo work under it, as under any track), and a cut stream's
audio played to its last frame before the member is told and refunded."""

from __future__ import annotations

import itertools
import logging

import pytest

from tests.audio import RATE, follow, samples
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, finished
from tests.e2e.test_jam import compose_in_jam, play_alone, start_jam
from tests.e2e.test_plans import tracks_used
from tests.fakes.discord_server import ALICE, FakeDiscord
from tests.fakes.voice_server import VoiceServer, heard_pcm


async def test_a_jam_track_keeps_its_song_id_and_offers_extend_and_redo(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    await start_bot(music_inpainting=True)
    await start_jam(discord_fake, voice_server)
    compose = await compose_in_jam(discord_fake, ALICE, "lofi piano", 3)
    message = await finished(discord_fake, compose)
    assert attachments_of(discord_fake, message)
    assert discord_fake.custom_id(message, "music:track:extend:")
    assert discord_fake.custom_id(message, "music:track:redo:")
    (stream,) = [r for r in sandbox.sandbox.requests if r.path == "/v1/music/stream"]
    assert stream.body["store_for_inpainting"] is True


async def test_a_cut_stream_plays_what_arrived_then_explains_and_refunds(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    # Half of six seconds arrives at once, then the connection drops.
    cut = await compose_in_jam(discord_fake, ALICE, "lofi fault:cut:0.5", 6)
    message = await finished(discord_fake, cut)
    assert "cut off before it finished" in message["content"]
    assert "Nothing was taken from your quota" in message["content"]
    assert await tracks_used(bot, ALICE) == 0
    # Every frame of the three seconds that arrived was played, before the member was told.
    heard = len(voice_server.audio_packets()) * 0.02
    assert heard >= 2.9, f"{heard:.2f} s of the 3 s that arrived"


@pytest.mark.parametrize("channels", [2, 1], ids=["stereo", "mono"])
async def test_a_track_is_heard_at_its_pitch_and_length_however_many_channels_it_has(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
    channels: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Songs from the API are stereo; the bot reads the channels from the stream, no setting.
    prompt = "jazz piano" + (" fault:mono" if channels == 1 else "")
    await start_bot()
    with caplog.at_level(logging.WARNING, logger="bot"):
        _, track, played = await play_alone(
            discord_fake, voice_server, sandbox, prompt, 3, channels
        )
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("bot")], (
        "a correct track is no cause for a warning"
    )
    assert len(track) == 3 * RATE, "the reference has the channels asked for"
    heard = samples(heard_pcm(played), channels=2)
    # Its pitch and pace: every quarter second of the track, one after the other (at half
    # speed and an octave down, nothing would sound alike). Very alike: the bass repeats
    # itself every 18 ms, which sounds 90 % alike a period early.
    found = follow(track[: -RATE // 50], heard, alike=0.97)
    assert all(score >= 0.97 for _, score in found), [round(s, 2) for _, s in found]
    starts = [at for at, _ in found]
    assert all(abs(b - a - RATE // 4) <= 2 for a, b in itertools.pairwise(starts)), str(starts)
    # And its length: three seconds heard, not six.
    assert len(heard) == pytest.approx(3 * RATE, abs=RATE // 10), len(heard) / RATE


async def test_a_stream_cut_mid_track_is_refunded_and_explained(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    cut = await compose_in_jam(discord_fake, ALICE, "lofi fault:cut", 4)
    message = await finished(discord_fake, cut)
    assert "cut off before it finished" in message["content"]
    assert "Nothing was taken from your quota" in message["content"]
    assert not message["attachments"]
    assert await tracks_used(bot, ALICE) == 0

    # The jam goes on with the next track.
    after = await compose_in_jam(discord_fake, ALICE, "lofi", 3)
    assert attachments_of(discord_fake, await finished(discord_fake, after))
