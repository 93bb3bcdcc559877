"""Composition plans: headings, prompts, autocomplete lines."""

from __future__ import annotations

from .escape import duration, quoted

PLAN_HEADING = "Composition plan"
TRACK_PLAN_HEADING = "The plan behind this track"
COPIED_PLAN_HEADING = "Composition plan (from a track)"
PICK_SECTION = "Which section do you want to edit?"


PICK_REDO_SECTION = "Which section should be composed again? The rest of the track is kept."
SECTION_UPDATED = "✅ Section {number} updated."
STYLES_UPDATED = "✅ Global styles updated."
PLAN_NOT_REDRAWN = "The plan's message could not be updated, but composing it uses the new plan."
_ORIGINS = {"planned": "planned", "suggested": "suggested", "track": "from a track", "file": "file"}


def plan_prompt_refused(suggestion: str) -> str:
    return (
        "🚫 That prompt looks like it names copyrighted music. The music service suggests:\n"
        + quoted(suggestion, 1500)
        + "\nTry `/music plan` with that."
    )


def plan_choice(prompt: str | None, summary: str, length_s: float, origin: str) -> str:
    """An autocomplete line for a saved plan: what it is, its length and where it came from."""
    what = " ".join((prompt or "").split())[:50] or summary[:50]
    return f"{what} · {duration(length_s)} · {_ORIGINS.get(origin, origin)}"
