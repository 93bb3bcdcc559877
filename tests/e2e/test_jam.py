"""Voice jams end to end: the real bot joins a local voice server (voice gateway v8 over TLS,
UDP, aead_xchacha20_poly1305_rtpsize), and what it sends is decrypted, decoded and compared
with the track the sandbox streamed."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.audio import RATE, RUN_TRIM, follow, mp3_seconds, place_runs, samples, sounding_runs
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import (
    attachments_of,
    bar_pixels,
    ephemeral_reply,
    finished,
    waveform_of,
)
from tests.e2e.test_plans import tracks_used
from tests.e2e.test_process import bot_env, database_rows, start_process
from tests.fakes.discord_server import (
    ALICE,
    BOB,
    MOD,
    VOICE_CHANNEL_ID,
    FakeDiscord,
    Interaction,
)
from tests.fakes.tls import LocalCA
from tests.fakes.voice_server import RtpPacket, VoiceServer, heard_pcm

FRAME_S = 0.02


async def start_jam(fake: FakeDiscord, voice: VoiceServer) -> dict[str, Any]:
    await fake.join_voice(ALICE)
    await fake.join_voice(BOB)
    start = await fake.slash(ALICE, "jam", "start", {})
    message = await finished(fake, start)
    assert "Jam started" in message["content"], message["content"]
    assert fake.voice_requests == [VOICE_CHANNEL_ID]
    await asyncio.wait_for(voice.identified.wait(), 10)
    return message


async def reference_track(
    sandbox: RunningSandbox, voice: VoiceServer, channels: int = 2
) -> np.ndarray:
    """The song the sandbox streams for the bot's request, its first channel at 48 kHz: the
    same request asked again as raw PCM at the MP3's rate (`channels` interleaved), once the
    first audio was heard (so the sandbox renders nothing on this process's CPU while the bot
    plays), and resampled here, independently of the bot's decoder."""
    await voice.wait_for(voice.audio_packets)
    request = next(r for r in sandbox.sandbox.requests if r.path == "/v1/music/stream")
    rate = int(request.query["output_format"].split("_")[1])
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=60) as http:
        response = await http.post(
            "/v1/music/stream",
            params={"output_format": f"pcm_{rate}"},
            json=request.body,
            headers={"xi-api-key": "test-key"},
        )
    response.raise_for_status()
    raw = samples(response.content, channels=channels)
    count = len(raw) * RATE // rate
    resampled: np.ndarray = np.interp(np.arange(count) * rate / RATE, np.arange(len(raw)), raw)
    return resampled


def audio_between(packets: list[RtpPacket]) -> list[RtpPacket]:
    """From the first packet with sound to the last: one track's playback."""
    sounding = [n for n, p in enumerate(packets) if not p.silent]
    return packets[sounding[0] : sounding[-1] + 1] if sounding else []


def assert_paced(packets: list[RtpPacket]) -> None:
    """One 20 ms frame per 20 ms: consecutive RTP numbers, and no burst on arrival."""
    sequences = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(sequences))
    stamps = [p.timestamp for p in packets]
    assert all((b - a) % 2**32 == 960 for a, b in itertools.pairwise(stamps))
    arrivals = np.array([p.at for p in packets])
    gaps = np.diff(arrivals)
    assert abs(float(np.median(gaps)) - FRAME_S) < 0.003, np.median(gaps)
    # Played at its pace: in any second, about fifty frames, never a catch-up burst.
    span = arrivals[-1] - arrivals[0]
    assert abs(span - FRAME_S * (len(packets) - 1)) < 0.25, span
    for start in arrivals[::25]:
        in_a_second = np.count_nonzero((arrivals >= start) & (arrivals < start + 1.0))
        assert in_a_second <= 53, in_a_second


async def compose_in_jam(fake: FakeDiscord, member: Any, prompt: str, length: int) -> Interaction:
    return await fake.slash(member, "music", "compose", {"prompt": prompt, "length": length})


StopBot = Callable[[], Awaitable[None]]


@pytest.fixture
async def bot_in_a_process(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, local_ca: LocalCA
) -> AsyncIterator[StopBot]:
    """`python -m bot run` as its own process, trusting the voice server's CA: what is timed
    is the bot's own pace, not this process's (the fakes and the sandbox share it). Yields
    how to stop it (a clean shutdown: what it was settling is settled)."""
    env = bot_env(discord_fake, sandbox, SSL_CERT_FILE=str(local_ca.ca_file))
    process = await start_process(env, workdir)

    async def stop() -> None:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.communicate(), 30)

    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 30)
        yield stop
    finally:
        await stop()


async def play_alone(
    fake: FakeDiscord,
    voice: VoiceServer,
    sandbox: RunningSandbox,
    prompt: str,
    length: int,
    channels: int = 2,
) -> tuple[dict[str, Any], np.ndarray, list[RtpPacket]]:
    """Start a jam and play one track: its posted message (checked to hold the whole MP3),
    the audio the sandbox streamed for it, and the packets voice received while it played."""
    await start_jam(fake, voice)
    compose = await compose_in_jam(fake, ALICE, prompt, length)
    reference = asyncio.create_task(reference_track(sandbox, voice, channels))
    message = await finished(fake, compose)
    (mp3,) = attachments_of(fake, message)
    assert mp3_seconds(mp3) == pytest.approx(length, abs=0.15), "the MP3 is whole"
    assert_end_to_end_encrypted(voice)
    return message, await reference, audio_between(voice.packets)


def assert_end_to_end_encrypted(voice: VoiceServer) -> None:
    """Every frame with sound was DAVE-encrypted, and the listener decrypted it."""
    assert not voice.rejected, voice.rejected
    audio = voice.audio_packets()
    assert audio and all(p.e2ee for p in audio), sum(not p.e2ee for p in audio)
    (listener,) = voice.call.listeners
    assert listener.decrypted >= len(audio) and listener.failures == 0


async def test_a_jam_streams_a_track_into_voice_as_it_is_composed_then_posts_it(
    bot_in_a_process: StopBot,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
    workdir: Path,
) -> None:
    message, reference, played = await play_alone(
        discord_fake, voice_server, sandbox, "lofi piano fault:pace:4", 5
    )
    # Posted afterwards (the whole MP3), and charged once it was played and posted.
    assert message["embeds"][0]["footer"]["text"].startswith("Eleven Music · MP3 128 kbps")
    await bot_in_a_process()
    assert database_rows(workdir, "SELECT state FROM quota_usage") == [("committed",)]
    stream = next(r for r in sandbox.sandbox.requests if r.path == "/v1/music/stream")
    assert stream.query["output_format"] == "mp3_44100_128", "self-describing audio"
    assert "prompt" in stream.body and stream.body["music_length_ms"] == 5000

    # Heard in voice: the track's audio, in order, at 20 ms a frame.
    assert_paced(played)
    heard = samples(heard_pcm(played), channels=2)
    track = reference
    # Opus delays what it encodes by a few milliseconds: the very end is never heard.
    found = follow(track[: -RATE // 50], heard)
    assert all(score >= 0.9 for _, score in found), [round(s, 2) for _, s in found]
    starts = [at for at, _ in found]
    block = int(0.25 * RATE)
    # Each block right after the one before (a gap would be a whole 960-sample frame).
    assert all(abs(b - a - block) <= 2 for a, b in itertools.pairwise(starts)), str(starts)
    assert len(heard) >= len(track) - RATE // 10


def streams(sandbox: RunningSandbox) -> list[str]:
    return [
        str(r.body.get("prompt")) for r in sandbox.sandbox.requests if r.path == "/v1/music/stream"
    ]


async def test_underruns_play_silence_at_the_same_pace_never_a_burst(
    bot_in_a_process: StopBot,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    # Three seconds of music sent over six: the player keeps running out.
    _, reference, played = await play_alone(
        discord_fake, voice_server, sandbox, "jazz fault:pace:6", 3
    )
    assert_paced(played)
    assert FRAME_S * len(played) > 5.0, "the underruns were filled with silence, in time"
    # Between the silences, the track's audio, each piece right after the one before.
    runs = sounding_runs(samples(heard_pcm(played), channels=2))
    assert len(runs) > 3, "the player ran out and waited, several times"
    placed = place_runs(reference, runs)
    assert all(score >= 0.9 for _, score in placed), str(
        [(round(s, 2), len(r) // 960) for (_, s), r in zip(placed, runs, strict=True)]
    )
    ends = [at + len(run) for (at, _), run in zip(placed, runs, strict=True)]
    starts = [at for at, _ in placed]
    steps = [start - end for end, start in zip(ends, starts[1:], strict=False)]
    assert all(step >= -2 for step in steps), f"in order, nothing played twice: {steps}"
    # From its start to its end; most of it in runs long enough to place (each trimmed at
    # either end, and the music's own quiet moments split some).
    assert starts[0] < RATE // 10 and ends[-1] > 2.8 * RATE, (starts[0], ends[-1])
    heard_of_it = sum(len(run) + 2 * RUN_TRIM for run in runs)
    assert heard_of_it > 0.75 * 3 * RATE, f"the track was heard: {heard_of_it / RATE:.2f} s"


async def test_the_jam_plays_members_in_turn_and_shows_its_queue(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    # Alice's first track asked for but not answered yet, while the others queue up: the
    # next track is chosen (and prefetched) once it plays, in fair order.
    sandbox.sandbox.answering.clear()
    first = await compose_in_jam(discord_fake, ALICE, "alice one fault:pace:3", 3)
    await asyncio.wait_for(sandbox.sandbox.generation_started.wait(), 10)
    second = await compose_in_jam(discord_fake, ALICE, "alice two", 3)
    third = await compose_in_jam(discord_fake, BOB, "bob one", 3)
    await discord_fake.wait_for(
        lambda: all(
            (m := discord_fake.original(i)) and "Queued in the jam" in m["content"]
            for i in (second, third)
        )
    )
    sandbox.sandbox.answering.set()
    ask = await discord_fake.slash(BOB, "jam", "queue", {})
    shown = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, ask))
    queue = json.dumps(shown.payload["data"]["embeds"])
    assert "alice one" in queue and queue.index("bob one") < queue.index("alice two"), queue

    for interaction in (first, second, third):
        message = await finished(discord_fake, interaction)
        assert attachments_of(discord_fake, message), message["content"]
    assert streams(sandbox) == ["alice one fault:pace:3", "bob one", "alice two"]
    assert await tracks_used(bot, ALICE) == 2 and await tracks_used(bot, BOB) == 1


async def test_a_majority_of_listeners_skips_and_the_track_is_still_posted(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    long = await compose_in_jam(discord_fake, ALICE, "ambient fault:pace:6", 6)
    now_playing = await discord_fake.wait_for(
        lambda: discord_fake.message_with_custom_id("jam:skip:"), timeout=10
    )
    skip = discord_fake.custom_id(now_playing, "jam:skip:")

    vote = await discord_fake.click(BOB, now_playing, skip)
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, vote))
    assert "1 of the 2 needed" in reply.payload["data"]["content"]

    moderator = await discord_fake.click(MOD, now_playing, skip)  # not even listening
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, moderator))
    assert "Skipped" in reply.payload["data"]["content"]
    skipped_at = time.time()
    # Its now-playing message goes with it.
    await discord_fake.wait_for(lambda: discord_fake.message_with_custom_id("jam:skip:") is None)

    message = await finished(discord_fake, long)
    (mp3,) = attachments_of(discord_fake, message)
    assert mp3_seconds(mp3) == pytest.approx(6.0, abs=0.15), "posted whole all the same"
    assert await tracks_used(bot, ALICE) == 1
    # By the time the whole track is in, voice had long stopped playing it.
    late = [p for p in voice_server.audio_packets() if p.at > skipped_at + 0.3]
    assert len(late) < 5, "the skipped track left voice at once"


async def playing_and_waiting(
    fake: FakeDiscord, sandbox: RunningSandbox, voice: VoiceServer, length: int
) -> tuple[Interaction, Interaction, Interaction]:
    """Alice's track playing (streamed over `length` seconds), Bob's next (its stream under
    way while Alice's plays), and Alice's second waiting for its turn."""
    playing = await compose_in_jam(fake, ALICE, f"lofi fault:pace:{length}", length)
    await voice.wait_for(voice.audio_packets)
    ahead = await compose_in_jam(fake, BOB, f"bob next fault:pace:{length}", length)
    await fake.wait_for(lambda: len(streams(sandbox)) == 2)
    waiting = await compose_in_jam(fake, ALICE, "alice waits", length)
    await fake.wait_for(
        lambda: (m := fake.original(waiting)) and "Queued in the jam" in m["content"]
    )
    return playing, ahead, waiting


async def test_stopping_the_jam_refunds_what_waits_and_leaves_voice(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    playing, ahead, waiting = await playing_and_waiting(discord_fake, sandbox, voice_server, 4)

    refused = await discord_fake.slash(BOB, "jam", "stop", {})  # Bob did not start it
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    assert "Only the member who started the jam" in reply.payload["data"]["content"]

    await discord_fake.slash(ALICE, "jam", "stop", {})
    told = await finished(discord_fake, waiting)
    assert "jam ended before your track's turn" in told["content"]
    assert "Nothing was taken from your quota" in told["content"]
    ended = await discord_fake.wait_for(
        lambda: next(
            (m for m in discord_fake.messages.values() if "has ended" in m["content"]), None
        )
    )
    assert "stopped by" in ended["content"] and "1 waiting track(s)" in ended["content"]
    assert ended["allowed_mentions"] == {"parse": []}
    assert discord_fake.voice_requests == [VOICE_CHANNEL_ID, None], "left the channel"

    # The track that was playing, and the next one already streaming, are still composed,
    # posted and charged; the waiting one never streamed.
    for composed in (playing, ahead):
        assert attachments_of(discord_fake, await finished(discord_fake, composed))
    assert await tracks_used(bot, ALICE) == 1 and await tracks_used(bot, BOB) == 1
    assert streams(sandbox) == ["lofi fault:pace:4", "bob next fault:pace:4"]


async def test_the_jam_leaves_an_empty_channel_and_says_so(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot(jam_idle_seconds=1)
    await start_jam(discord_fake, voice_server)
    await discord_fake.leave_voice(ALICE)
    await discord_fake.leave_voice(BOB)
    ended = await discord_fake.wait_for(
        lambda: next(
            (m for m in discord_fake.messages.values() if "has ended" in m["content"]), None
        )
    )
    assert "nobody was listening for 0:01" in ended["content"]
    assert discord_fake.voice_requests == [VOICE_CHANNEL_ID, None]


async def test_a_listener_coming_back_keeps_the_jam(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot(jam_idle_seconds=1)
    await start_jam(discord_fake, voice_server)
    await discord_fake.leave_voice(ALICE)
    await discord_fake.leave_voice(BOB)
    await discord_fake.join_voice(BOB)
    # A track playing for longer than the idle time: the jam must still be there at its end.
    compose = await compose_in_jam(discord_fake, BOB, "lofi fault:pace:2.5", 3)
    message = await finished(discord_fake, compose)
    assert attachments_of(discord_fake, message), message["content"]
    assert not [m for m in discord_fake.messages.values() if "has ended" in m["content"]]


async def test_the_now_playing_message_is_edited_at_most_every_10_s(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
) -> None:
    await start_bot()
    await start_jam(discord_fake, voice_server)
    compose = await compose_in_jam(discord_fake, ALICE, "lofi fault:pace:11", 12)
    now_playing = await discord_fake.wait_for(
        lambda: discord_fake.message_with_custom_id("jam:skip:"), timeout=10
    )
    embed = json.dumps(now_playing["embeds"], ensure_ascii=False)
    assert "Now playing" in embed and f"<@{ALICE.id}>" in embed and "0:12" in embed
    assert "▱" in embed, "a progress bar"
    assert now_playing["allowed_mentions"] == {"parse": []}
    assert discord_fake.custom_id(now_playing, "jam:stop:")
    # The track's waveform, with the playing position drawn on it.
    waveform_of(discord_fake, now_playing)
    message_id = now_playing["id"]
    first = bar_pixels(waveform_of(discord_fake, discord_fake.messages[int(message_id)]))
    track = await finished(discord_fake, compose)
    assert bar_pixels(waveform_of(discord_fake, track)) > 0.1, "the posted track's waveform"
    patches = discord_fake.sent("PATCH", rf"/channels/\d+/messages/{message_id}$")
    assert all(any(f.filename == "waveform.png" for f in r.files) for r in patches), (
        "each edit shows the position moved on"
    )
    assert first < 0.1, "little played when it was first shown"
    edits = [r.at for r in patches]
    assert edits, "the progress was updated while it played"
    assert all(b - a >= 9.9 for a, b in itertools.pairwise(edits))
    assert discord_fake.sent("DELETE", rf"/channels/\d+/messages/{message_id}$"), (
        "cleared at the end"
    )


async def test_members_outside_the_jams_channel_compose_as_usual(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    await start_bot()
    await discord_fake.join_voice(ALICE)
    start = await discord_fake.slash(ALICE, "jam", "start", {})
    await finished(discord_fake, start)
    compose = await compose_in_jam(discord_fake, BOB, "lofi", 3)
    message = await finished(discord_fake, compose)
    assert attachments_of(discord_fake, message)
    assert [r.path for r in sandbox.sandbox.compose_requests()] == ["/v1/music/detailed"]


async def test_a_jam_needs_a_voice_channel_and_only_one_runs(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    nowhere = await discord_fake.slash(ALICE, "jam", "start", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, nowhere))
    assert "Join a voice channel first" in reply.payload["data"]["content"]
    await start_jam(discord_fake, voice_server)
    again = await discord_fake.slash(BOB, "jam", "start", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, again))
    assert "already running" in reply.payload["data"]["content"]
    nothing = await discord_fake.slash(BOB, "jam", "skip", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, nothing))
    assert "Nothing is playing" in reply.payload["data"]["content"]


async def test_shutting_down_tells_the_waiting_tracks_and_delivers_the_playing_one(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    bot = await start_bot()
    await start_jam(discord_fake, voice_server)
    playing, ahead, waiting = await playing_and_waiting(discord_fake, sandbox, voice_server, 3)
    await bot.drain(20)
    assert (
        "jam ended before your track's turn" in (await finished(discord_fake, waiting))["content"]
    )
    assert attachments_of(discord_fake, await finished(discord_fake, playing))
    assert attachments_of(discord_fake, await finished(discord_fake, ahead))
    assert await tracks_used(bot, ALICE) == 1 and await tracks_used(bot, BOB) == 1
    assert discord_fake.voice_requests[-1] is None, "left voice"


async def test_without_voice_libraries_a_jam_is_refused_clearly(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    bot = await start_bot()
    bot.services.jams.unavailable = "libopus is not installed"
    await discord_fake.join_voice(ALICE)
    start = await discord_fake.slash(ALICE, "jam", "start", {})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, start))
    assert "Voice jams are not available on this bot: libopus" in reply.payload["data"]["content"]
    assert discord_fake.voice_requests == []
