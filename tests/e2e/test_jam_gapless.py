"""No dead air between tracks: while a track plays, the next one's stream starts, so the API's
time to first byte is spent while the current track still plays. Same fair order, and a
prefetched track is posted or refunded like any other, never lost or charged twice."""

from __future__ import annotations

import numpy as np

from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, finished
from tests.e2e.test_jam import compose_in_jam, start_jam, streams
from tests.e2e.test_plans import tracks_used
from tests.fakes.discord_server import ALICE, BOB, FakeDiscord
from tests.fakes.voice_server import VoiceServer


def silences(voice: VoiceServer) -> list[float]:
    """The longest waits between consecutive frames with sound, in seconds, longest first."""
    arrivals = np.array([p.at for p in voice.audio_packets()])
    return sorted((np.diff(arrivals) - 0.02).tolist(), reverse=True)


async def test_the_next_track_starts_within_250_ms_with_a_2_s_first_byte(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    sandbox.sandbox.first_byte_delay = 2.0  # every stream: two seconds before its first byte
    await start_jam(discord_fake, voice_server)
    first = await compose_in_jam(discord_fake, ALICE, "lofi fault:pace:3", 4)
    second = await compose_in_jam(discord_fake, BOB, "jazz", 3)
    for compose in (first, second):
        assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert streams(sandbox) == ["lofi fault:pace:3", "jazz"]
    # Seven seconds heard, in two pieces: the silence between them is well under 250 ms.
    assert len(voice_server.audio_packets()) * 0.02 >= 6.9
    longest = silences(voice_server)[0]
    assert longest < 0.25, f"{longest * 1000:.0f} ms of silence between the tracks"
    assert await tracks_used(bot, ALICE) == 1 and await tracks_used(bot, BOB) == 1


async def test_a_prefetched_track_of_a_jam_that_ends_is_still_posted_and_charged_once(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    playing = await compose_in_jam(discord_fake, ALICE, "lofi fault:pace:6", 6)
    ahead = await compose_in_jam(discord_fake, BOB, "jazz fault:pace:4", 4)
    # Bob's stream starts while Alice's track still streams (and plays); then the jam stops.
    await discord_fake.wait_for(lambda: len(streams(sandbox)) == 2)
    alice, bob = (r for r in sandbox.sandbox.requests if r.path == "/v1/music/stream")
    assert alice.finished is None or bob.started < alice.finished
    await discord_fake.slash(ALICE, "jam", "stop", {})
    for compose in (playing, ahead):
        assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert await tracks_used(bot, ALICE) == 1 and await tracks_used(bot, BOB) == 1
    ended = next(m for m in discord_fake.messages.values() if "has ended" in m["content"])
    assert "waiting track" not in ended["content"], "nothing was waiting: Bob's was under way"


async def test_a_prefetched_track_says_playing_only_once_it_plays(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    await start_bot()
    await start_jam(discord_fake, voice_server)
    first = await compose_in_jam(discord_fake, ALICE, "lofi fault:pace:2", 4)
    second = await compose_in_jam(discord_fake, BOB, "jazz", 3)
    await discord_fake.wait_for(lambda: len(streams(sandbox)) == 2)  # streaming ahead
    # Bob's message says "Playing" only once Alice's four seconds have played.
    await discord_fake.wait_for(
        lambda: (m := discord_fake.original(second)) and "Playing in" in m["content"]
    )
    heard = len(voice_server.audio_packets()) * 0.02
    assert heard >= 3.9, f"Bob's track said Playing {heard:.1f} s into Alice's"
    for compose in (first, second):
        assert attachments_of(discord_fake, await finished(discord_fake, compose))
