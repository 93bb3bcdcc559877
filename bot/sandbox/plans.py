"""What the sandbox plans for a prompt, and what it says about a song (its metadata)."""

from __future__ import annotations

import math
import re
from typing import Any

from bot.music.models import (
    AudioRefChunk,
    ChunkPlan,
    GenerationChunk,
    MusicPrompt,
    Section,
)

from .faults import strip_faults
from .render import GENRE_TEMPO, INSTRUMENT_WAVE, Segment

_SECTION_NAMES = ("Intro", "Verse", "Chorus", "Verse 2", "Bridge", "Chorus 2", "Outro")


# -- plans and metadata -------------------------------------------------------------------------


def _style_words(prompt: str) -> list[str]:
    words = re.findall(r"[a-z0-9][a-z0-9'-]*", strip_faults(prompt).lower())
    known = [w for w in words if w in GENRE_TEMPO or w in INSTRUMENT_WAVE]
    return (known or words)[:5]


def plan_from_prompt(
    prompt: str, length_ms: int, model_id: str, *, instrumental: bool = False
) -> MusicPrompt | ChunkPlan:
    """Split the length into sections of at most 30 s, styled by the prompt's words; verses and
    choruses get two lines of lyrics unless the track is instrumental."""
    count = max(1, min(math.ceil(length_ms / 30_000), length_ms // 3_000, 30))
    base, extra = divmod(length_ms, count)
    durations = [base] * (count - 1) + [base + extra]
    styles = _style_words(prompt)
    names = [_SECTION_NAMES[i % len(_SECTION_NAMES)] for i in range(count)]
    words = [w.capitalize() for w in styles] or ["Music"]

    def lines(name: str) -> list[str]:
        if instrumental or not name.startswith(("Verse", "Chorus")):
            return []
        return [f"{words[0]} all through the night", f"{words[-1]} is how we feel ({name})"]

    if model_id == "music_v1":
        return MusicPrompt(
            positive_global_styles=styles,
            negative_global_styles=[],
            sections=[
                Section(section_name=name, duration_ms=ms, lines=lines(name))
                for name, ms in zip(names, durations, strict=True)
            ],
        )
    return ChunkPlan(
        chunks=[
            GenerationChunk(
                text="\n".join([f"[{name}]", *lines(name)]), duration_ms=ms, positive_styles=styles
            )
            for name, ms in zip(names, durations, strict=True)
        ]
    )


def plan_references(plan: MusicPrompt | ChunkPlan | None) -> list[tuple[str, int]]:
    """(song id, end of the range) for every part of the plan that reuses a stored song."""
    if isinstance(plan, MusicPrompt):
        return [
            (s.source_from.song_id, s.source_from.range.end_ms)
            for s in plan.sections
            if s.source_from is not None
        ]
    if isinstance(plan, ChunkPlan):
        return [(c.song_id, c.range.end_ms) for c in plan.chunks if isinstance(c, AudioRefChunk)]
    return []


def plan_segments(plan: MusicPrompt | ChunkPlan) -> tuple[Segment, ...]:
    if isinstance(plan, MusicPrompt):
        shared = tuple(plan.positive_global_styles)
        return tuple(
            Segment(
                s.duration_ms,
                (*shared, *s.positive_local_styles, s.section_name, *" ".join(s.lines).split()),
            )
            for s in plan.sections
        )
    segments = []
    for chunk in plan.chunks:
        if isinstance(chunk, GenerationChunk):
            segments.append(
                Segment(chunk.duration_ms, (*chunk.positive_styles, *chunk.text.split()))
            )
        else:
            segments.append(Segment(chunk.duration_ms, ("reference", chunk.song_id)))
    return tuple(segments)


def song_metadata(prompt: str | None, plan: MusicPrompt | ChunkPlan) -> dict[str, Any]:
    if prompt:
        words = strip_faults(prompt).split()[:4]
        title = " ".join(w.strip(",.!?").capitalize() for w in words) or "Untitled"
        genres = [w for w in _style_words(prompt) if w in GENRE_TEMPO]
    else:
        styles = (
            plan.positive_global_styles
            if isinstance(plan, MusicPrompt)
            else [
                s for c in plan.chunks if isinstance(c, GenerationChunk) for s in c.positive_styles
            ]
        )
        title = " ".join(strip_faults(" ".join(styles)).split()[:3]).title() or "Untitled"
        genres = [s for s in styles if s.lower() in GENRE_TEMPO]
    return {
        "title": title,
        "description": f"A sandbox rendering of: {strip_faults(prompt or title)[:200]}",
        "genres": genres,
        "languages": ["en"],
        "is_explicit": False,
    }


def strip_plan_faults(value: Any) -> Any:
    if isinstance(value, str):
        return strip_faults(value) or "original"
    if isinstance(value, list):
        return [strip_plan_faults(v) for v in value]
    if isinstance(value, dict):
        return {k: strip_plan_faults(v) for k, v in value.items()}
    return value


# -- wire helpers -------------------------------------------------------------------------------
