"""PlanService: rate-limited per member, owned, and edits that lose nothing."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from bot.core import plans as plans_module
from bot.core.intake import Intake
from bot.core.plans import OwnedPlan, PlanMade, PlanService, RateLimit
from bot.core.refusals import (
    CannotChange,
    EmptyPrompt,
    Gone,
    NotYours,
    PlanRateLimited,
    Refused,
    Restarting,
    SectionKept,
)
from bot.core.requester import Requester
from bot.music import MusicPrompt, parse_plan
from bot.music import plans as plan_parts
from tests.unit.core.conftest import ALICE, BOB, CHANNEL, MOD, OTHER_GUILD, Core

PLAN = MusicPrompt.model_validate(
    {
        "positive_global_styles": ["pop", "synth"],
        "negative_global_styles": ["metal"],
        "sections": [
            {
                "section_name": "Intro",
                "duration_ms": 5000,
                "positive_local_styles": ["soft pads"],
                "negative_local_styles": ["drums"],
                "lines": [],
            },
            {
                "section_name": "Verse",
                "duration_ms": 10000,
                "positive_local_styles": ["driving bass"],
                "negative_local_styles": ["autotune"],
                "lines": ["Hello", "World"],
            },
        ],
    }
)


class Clock:
    """time.monotonic for RateLimit, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    # Only the plans module's clock: the event loop keeps the real one.
    monkeypatch.setattr(plans_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


# -- 4. plans are rate-limited per member -------------------------------------------------------


async def test_plans_are_rate_limited_per_member(core: Core) -> None:
    # plans_per_minute=3 in the fixture.
    for _ in range(3):
        assert core.plans.may_plan(ALICE, "lofi", 30) is None
    refused = core.plans.may_plan(ALICE, "lofi", 30)
    assert isinstance(refused, Refused) and isinstance(refused.reason, PlanRateLimited)
    assert 0 < refused.reason.wait_s <= 60
    # Another member, and the same member in another server, have rates of their own.
    assert core.plans.may_plan(BOB, "lofi", 30) is None
    elsewhere = Requester(guild_id=OTHER_GUILD, channel_id=CHANNEL, user_id=ALICE.user_id)
    assert core.plans.may_plan(elsewhere, "lofi", 30) is None


async def test_an_invalid_plan_request_is_refused_without_using_the_rate(core: Core) -> None:
    for _ in range(5):
        assert core.plans.may_plan(ALICE, "  ", 30) == Refused(EmptyPrompt())
    for _ in range(3):
        assert core.plans.may_plan(ALICE, "lofi", 30) is None
    assert isinstance(core.plans.may_plan(ALICE, "lofi", 30), Refused)


async def test_no_plans_while_restarting(core: Core) -> None:
    intake = Intake()
    async with httpx.AsyncClient() as downloads:
        plans = PlanService(core.music, core.plan_store, core.tracks, downloads, intake=intake)
        assert plans.may_plan(ALICE, "lofi", 30) is None
        intake.accepting = False
        assert plans.may_plan(ALICE, "lofi", 30) == Refused(Restarting())


def test_rate_limit_allows_limit_uses_per_period_and_says_how_long_to_wait(
    clock: Clock,
) -> None:
    limit = RateLimit(2, 60.0)
    alice, bob = (1, 100), (1, 200)
    assert limit.wait_time(alice) == 0.0
    clock.now += 10
    assert limit.wait_time(alice) == 0.0
    clock.now += 5
    # The oldest use leaves the window 60 s after it was made: 45 s from now.
    assert limit.wait_time(alice) == pytest.approx(45.0)
    assert limit.wait_time(bob) == 0.0
    # A refusal is not a use: the wait does not grow.
    clock.now += 44
    assert limit.wait_time(alice) == pytest.approx(1.0)
    clock.now += 1
    assert limit.wait_time(alice) == 0.0
    # Now the second use (at +10) and this one (+60) fill the window until +70.
    assert limit.wait_time(alice) == pytest.approx(10.0)


# -- 5. a plan is owned -------------------------------------------------------------------------


async def test_a_plan_is_owned_by_its_member_and_moderators(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned", prompt="pop")

    mine = await core.plans.owned(ALICE, plan_id)
    assert isinstance(mine, OwnedPlan)
    assert mine.record.user_id == ALICE.user_id
    assert mine.plan == PLAN

    assert await core.plans.owned(BOB, plan_id) == Refused(NotYours())

    moderated = await core.plans.owned(MOD, plan_id)
    assert isinstance(moderated, OwnedPlan) and moderated.plan == PLAN


async def test_a_plan_from_another_server_is_gone(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    for requester in (
        Requester(guild_id=OTHER_GUILD, channel_id=CHANNEL, user_id=ALICE.user_id),
        Requester(guild_id=OTHER_GUILD, channel_id=CHANNEL, user_id=MOD.user_id, moderator=True),
    ):
        assert await core.plans.owned(requester, plan_id) == Refused(Gone("plan"))
    assert await core.plans.owned(ALICE, "no-such-plan") == Refused(Gone("plan"))


async def test_another_members_plan_cannot_be_edited(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    before = await core.plan_store.get(plan_id)
    assert await core.plans.edit_section(BOB, plan_id, 0, {"name": "Mine"}) == Refused(NotYours())
    after = await core.plan_store.get(plan_id)
    assert before is not None and after is not None
    assert after.plan_json == before.plan_json


# -- 6. section edits lose nothing --------------------------------------------------------------


async def test_section_edits_lose_nothing(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    before = plan_parts.sections(PLAN)

    edited = await core.plans.edit_section(ALICE, plan_id, 1, {"name": "Chorus", "duration": "12"})

    assert isinstance(edited, OwnedPlan)
    stored = await core.plans.owned(ALICE, plan_id)
    assert isinstance(stored, OwnedPlan)
    assert stored.plan == edited.plan
    intro, chorus = plan_parts.sections(stored.plan)
    assert intro == before[0]
    assert (chorus.name, chorus.duration_ms) == ("Chorus", 12_000)
    # What the form did not send is as it was.
    assert chorus.positive_styles == ("driving bass",)
    assert chorus.negative_styles == ("autotune",)
    assert chorus.lines == ("Hello", "World")
    assert plan_parts.global_styles(stored.plan) == (["pop", "synth"], ["metal"])


async def test_a_section_edit_of_only_the_lyrics_keeps_the_styles(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    edited = await core.plans.edit_section(ALICE, plan_id, 0, {"lyrics": "Da da\nDum"})
    assert isinstance(edited, OwnedPlan)
    intro = plan_parts.sections(edited.plan)[0]
    assert intro.lines == ("Da da", "Dum")
    assert (intro.name, intro.duration_ms) == ("Intro", 5000)
    assert (intro.positive_styles, intro.negative_styles) == (("soft pads",), ("drums",))


@pytest.mark.parametrize(
    "values",
    [{"duration": "1"}, {"duration": "soon"}, {"name": "Chorus", "duration": "1"}],
    ids=["too-short", "not-a-duration", "with-a-valid-field"],
)
async def test_an_invalid_section_edit_changes_nothing(core: Core, values: dict[str, str]) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    before = await core.plan_store.get(plan_id)

    refused = await core.plans.edit_section(ALICE, plan_id, 1, values)

    assert isinstance(refused, Refused) and isinstance(refused.reason, CannotChange)
    assert refused.reason.message
    after = await core.plan_store.get(plan_id)
    assert before is not None and after is not None
    assert after.plan_json == before.plan_json
    assert after.updated_at == before.updated_at
    assert parse_plan(after.plan_json) == PLAN


async def test_a_section_that_is_gone_cannot_be_edited(core: Core) -> None:
    plan_id = await core.plans.save(ALICE, PLAN, origin="planned")
    refused = await core.plans.edit_section(ALICE, plan_id, 5, {"name": "Bridge"})
    assert isinstance(refused, Refused) and isinstance(refused.reason, CannotChange)
    assert await core.plans.section(ALICE, plan_id, 5) == Refused(Gone("section"))


async def test_a_kept_section_is_not_offered_for_editing(core: Core) -> None:
    kept = plan_parts.redo_section(PLAN, "song-1", 1)
    plan_id = await core.plans.save(ALICE, kept, origin="track")
    assert await core.plans.section(ALICE, plan_id, 0) == Refused(SectionKept())
    found = await core.plans.section(ALICE, plan_id, 1)
    assert not isinstance(found, Refused)
    assert found[1].name == "Verse"


async def test_a_copied_track_plan_is_a_new_plan_of_the_presser(core: Core) -> None:
    await core.tracks.save(
        track_id="t1",
        guild_id=ALICE.guild_id,
        channel_id=CHANNEL,
        user_id=ALICE.user_id,
        request_json="{}",
        plan_json=PLAN.model_dump_json(),
        song_id=None,
        title=None,
        length_s=15,
    )
    assert await core.plans.copy_from_track(BOB, "t1") == Refused(NotYours())
    made = await core.plans.copy_from_track(MOD, "t1")
    assert isinstance(made, PlanMade)
    record = await core.plan_store.get(made.plan_id)
    assert record is not None and (record.user_id, record.origin) == (MOD.user_id, "track")
