"""What a member orders, and the limits an order must meet before anything is spent."""

from __future__ import annotations

from dataclasses import dataclass

from bot.music import ChunkPlan, ComposeRequest
from bot.music import plans as plan_parts
from bot.music.models import LENGTH_MAX_MS, LENGTH_MIN_MS, PROMPT_MAX_CHARS, ModelId
from bot.music.plans import Plan
from bot.music.text import control_character, describe_character

from .refusals import (
    ControlCharacter,
    EmptyPrompt,
    LengthOutOfRange,
    PromptAndPlan,
    PromptTooLong,
    Refusal,
    WrongPlanShape,
)

MIN_SECONDS = LENGTH_MIN_MS // 1000
MAX_SECONDS = LENGTH_MAX_MS // 1000
# /music compose with a prompt and no length.
DEFAULT_LENGTH_S = 30
# How much "Extend" adds after the end of a track.
EXTEND_MS = 30_000


@dataclass(frozen=True, slots=True)
class ComposeOrder:
    """What a member asked for: a prompt and a length, or a composition plan."""

    prompt: str | None
    length_s: int
    instrumental: bool = False
    plan: Plan | None = None
    seed: int | None = None

    @classmethod
    def for_plan(cls, plan: Plan, *, seed: int | None = None) -> ComposeOrder:
        return cls(None, plan_parts.duration_seconds(plan), plan=plan, seed=seed)

    @classmethod
    def from_request(cls, request: ComposeRequest) -> ComposeOrder:
        """The order behind a stored request (a job to retry, a track to regenerate)."""
        if request.composition_plan is not None:
            return cls.for_plan(request.composition_plan, seed=request.seed)
        length_ms = request.music_length_ms or LENGTH_MIN_MS
        return cls(request.prompt, round(length_ms / 1000), bool(request.force_instrumental))

    @property
    def headline(self) -> str:
        """What the track is, in a line: the prompt, or the plan's sections."""
        if self.plan is not None:
            return "Composition plan: " + plan_parts.summary(self.plan)
        return self.prompt or ""


def check_order(order: ComposeOrder, model_id: ModelId) -> Refusal | None:
    """Why the order cannot be composed, or None."""
    if order.plan is not None:
        if order.prompt is not None:
            return PromptAndPlan()
        wants_chunks = model_id != "music_v1"
        if isinstance(order.plan, ChunkPlan) != wants_chunks:
            shape = "chunks" if isinstance(order.plan, ChunkPlan) else "sections"
            return WrongPlanShape(shape, model_id)
        return None
    prompt = order.prompt or ""
    if not prompt.strip():
        return EmptyPrompt()
    if len(prompt) > PROMPT_MAX_CHARS:
        return PromptTooLong(len(prompt), PROMPT_MAX_CHARS)
    control = control_character(prompt)
    if control is not None:
        return ControlCharacter(describe_character(control))
    if not MIN_SECONDS <= order.length_s <= MAX_SECONDS:
        return LengthOutOfRange(order.length_s, MIN_SECONDS, MAX_SECONDS)
    return None
