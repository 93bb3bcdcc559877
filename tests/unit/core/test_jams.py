"""Jams with a fake Speaker and JamScreen: turns, skip votes, who may stop, and the end."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.jam import Jam, JamEnded
from bot.core.jams import (
    EndReason,
    Idle,
    Jams,
    NothingPlaying,
    NotListening,
    Skipped,
    Stopped,
    VoteCounted,
)
from bot.core.orders import ComposeOrder
from bot.core.outcomes import Accepted, Delivered, Failed
from bot.core.requester import Requester
from tests.unit.core.conftest import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    MOD,
    UPLOAD_LIMIT,
    Core,
    Deliver,
    FakeScreen,
    FakeSpeaker,
    G,
    Listener,
    compose_job,
)

VOICE = 77
DAVE = Requester(guild_id=G, channel_id=CHANNEL, user_id=400)
EVE = Requester(guild_id=G, channel_id=CHANNEL, user_id=500)


def start(core: Core, speaker: FakeSpeaker | None = None, starter: Requester = ALICE) -> Jam:
    return core.jams.start(
        speaker or FakeSpeaker(), FakeScreen(), requester=starter, voice_channel_id=VOICE
    )


async def accept(core: Core, requester: Requester, prompt: str = "lofi") -> Accepted:
    accepted = await core.compose.accept(requester, ComposeOrder(prompt, 3), UPLOAD_LIMIT)
    assert isinstance(accepted, Accepted), accepted
    return accepted


class Ended:
    """on_ended: what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[Jam, EndReason, int]] = []
        self.event = asyncio.Event()

    async def __call__(self, jam: Jam, reason: EndReason, waiting: int) -> None:
        self.told.append((jam, reason, waiting))
        self.event.set()


# -- 7. jam turns go to the member served least recently ----------------------------------------


async def test_jam_turns_go_to_the_member_served_least_recently(core: Core) -> None:
    jam = start(core)
    a1 = jam.enqueue(compose_job(ALICE.user_id, "a1"))
    a2 = jam.enqueue(compose_job(ALICE.user_id, "a2"))
    a3 = jam.enqueue(compose_job(ALICE.user_id, "a3"))
    b = jam.enqueue(compose_job(BOB.user_id, "b"))
    c = jam.enqueue(compose_job(CAROL.user_id, "c"))

    # The first track takes voice at once; the rest wait.
    assert jam.current is a1 and a1.turn.done()
    assert not any(e.turn.done() for e in (a2, a3, b, c))
    # Members not yet served go first, in the order they asked; then Alice's, in hers.
    assert jam.ordered() == [b, c, a2, a3]


async def test_jam_turns_in_play_order_through_compose(core: Core) -> None:
    # The fair order itself: no next stream started ahead (a prefetched track is chosen, by
    # the same rule, when its stream starts, and then keeps its place).
    core.jams.prefetch_seconds = 0
    speaker = FakeSpeaker()
    jam = start(core, speaker)
    deliver = Deliver()
    listeners = {name: Listener() for name in ("a1", "a2", "b")}

    def compose(requester: Requester, name: str, accepted: Accepted) -> asyncio.Task[object]:
        return asyncio.create_task(
            core.compose.compose(accepted, listeners[name], deliver, jam=jam)
        )

    a1 = compose(ALICE, "a1", await accept(core, ALICE, "a one"))
    await speaker.next_play()
    assert jam.current is not None and jam.current.job.prompt == "a one"
    a2 = compose(ALICE, "a2", await accept(core, ALICE, "a two"))
    await listeners["a2"].hears(1)
    b = compose(BOB, "b", await accept(core, BOB, "b one"))
    # Bob asked after Alice's second, and goes before it.
    await listeners["a2"].hears(2)
    await listeners["b"].hears(1)

    played = []
    for _ in range(2):
        speaker.finish()
        await speaker.next_play()
        assert jam.current is not None
        played.append(jam.current.job.prompt)
    speaker.finish()
    outcomes = await asyncio.wait_for(asyncio.gather(a1, a2, b), 10)

    assert played == ["b one", "a two"]
    assert all(isinstance(o, Delivered) for o in outcomes), outcomes
    assert [c.order.prompt for c in deliver.given] == ["a one", "b one", "a two"]
    # Each delivered track is the MP3 the jam encoded while it played.
    assert all(c.track.content_type == "audio/mpeg" for c in deliver.given)
    assert min(deliver.audio_bytes) > 10_000
    assert await core.used(ALICE) == (2, 6)
    assert await core.used(BOB) == (1, 3)
    assert await core.usage_states() == ["committed"] * 3


# -- 8. a majority skips ------------------------------------------------------------------------


async def test_a_majority_of_listeners_skips(core: Core) -> None:
    jam = start(core)
    entry = jam.enqueue(compose_job(CAROL.user_id))
    listening = {ALICE.user_id, BOB.user_id, DAVE.user_id}

    assert Jams.skip(jam, ALICE, listening) == VoteCounted(1, 2)
    # A second click is still one vote.
    assert Jams.skip(jam, ALICE, listening) == VoteCounted(1, 2)
    assert not entry.played.done()

    assert Jams.skip(jam, BOB, listening) == Skipped(2, 3)
    assert entry.played.done()


async def test_only_listeners_vote(core: Core) -> None:
    jam = start(core)
    entry = jam.enqueue(compose_job(CAROL.user_id))
    listening = {ALICE.user_id, BOB.user_id, DAVE.user_id}
    assert Jams.skip(jam, EVE, listening) == NotListening()
    assert jam.skip_votes == set()
    # A voter who left no longer counts towards the majority.
    assert Jams.skip(jam, ALICE, listening) == VoteCounted(1, 2)
    still_listening = {BOB.user_id, DAVE.user_id}
    assert Jams.skip(jam, BOB, still_listening) == VoteCounted(1, 2)
    assert not entry.played.done()
    assert Jams.skip(jam, DAVE, still_listening) == Skipped(2, 2)
    assert entry.played.done()


@pytest.mark.parametrize("who", [CAROL, MOD], ids=["requester", "moderator"])
async def test_the_tracks_requester_or_a_moderator_skips_at_once(
    core: Core, who: Requester
) -> None:
    jam = start(core)
    entry = jam.enqueue(compose_job(CAROL.user_id))
    # Neither needs to be listening, nor to win a vote.
    assert Jams.skip(jam, who, {ALICE.user_id, BOB.user_id}) == Skipped()
    assert entry.played.done()


async def test_a_skip_with_nothing_playing(core: Core) -> None:
    jam = start(core)
    assert Jams.skip(jam, ALICE, {ALICE.user_id}) == NothingPlaying()


async def test_who_may_stop_a_jam(core: Core) -> None:
    jam = start(core, starter=ALICE)
    both = {ALICE.user_id, BOB.user_id}
    assert Jams.may_stop(jam, ALICE, both)
    assert Jams.may_stop(jam, ALICE, set())  # the starter, listening or not
    assert Jams.may_stop(jam, MOD, both)
    # Another listener, while the starter listens: no.
    assert not Jams.may_stop(jam, BOB, both)
    # Once the starter left, any listener; still not someone who is not listening.
    assert Jams.may_stop(jam, BOB, {BOB.user_id})
    assert not Jams.may_stop(jam, CAROL, {BOB.user_id})


# -- 9. ending a jam refunds what waits ---------------------------------------------------------


async def test_ending_a_jam_refunds_what_waits(core: Core) -> None:
    # A track whose stream had not started (no prefetch here; a prefetched one is posted).
    core.jams.prefetch_seconds = 0
    speaker = FakeSpeaker()
    ended = Ended()
    core.jams.on_ended = ended
    jam = start(core, speaker)
    deliver = Deliver()
    waiting_listener = Listener()

    playing = asyncio.create_task(
        core.compose.compose(await accept(core, ALICE), Listener(), deliver, jam=jam)
    )
    # Alice's track holds voice: the fake speaker never finishes it by itself.
    await speaker.next_play()
    waiting = asyncio.create_task(
        core.compose.compose(await accept(core, BOB), waiting_listener, deliver, jam=jam)
    )
    await waiting_listener.hears(1)
    assert await core.used(BOB) == (1, 3)

    left = await core.jams.end(jam, Stopped(ALICE.user_id))

    assert left is not None and [e.user_id for e in left] == [BOB.user_id]
    outcome = await asyncio.wait_for(waiting, 10)
    assert isinstance(outcome, Failed) and isinstance(outcome.cause, JamEnded)
    # Refunded by the time the outcome came back.
    assert await core.used(BOB) == (0, 0)
    assert waiting_listener.starts == 0
    assert ended.told == [(jam, Stopped(ALICE.user_id), 1)]
    # The playing track left voice, but is still composed and posted (and charged).
    assert speaker.stops == 1 and speaker.disconnects == 1
    assert await asyncio.wait_for(playing, 10) == Delivered(deliver.given[0].job.id)
    assert [c.job.user_id for c in deliver.given] == [ALICE.user_id]
    assert await core.used(ALICE) == (1, 3)
    assert await core.usage_states() == ["committed", "refunded"]
    assert await core.jobs.counts() == {"done": 1}
    # The server has no jam now; ending it again tells no one.
    assert core.jams.get(G) is None
    assert await core.jams.end(jam, Stopped(ALICE.user_id)) is None
    assert len(ended.told) == 1


async def test_a_track_for_an_ended_jam_fails_and_is_refunded(core: Core) -> None:
    jam = start(core)
    await core.jams.end(jam, Stopped(ALICE.user_id))
    outcome = await core.compose.compose(await accept(core, BOB), Listener(), Deliver(), jam=jam)
    assert isinstance(outcome, Failed) and isinstance(outcome.cause, JamEnded)
    assert await core.used(BOB) == (0, 0)
    assert await core.usage_states() == ["refunded"]


async def test_a_jam_nobody_listens_to_ends_when_idle(core: Core) -> None:
    ended = Ended()
    jams = Jams(core.composer, idle_seconds=0.01)
    jams.on_ended = ended
    jam = jams.start(FakeSpeaker(), FakeScreen(), requester=ALICE, voice_channel_id=VOICE)
    assert jams.jam_for(G, VOICE) is jam
    assert jams.jam_for(G, VOICE + 1) is None
    jams.listeners_changed(jam, 0)
    await asyncio.wait_for(ended.event.wait(), 10)
    assert ended.told == [(jam, Idle(0.01), 0)]
    assert jams.get(G) is None and jam.ended
