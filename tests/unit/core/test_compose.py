"""ComposeService: a double claim composes once; every outcome comes back settled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.core.orders import ComposeOrder
from bot.core.outcomes import (
    Accepted,
    Delivered,
    Failed,
    Once,
    PromptRefused,
    UploadRefused,
)
from bot.core.refusals import AlreadyUsed, Gone, NotYours, Refused
from bot.core.track_orders import ButtonOrder
from bot.music import BadPrompt, ServerError, build_request
from tests.unit.core.conftest import (
    ALICE,
    BOB,
    CHANNEL,
    MOD,
    UPLOAD_LIMIT,
    Core,
    Deliver,
    G,
    Listener,
    mocked_core,
)


async def saved_track(core: Core, owner_id: int = ALICE.user_id) -> str:
    """A track row, as a delivered compose leaves it."""
    track_id = f"track-{owner_id}"
    await core.tracks.save(
        track_id=track_id,
        guild_id=G,
        channel_id=CHANNEL,
        user_id=owner_id,
        request_json=build_request(prompt="lofi", length_s=4).model_dump_json(),
        plan_json=None,
        song_id=None,
        title="Lofi",
        length_s=4,
    )
    return track_id


async def accepted(core: Core, order: ComposeOrder, once: Once | None = None) -> Accepted:
    result = await core.compose.accept(ALICE, order, UPLOAD_LIMIT, once=once)
    assert isinstance(result, Accepted), result
    return result


# -- 1. a double claim composes once ------------------------------------------------------------


async def test_a_double_claim_composes_once(core: Core) -> None:
    track_id = await saved_track(core)
    button = await core.track_orders.regenerate(ALICE, track_id)
    assert isinstance(button, ButtonOrder)
    assert button.once == Once("regenerate", track_id)

    first = await core.compose.accept(
        ALICE, button.order, UPLOAD_LIMIT, owner_id=button.owner_id, once=button.once
    )
    assert isinstance(first, Accepted)
    assert await core.used() == (1, 4)

    second = await core.compose.accept(
        ALICE, button.order, UPLOAD_LIMIT, owner_id=button.owner_id, once=button.once
    )
    assert second == Refused(AlreadyUsed())
    # The second reservation was made, then refunded: the quota is as the first left it.
    assert await core.used() == (1, 4)
    assert await core.usage_states() == ["refunded", "reserved"]


async def test_a_double_claim_composes_once_when_both_clicks_arrive_together(
    core: Core,
) -> None:
    track_id = await saved_track(core)
    once = Once("regenerate", track_id)
    order = ComposeOrder("lofi", 4)
    results = await asyncio.gather(
        *(core.compose.accept(ALICE, order, UPLOAD_LIMIT, once=once) for _ in range(4))
    )
    assert sum(isinstance(r, Accepted) for r in results) == 1
    assert [r for r in results if not isinstance(r, Accepted)] == [Refused(AlreadyUsed())] * 3
    assert await core.used() == (1, 4)
    assert await core.usage_states() == ["refunded"] * 3 + ["reserved"]


async def test_a_double_claim_of_a_suggestion_composes_once(core: Core) -> None:
    suggestion_id = await core.suggestions.save(
        guild_id=G,
        channel_id=CHANNEL,
        user_id=ALICE.user_id,
        prompt="an original lofi song",
        length_s=5,
        instrumental=True,
    )
    once = Once("suggestion", suggestion_id)
    order = ComposeOrder("an original lofi song", 5, True)
    first, second = await asyncio.gather(
        core.compose.accept(ALICE, order, UPLOAD_LIMIT, once=once),
        core.compose.accept(ALICE, order, UPLOAD_LIMIT, once=once),
    )
    assert sorted(type(r).__name__ for r in (first, second)) == ["Accepted", "Refused"]
    assert Refused(AlreadyUsed()) in (first, second)
    assert await core.used() == (1, 5)
    # Used now: its button says the suggestion is gone.
    assert await core.track_orders.suggestion(suggestion_id) == Refused(Gone("suggestion"))


async def test_a_button_is_refused_to_another_member_before_anything_is_reserved(
    core: Core,
) -> None:
    track_id = await saved_track(core)
    once = Once("regenerate", track_id)
    order = ComposeOrder("lofi", 4)
    refused = await core.compose.accept(BOB, order, UPLOAD_LIMIT, owner_id=100, once=once)
    assert refused == Refused(NotYours())
    assert await core.usage_states() == []
    # Not claimed by the refusal: the owner's click still composes.
    assert isinstance(await core.compose.accept(ALICE, order, UPLOAD_LIMIT, once=once), Accepted)
    # A moderator acts for the owner, charged to themselves.
    moderated = await core.compose.accept(MOD, order, UPLOAD_LIMIT, owner_id=100)
    assert isinstance(moderated, Accepted)
    assert moderated.reservation.user_id == MOD.user_id


# -- 2. a failure is refunded before its outcome is returned ------------------------------------


@pytest.mark.parametrize("fault", ["server_error", "invalid", "harmful", "short"])
async def test_a_failure_is_refunded_before_its_outcome_is_returned(core: Core, fault: str) -> None:
    deliver = Deliver()
    once = Once("regenerate", await saved_track(core))
    job = await accepted(core, ComposeOrder(f"lofi fault:{fault}", 4), once)
    assert await core.used() == (1, 4)

    outcome = await core.compose.compose(job, Listener(), deliver)

    # Checked right after the await: no background task settles it later.
    assert isinstance(outcome, Failed), outcome
    assert await core.used() == (0, 0)
    assert await core.usage_states() == ["refunded"]
    assert await core.jobs.counts() == {"failed": 1}
    assert deliver.given == []
    assert core.compose.running == 0
    # The button was released: it can be pressed again.
    assert await core.tracks.claim(once.row_id, "regenerate")


async def test_a_server_error_is_failed_with_its_cause(core: Core) -> None:
    job = await accepted(core, ComposeOrder("lofi fault:server_error", 4))
    outcome = await core.compose.compose(job, Listener(), Deliver())
    assert isinstance(outcome, Failed) and isinstance(outcome.cause, ServerError)
    assert await core.used() == (0, 0)


async def test_a_mocked_500_is_failed_and_refunded(tmp_path: Path) -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(500, json={"detail": {"status": "internal_error", "message": "boom"}})

    async with mocked_core(tmp_path, answer) as core:
        job = await accepted(core, ComposeOrder("lofi", 4))
        outcome = await core.compose.compose(job, Listener(), Deliver())
        assert isinstance(outcome, Failed) and isinstance(outcome.cause, ServerError)
        assert outcome.cause.message == "boom"
        assert await core.used() == (0, 0)
        assert await core.usage_states() == ["refunded"]
        assert await core.jobs.counts() == {"failed": 1}
    # A 500 may have been billed: asked once, never retried.
    assert calls == ["/v1/music/detailed"]


async def test_an_upload_refused_by_discord_is_refunded(core: Core) -> None:
    deliver = Deliver(answer=False)
    once = Once("regenerate", await saved_track(core))
    job = await accepted(core, ComposeOrder("lofi", 4), once)

    outcome = await core.compose.compose(job, Listener(), deliver)

    assert outcome == UploadRefused()
    assert await core.used() == (0, 0)
    assert await core.usage_states() == ["refunded"]
    assert await core.jobs.counts() == {"failed": 1}
    # It was composed and offered, then its row forgotten: its buttons would name nothing.
    [composed] = deliver.given
    assert deliver.audio_bytes[0] > 10_000
    assert await core.tracks.get(composed.job.id) is None
    # The once-button was released: pressing it again composes.
    assert isinstance(await accepted(core, ComposeOrder("lofi", 4), once), Accepted)


async def test_a_delivered_track_is_charged_once(core: Core) -> None:
    deliver = Deliver()
    listener = Listener()
    once = Once("regenerate", await saved_track(core))
    job = await accepted(core, ComposeOrder("jazz piano", 4), once)

    outcome = await core.compose.compose(job, listener, deliver)

    [composed] = deliver.given
    assert outcome == Delivered(composed.job.id)
    assert await core.used() == (1, 4)
    assert await core.usage_states() == ["committed"]
    assert await core.jobs.counts() == {"done": 1}
    assert listener.starts == 1
    assert deliver.audio_bytes[0] > 10_000
    # The track's row is kept for its buttons, and the once-button stays used.
    kept = await core.tracks.get(composed.job.id)
    assert kept is not None and (kept.user_id, kept.length_s) == (ALICE.user_id, 4)
    assert await core.compose.accept(ALICE, job.order, UPLOAD_LIMIT, once=once) == Refused(
        AlreadyUsed()
    )
    assert await core.used() == (1, 4)


async def test_a_deliver_that_raises_is_failed_and_refunded(core: Core) -> None:
    async def broken(_composed: object) -> bool:
        raise RuntimeError("discord fell over")

    job = await accepted(core, ComposeOrder("lofi", 4))
    outcome = await core.compose.compose(job, Listener(), broken)
    assert isinstance(outcome, Failed) and isinstance(outcome.cause, RuntimeError)
    assert await core.used() == (0, 0)
    assert await core.jobs.counts() == {"failed": 1}


async def test_abandon_refunds_and_releases_the_button(core: Core) -> None:
    once = Once("regenerate", await saved_track(core))
    job = await accepted(core, ComposeOrder("lofi", 4), once)
    await core.compose.abandon(job)
    assert await core.used() == (0, 0)
    assert isinstance(await accepted(core, ComposeOrder("lofi", 4), once), Accepted)


# -- 3. a refused prompt saves its suggestion ---------------------------------------------------

SUGGESTED = "An original dreamy synth-pop song with airy vocals"


def copyright_refusal(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        400,
        json={
            "detail": {
                "type": "invalid_request",
                "code": "bad_prompt",
                "status": "bad_prompt",
                "message": "The prompt contains copyrighted material.",
                "data": {"prompt_suggestion": f"  {SUGGESTED}\n"},
            }
        },
    )


async def test_a_refused_prompt_saves_its_suggestion(tmp_path: Path) -> None:
    async with mocked_core(tmp_path, copyright_refusal) as core:
        job = await accepted(core, ComposeOrder("a song like Taylor Swift", 7, True))
        outcome = await core.compose.compose(job, Listener(), Deliver())

        assert isinstance(outcome, PromptRefused), outcome
        assert outcome.suggestion == SUGGESTED
        assert outcome.headline == "a song like Taylor Swift"
        saved = await core.suggestions.get(outcome.suggestion_id)
        assert saved is not None
        assert (saved.prompt, saved.length_s, saved.instrumental) == (SUGGESTED, 7, True)
        assert (saved.guild_id, saved.channel_id, saved.user_id) == (G, CHANNEL, ALICE.user_id)
        assert not saved.used
        # Refused is not delivered: refunded, before the outcome came back.
        assert await core.used() == (0, 0)
        assert await core.jobs.counts() == {"failed": 1}

        button = await core.track_orders.suggestion(outcome.suggestion_id)
        assert button == ButtonOrder(
            ComposeOrder(SUGGESTED, 7, True),
            ALICE.user_id,
            Once("suggestion", outcome.suggestion_id),
        )


async def test_the_sandboxs_copyright_refusal_is_saved_as_its_suggestion(core: Core) -> None:
    # What the sandbox suggests for this prompt, asked directly.
    prompt = "a song like Taylor Swift fault:bad_prompt"
    with pytest.raises(BadPrompt) as caught:
        await core.music.compose(build_request(prompt=prompt, length_s=5))

    job = await accepted(core, ComposeOrder(prompt, 5))
    outcome = await core.compose.compose(job, Listener(), Deliver())

    assert isinstance(outcome, PromptRefused), outcome
    assert outcome.suggestion == caught.value.prompt_suggestion
    saved = await core.suggestions.get(outcome.suggestion_id)
    assert saved is not None and saved.prompt == caught.value.prompt_suggestion
    button = await core.track_orders.suggestion(outcome.suggestion_id)
    assert isinstance(button, ButtonOrder)
    assert button.order.prompt == caught.value.prompt_suggestion
    assert await core.used() == (0, 0)


async def test_an_unknown_suggestion_is_gone(core: Core) -> None:
    assert await core.track_orders.suggestion("no-such-id") == Refused(Gone("suggestion"))


async def test_a_refused_prompt_whose_suggestion_cannot_be_saved_is_still_refunded(
    tmp_path: Path,
) -> None:
    async with mocked_core(tmp_path, copyright_refusal) as core:
        job = await accepted(core, ComposeOrder("a song like Taylor Swift", 5))
        # The store fails as the suggestion is saved.
        await core.database.write(lambda c: c.execute(text("DROP TABLE suggestions")))

        try:
            outcome: object = await core.compose.compose(job, Listener(), Deliver())
        except Exception as exc:  # what the bug does today
            outcome = exc

        assert await core.used() == (0, 0)
        assert await core.jobs.counts() == {"failed": 1}
        assert isinstance(outcome, Failed), outcome
