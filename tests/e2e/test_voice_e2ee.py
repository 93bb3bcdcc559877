"""End-to-end encrypted voice (DAVE protocol 1), as Discord's voice channels have it since March
2026: the local voice server plays Discord's external sender, and listener members of the
call, each a `davey.DaveSession` owned by the test, decrypt what the bot sends. What the group
does mid-track (a re-key, members joining and leaving, a broken commit, a downgrade) must never
cost a frame, nor let a member who left hear on."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, finished
from tests.e2e.test_jam import compose_in_jam, start_jam
from tests.fakes.dave import LISTENER_ID
from tests.fakes.discord_server import (
    ALICE,
    BOB,
    BOT,
    OTHER_VOICE_CHANNEL_ID,
    VOICE_CHANNEL_ID,
    FakeDiscord,
    Interaction,
)
from tests.fakes.voice_server import RtpPacket, VoiceServer, heard_pcm


async def playing(fake: FakeDiscord, voice: VoiceServer, seconds: int = 6) -> Interaction:
    """A jam playing a track streamed over `seconds`, once its first encrypted audio is in."""
    await start_jam(fake, voice)
    compose = await compose_in_jam(fake, ALICE, f"lofi fault:pace:{seconds}", seconds)
    await voice.wait_for(lambda: [p for p in voice.audio_packets() if p.e2ee])
    return compose


async def audio_after(voice: VoiceServer, index: int, count: int = 25) -> list[RtpPacket]:
    """`count` packets with sound from the `index`th packet on."""
    packets: list[RtpPacket] = await voice.wait_for(
        lambda: (p := voice.audio_packets_since(index)) and len(p) >= count and p
    )
    return packets


async def posted_whole(fake: FakeDiscord, compose: Interaction, voice: VoiceServer) -> None:
    message = await finished(fake, compose)
    assert attachments_of(fake, message), message["content"]
    assert not voice.rejected, voice.rejected
    # Not a frame lost on the way: one RTP number after the other.
    sequences = [p.sequence for p in voice.packets]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(sequences))


async def test_a_stage_channel_plays_without_end_to_end_encryption(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    voice_server.dave = False  # stage channels are not end-to-end encrypted
    await start_bot()
    await start_jam(discord_fake, voice_server)
    compose = await compose_in_jam(discord_fake, ALICE, "lofi", 3)
    await posted_whole(discord_fake, compose, voice_server)
    audio = voice_server.audio_packets()
    assert audio and not any(p.e2ee for p in audio)
    assert all(s.call is None for s in voice_server.sessions.values())
    assert len(heard_pcm(audio)) >= 2.9 * 48_000 * 4, "heard all the same"


async def test_a_re_key_mid_track_keeps_it_encrypted_for_the_new_group(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server)
    call = voice_server.call
    (before,) = call.listeners
    await call.rekey()  # op 24, epoch 1: a new MLS group
    await voice_server.wait_for(lambda: call.key_packages == 2 and call.commits == 2)
    mark = len(voice_server.packets)
    after = await audio_after(voice_server, mark)
    assert all(p.e2ee for p in after), "encrypted with the new group's keys"
    (now,) = call.listeners
    assert now is not before and now.decrypted >= len(after) and now.failures == 0
    assert before.leaked == 0, "the old group's keys open nothing sent since"
    await posted_whole(discord_fake, compose, voice_server)


async def test_members_joining_and_leaving_hear_from_then_on_and_no_longer(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server, 8)
    call = voice_server.call
    bob = await call.add_listener(BOB.id)
    await voice_server.wait_for(lambda: call.commits == 2)
    joined = await audio_after(voice_server, len(voice_server.packets))
    assert all(p.e2ee for p in joined) and bob.decrypted >= len(joined) and not bob.failures

    first = await call.remove_listener(LISTENER_ID)
    await voice_server.wait_for(lambda: call.commits == 3)
    heard_before = first.decrypted
    left = await audio_after(voice_server, len(voice_server.packets))
    assert all(p.e2ee for p in left) and bob.decrypted >= len(joined) + len(left)
    assert first.decrypted == heard_before and first.leaked == 0, "gone, and deaf to the bot"
    await posted_whole(discord_fake, compose, voice_server)


async def test_a_corrupted_commit_is_reported_and_the_bot_rejoins_encrypted(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server, 8)
    call = voice_server.call
    call.corrupt_next_commit = True
    await call.add_listener(BOB.id)  # the bot's commit for it reaches it damaged
    # op 31 for that transition, then a new key package: a new group with both listeners.
    await voice_server.wait_for(lambda: call.invalid and call.key_packages == 2)
    assert call.invalid[0] != 0
    await voice_server.wait_for(lambda: call.commits == 2)
    # A few frames sent while the new group was being welcomed may still be in flight (DAVE
    # lets them pass unencrypted during a transition); from then on, every one is encrypted.
    after = (await audio_after(voice_server, len(voice_server.packets), 35))[10:]
    assert after and all(p.e2ee for p in after)
    assert sorted(lst.user_id for lst in call.listeners) == sorted([LISTENER_ID, BOB.id])
    assert all(lst.decrypted >= len(after) and not lst.failures for lst in call.listeners)
    await posted_whole(discord_fake, compose, voice_server)


async def test_a_downgrade_to_protocol_0_goes_on_unencrypted(
    start_bot: BotFactory,
    discord_fake: FakeDiscord,
    voice_server: VoiceServer,
    sandbox: RunningSandbox,
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server)
    call = voice_server.call
    await call.downgrade()  # op 21; the bot is ready (op 23), then op 22 executes it
    await voice_server.wait_for(lambda: call.ready)
    mark = len(voice_server.packets)
    # From the transition on (a few frames may still be in flight), no end-to-end encryption.
    after = (await audio_after(voice_server, mark, 50))[10:]
    assert after and not any(p.e2ee for p in after)
    assert len(heard_pcm(after)) == len(after) * 960 * 4, "and still heard"
    await posted_whole(discord_fake, compose, voice_server)


async def test_a_channel_that_requires_newer_encryption_gets_one_clear_answer(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    voice_server.refuse_with = 4017  # "E2EE/DAVE protocol required"
    await discord_fake.join_voice(ALICE)
    start = await discord_fake.slash(ALICE, "jam", "start", {})
    message = await finished(discord_fake, start)
    assert "end-to-end encrypted voice" in message["content"], message["content"]
    # One attempt, not a loop of reconnects; and the bot left the channel.
    assert voice_server.identifies == 1
    assert discord_fake.voice_requests == [VOICE_CHANNEL_ID, None]


async def test_a_4017_mid_jam_ends_it_with_one_clear_message_and_no_reconnect(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server)
    voice_server.refuse_with = 4017
    await voice_server.close_connections(4017)
    ended = await discord_fake.wait_for(
        lambda: [m for m in discord_fake.messages.values() if "has ended" in m["content"]]
    )
    assert len(ended) == 1 and "end-to-end encrypted voice" in ended[0]["content"]
    # The track that was playing is still posted (and charged: it was composed whole).
    assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert voice_server.identifies == 1, "no reconnect"
    assert discord_fake.voice_requests == [VOICE_CHANNEL_ID, None]


async def test_a_moderator_disconnecting_the_bot_ends_the_jam_and_says_so_at_once(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server)
    # Discord tells the bot it left the channel, and closes its voice connection with 4014.
    await discord_fake.leave_voice(BOT)
    await voice_server.close_connections(4014)
    ended = await discord_fake.wait_for(
        lambda: [m for m in discord_fake.messages.values() if "has ended" in m["content"]],
        timeout=5,
    )
    assert len(ended) == 1 and "I was disconnected from voice" in ended[0]["content"]
    assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert voice_server.identifies == 1, "no reconnect"


async def heard_on(voice: VoiceServer, seconds: float) -> None:
    """Wait until `seconds` of audio were heard end-to-end encrypted."""
    await voice.wait_for(
        lambda: len([p for p in voice.audio_packets() if p.e2ee]) * 0.02 >= seconds
    )


@pytest.mark.parametrize("code", [4015, 4006, 1006], ids=["crashed", "invalid", "blip"])
async def test_a_dropped_voice_connection_comes_back_and_the_track_plays_on(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer, code: int
) -> None:
    """4015 (the voice server crashed): the bot resumes its session; 4006 (the session is no
    longer valid) or a network blip (the connection dies): the bot connects again."""
    await start_bot()
    compose = await playing(discord_fake, voice_server, 6)
    await heard_on(voice_server, 1.0)
    await voice_server.close_connections(code)
    if code == 4015:
        await voice_server.wait_for(lambda: voice_server.resumes == 1)
    else:
        await voice_server.wait_for(lambda: voice_server.identifies == 2)
    # The rest of the track is heard, end-to-end encrypted, and the jam goes on.
    await heard_on(voice_server, 5.5)
    assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert not [m for m in discord_fake.messages.values() if "has ended" in m["content"]]
    assert not voice_server.rejected, voice_server.rejected


async def test_a_new_voice_server_mid_jam_is_followed(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server, 6)
    await heard_on(voice_server, 1.0)
    await discord_fake.move_voice_server()  # VOICE_SERVER_UPDATE with a new session
    await voice_server.wait_for(lambda: voice_server.identifies == 2)
    await heard_on(voice_server, 5.5)
    assert attachments_of(discord_fake, await finished(discord_fake, compose))
    assert not [m for m in discord_fake.messages.values() if "has ended" in m["content"]]


async def test_a_bot_moved_to_another_channel_takes_the_jam_along_and_says_so(
    start_bot: BotFactory, discord_fake: FakeDiscord, voice_server: VoiceServer
) -> None:
    await start_bot()
    compose = await playing(discord_fake, voice_server, 6)
    await heard_on(voice_server, 1.0)
    await discord_fake.move_bot(OTHER_VOICE_CHANNEL_ID)  # a moderator drags the bot (4014)
    moved = await discord_fake.wait_for(
        lambda: [m for m in discord_fake.messages.values() if "I was moved" in m["content"]]
    )
    assert f"<#{OTHER_VOICE_CHANNEL_ID}>" in moved[0]["content"]
    await voice_server.wait_for(lambda: voice_server.identifies == 2)
    # The track plays on there, end-to-end encrypted in the new channel's group.
    await heard_on(voice_server, 5.5)
    assert voice_server.call.channel_id == OTHER_VOICE_CHANNEL_ID
    assert attachments_of(discord_fake, await finished(discord_fake, compose))
    # Who listens there adds tracks to it; the jam did not end.
    await discord_fake.join_voice(BOB, OTHER_VOICE_CHANNEL_ID)
    there = await compose_in_jam(discord_fake, BOB, "jazz", 3)
    await discord_fake.wait_for(
        lambda: (m := discord_fake.original(there)) and "Playing in" in m["content"]
    )
    assert attachments_of(discord_fake, await finished(discord_fake, there))
    assert not [m for m in discord_fake.messages.values() if "has ended" in m["content"]]
