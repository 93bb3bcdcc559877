"""What a jam track keeps and what a broken one still gives: the stream's song id (so Extend
and Redo work under it, as under any track), and a cut stream's audio played to its last
frame before the member is told and refunded."""

from __future__ import annotations

from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, finished
from tests.e2e.test_jam import compose_in_jam, start_jam
from tests.e2e.test_plans import tracks_used
from tests.fakes.discord_server import ALICE, FakeDiscord
from tests.fakes.voice_server import VoiceServer


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
