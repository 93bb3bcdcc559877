"""check_order's typed refusals, and the one owner-or-moderator rule."""

from __future__ import annotations

import pytest

from bot.core.orders import MAX_SECONDS, MIN_SECONDS, ComposeOrder, check_order
from bot.core.refusals import (
    ControlCharacter,
    EmptyPrompt,
    LengthOutOfRange,
    PromptAndPlan,
    PromptTooLong,
    Refusal,
    WrongPlanShape,
)
from bot.core.requester import Requester
from bot.music import ChunkPlan, MusicPrompt
from bot.music.models import PROMPT_MAX_CHARS

SECTIONS = MusicPrompt.model_validate(
    {
        "positive_global_styles": ["pop"],
        "negative_global_styles": [],
        "sections": [{"section_name": "Intro", "duration_ms": 5000, "lines": []}],
    }
)
CHUNKS = ChunkPlan.model_validate(
    {"chunks": [{"text": "[Intro]", "duration_ms": 5000, "positive_styles": ["pop"]}]}
)


@pytest.mark.parametrize(
    ("order", "refusal"),
    [
        (ComposeOrder("", 30), EmptyPrompt()),
        (ComposeOrder("   \n\t ", 30), EmptyPrompt()),
        (ComposeOrder(None, 30), EmptyPrompt()),
        (
            ComposeOrder("x" * (PROMPT_MAX_CHARS + 1), 30),
            PromptTooLong(PROMPT_MAX_CHARS + 1, PROMPT_MAX_CHARS),
        ),
        (ComposeOrder("lofi\x07beat", 30), ControlCharacter("U+0007 (BELL)")),
        (
            ComposeOrder("lofi", MIN_SECONDS - 1),
            LengthOutOfRange(MIN_SECONDS - 1, MIN_SECONDS, MAX_SECONDS),
        ),
        (
            ComposeOrder("lofi", MAX_SECONDS + 1),
            LengthOutOfRange(MAX_SECONDS + 1, MIN_SECONDS, MAX_SECONDS),
        ),
        (ComposeOrder("lofi", 5, plan=SECTIONS), PromptAndPlan()),
        (ComposeOrder.for_plan(CHUNKS), WrongPlanShape("chunks", "music_v1")),
    ],
    ids=[
        "empty",
        "blank",
        "none",
        "too-long",
        "control",
        "too-short",
        "too-long-length",
        "prompt-and-plan",
        "chunks-on-v1",
    ],
)
def test_check_order_refusals_are_typed(order: ComposeOrder, refusal: Refusal) -> None:
    assert check_order(order, "music_v1") == refusal


def test_check_order_sections_on_v2_are_the_wrong_shape() -> None:
    assert check_order(ComposeOrder.for_plan(SECTIONS), "music_v2") == WrongPlanShape(
        "sections", "music_v2"
    )


@pytest.mark.parametrize(
    ("order", "model_id"),
    [
        (ComposeOrder("lofi", MIN_SECONDS), "music_v1"),
        (ComposeOrder("x" * PROMPT_MAX_CHARS, MAX_SECONDS), "music_v1"),
        (ComposeOrder("lofi\nbeat", 30), "music_v1"),
        (ComposeOrder.for_plan(SECTIONS), "music_v1"),
        (ComposeOrder.for_plan(CHUNKS), "music_v2"),
    ],
    ids=["shortest", "longest", "newline", "sections-v1", "chunks-v2"],
)
def test_check_order_passes_what_is_within_limits(order: ComposeOrder, model_id: str) -> None:
    assert check_order(order, model_id) is None  # type: ignore[arg-type]


def test_a_plan_order_takes_its_length_from_the_plan() -> None:
    order = ComposeOrder.for_plan(SECTIONS, seed=7)
    assert (order.prompt, order.length_s, order.seed) == (None, 5, 7)
    assert order.headline == "Composition plan: Intro"


def test_requester_may_act_for_self_or_as_moderator_only() -> None:
    member = Requester(guild_id=1, channel_id=2, user_id=10)
    moderator = Requester(guild_id=1, channel_id=2, user_id=11, moderator=True)
    assert member.may_act_for(10)
    assert not member.may_act_for(11)
    assert moderator.may_act_for(10)
    assert moderator.may_act_for(11)
    # Roles are facts for quotas, never an owner's right.
    assert not Requester(1, 2, 12, role_ids=(10,)).may_act_for(10)
