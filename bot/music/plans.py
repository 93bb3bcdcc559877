"""Reading and changing composition plans, whichever model's shape they have.

A v1 plan (`MusicPrompt`) has global styles and sections; a v2 plan (`ChunkPlan`) has chunks
whose text starts with a `[Section]` name. Both are seen here as a list of `PlanSection`s, so
editing, extending and redoing a section work the same for each. Every change returns a new,
validated plan (plans are frozen) or raises `InvalidInput` with a sentence a member can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import pydantic

from .errors import InvalidInput
from .models import (
    LENGTH_MAX_MS,
    LENGTH_MIN_MS,
    LINE_MAX_CHARS,
    MAX_LINES,
    MAX_SECTIONS,
    MAX_STYLES,
    SECTION_MAX_MS,
    SECTION_MIN_MS,
    AudioRefChunk,
    ChunkPlan,
    GenerationChunk,
    MusicPrompt,
    Section,
)
from .text import control_character, describe_character

Plan = MusicPrompt | ChunkPlan
NAME_MAX_CHARS = 100
STYLE_MAX_CHARS = 100
_SECTION_HEADER = re.compile(r"^\[([^\]\n]{1,100})\]\s*(?:\n|$)")


@dataclass(frozen=True, slots=True)
class PlanSection:
    """One section of a plan, in either model's shape."""

    name: str
    duration_ms: int
    positive_styles: tuple[str, ...] = ()
    negative_styles: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    # Set when the section keeps a slice of a stored song instead of generating (inpainting).
    source_song_id: str | None = None
    source_start_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def kept(self) -> bool:
        return self.source_song_id is not None

    def fresh(self) -> PlanSection:
        """This section to be generated anew, not kept from a stored song."""
        return replace(self, source_song_id=None, source_start_ms=0)

    def kept_from(self, song_id: str, start_ms: int) -> PlanSection:
        """This section kept as it is in a stored song, from `start_ms` on."""
        return replace(self, source_song_id=song_id, source_start_ms=start_ms)


def sections(plan: Plan) -> list[PlanSection]:
    if isinstance(plan, MusicPrompt):
        return [
            PlanSection(
                name=s.section_name,
                duration_ms=s.duration_ms,
                positive_styles=tuple(s.positive_local_styles),
                negative_styles=tuple(s.negative_local_styles),
                lines=tuple(s.lines),
                source_song_id=s.source_from.song_id if s.source_from else None,
                source_start_ms=s.source_from.range.start_ms if s.source_from else 0,
            )
            for s in plan.sections
        ]
    result = []
    for index, chunk in enumerate(plan.chunks, start=1):
        if isinstance(chunk, AudioRefChunk):
            result.append(
                PlanSection(
                    name=f"Kept audio {index}",
                    duration_ms=chunk.duration_ms,
                    source_song_id=chunk.song_id,
                    source_start_ms=chunk.range.start_ms,
                )
            )
            continue
        name, lines = _split_chunk_text(chunk.text, index)
        result.append(
            PlanSection(
                name=name,
                duration_ms=chunk.duration_ms,
                positive_styles=tuple(chunk.positive_styles),
                negative_styles=tuple(chunk.negative_styles or ()),
                lines=tuple(lines),
                extra={
                    k: v
                    for k, v in chunk.to_wire().items()
                    if k not in ("text", "duration_ms", "positive_styles", "negative_styles")
                },
            )
        )
    return result


def global_styles(plan: Plan) -> tuple[list[str], list[str]] | None:
    """(positive, negative) global styles; None for v2 plans, which have none."""
    if isinstance(plan, MusicPrompt):
        return list(plan.positive_global_styles), list(plan.negative_global_styles)
    return None


def lyrics(plan: Plan) -> list[tuple[str, list[str]]]:
    """(section name, lines) for every section that has lyrics."""
    return [(s.name, list(s.lines)) for s in sections(plan) if s.lines]


def summary(plan: Plan, limit: int = 80) -> str:
    """What a plan is in a line, like `Intro · Verse · Chorus +3`."""
    names = [s.name for s in sections(plan)]
    text = ""
    for shown, name in enumerate(names):
        candidate = f"{text} · {name}" if text else name
        if len(candidate) > limit - 4:
            return f"{text} +{len(names) - shown}"
        text = candidate
    return text


def duration_seconds(plan: Plan) -> int:
    """Whole seconds, rounded up: what a quota is charged for this plan."""
    return -(-plan.duration_ms // 1000)


def rebuild(
    plan: Plan,
    new_sections: list[PlanSection],
    *,
    styles: tuple[list[str], list[str]] | None = None,
) -> Plan:
    """A plan of the same shape as `plan` made of `new_sections`, validated."""
    if not new_sections:
        raise InvalidInput("A plan needs at least one section.")
    if len(new_sections) > MAX_SECTIONS:
        raise InvalidInput(f"A plan can have at most {MAX_SECTIONS} sections.")
    total = sum(s.duration_ms for s in new_sections)
    if not LENGTH_MIN_MS <= total <= LENGTH_MAX_MS:
        raise InvalidInput(
            f"The whole plan would last {_clock(total)}; it must be between "
            f"{_clock(LENGTH_MIN_MS)} and {_clock(LENGTH_MAX_MS)}."
        )
    try:
        if isinstance(plan, MusicPrompt):
            positive, negative = styles or global_styles(plan) or ([], [])
            return MusicPrompt(
                positive_global_styles=positive,
                negative_global_styles=negative,
                sections=[_v1_section(s) for s in new_sections],
            )
        return ChunkPlan(chunks=[_v2_chunk(s) for s in new_sections])
    except pydantic.ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None


def replace_section(plan: Plan, index: int, section: PlanSection) -> Plan:
    current = sections(plan)
    if not 0 <= index < len(current):
        raise InvalidInput("That section is no longer in the plan.")
    current[index] = section
    return rebuild(plan, current)


def with_global_styles(plan: Plan, positive: list[str], negative: list[str]) -> Plan:
    if not isinstance(plan, MusicPrompt):
        raise InvalidInput("This plan's model has no global styles; edit each section instead.")
    return rebuild(plan, sections(plan), styles=(positive, negative))


def _kept(song_id: str, original: list[PlanSection]) -> list[PlanSection]:
    """Every section of a stored song, each keeping its own slice of the audio."""
    kept, start = [], 0
    for section in original:
        kept.append(section.kept_from(song_id, start))
        start += section.duration_ms
    return kept


def extend(plan: Plan, song_id: str, add_ms: int, *, name: str = "Extension") -> Plan:
    """The stored song kept as it is, plus one new section after its end."""
    original = sections(plan)
    room = LENGTH_MAX_MS - plan.duration_ms
    add_ms = min(add_ms, room, SECTION_MAX_MS)
    if add_ms < SECTION_MIN_MS:
        raise InvalidInput(f"This track is already as long as a track can be ({_clock(room)}).")
    if len(original) >= MAX_SECTIONS:
        raise InvalidInput(f"This track already has {MAX_SECTIONS} sections, the most a plan can.")
    last = original[-1]
    added = PlanSection(
        name=name,
        duration_ms=add_ms,
        positive_styles=last.positive_styles,
        negative_styles=last.negative_styles,
    )
    return rebuild(plan, [*_kept(song_id, original), added])


def redo_section(plan: Plan, song_id: str, index: int) -> Plan:
    """The stored song with one section generated again and the others kept."""
    original = sections(plan)
    if not 0 <= index < len(original):
        raise InvalidInput("That section is not in this track's plan.")
    kept = _kept(song_id, original)
    kept[index] = original[index].fresh()
    return rebuild(plan, kept)


# -- reading what a member typed ----------------------------------------------------------------


def parse_seconds(text: str) -> int:
    """Milliseconds of one section from `15`, `15s` or `1:30`, within the API's limits."""
    cleaned = text.strip().lower().removesuffix("s").strip()
    match = re.fullmatch(r"(?:(\d{1,2}):)?(\d{1,4}(?:\.\d+)?)", cleaned)
    if match is None:
        raise InvalidInput(
            f"“{text.strip()[:20]}” is not a duration: write seconds like 15, or 1:30."
        )
    minutes, seconds = match.groups()
    total_ms = round((int(minutes or 0) * 60 + float(seconds)) * 1000)
    if not SECTION_MIN_MS <= total_ms <= SECTION_MAX_MS:
        raise InvalidInput(
            f"A section lasts {SECTION_MIN_MS // 1000} to {SECTION_MAX_MS // 1000} seconds "
            f"(you wrote {text.strip()[:20]})."
        )
    return total_ms


def _refuse_controls(text: str, what: str) -> None:
    found = control_character(text)
    if found is not None:
        raise InvalidInput(
            f"There is an invisible control character, {describe_character(found)}, in the "
            f"{what}; please remove it."
        )


def parse_styles(text: str, what: str = "styles") -> list[str]:
    """Comma- or line-separated styles, trimmed, without blanks or repeats."""
    _refuse_controls(text, what)
    styles: list[str] = []
    for raw in re.split(r"[,\n]", text):
        style = " ".join(raw.split())
        if style and style.lower() not in (s.lower() for s in styles):
            styles.append(style)
    if len(styles) > MAX_STYLES:
        raise InvalidInput(f"At most {MAX_STYLES} {what}, please (you gave {len(styles)}).")
    long = next((s for s in styles if len(s) > STYLE_MAX_CHARS), None)
    if long is not None:
        raise InvalidInput(f"Each of the {what} must be at most {STYLE_MAX_CHARS} characters.")
    return styles


def parse_lyrics(text: str) -> list[str]:
    _refuse_controls(text, "lyrics")
    lines = [line.rstrip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line.strip()]
    if len(lines) > MAX_LINES:
        raise InvalidInput(
            f"A section holds at most {MAX_LINES} lyric lines (you gave {len(lines)})."
        )
    for number, line in enumerate(lines, start=1):
        if len(line) > LINE_MAX_CHARS:
            raise InvalidInput(
                f"Lyric line {number} is {len(line)} characters; the limit is {LINE_MAX_CHARS}."
            )
    return lines


def parse_name(text: str) -> str:
    _refuse_controls(text, "section name")
    name = " ".join(text.split())
    if not name:
        raise InvalidInput("The section needs a name.")
    if len(name) > NAME_MAX_CHARS or "[" in name or "]" in name:
        raise InvalidInput(
            f"A section name is 1 to {NAME_MAX_CHARS} characters, without square brackets."
        )
    return name


# -- the two shapes -----------------------------------------------------------------------------


def _split_chunk_text(text: str, index: int) -> tuple[str, list[str]]:
    match = _SECTION_HEADER.match(text.lstrip())
    body = text.lstrip()[match.end() :] if match else text
    name = match.group(1).strip() if match else f"Part {index}"
    return name, [line for line in body.splitlines() if line.strip()]


def _v1_section(section: PlanSection) -> Section:
    source = None
    if section.source_song_id is not None:
        start = section.source_start_ms
        source = {
            "song_id": section.source_song_id,
            "range": {"start_ms": start, "end_ms": start + section.duration_ms},
        }
    return Section.model_validate(
        {
            "section_name": section.name,
            "positive_local_styles": list(section.positive_styles),
            "negative_local_styles": list(section.negative_styles),
            "duration_ms": section.duration_ms,
            "lines": list(section.lines),
            "source_from": source,
        }
    )


def _v2_chunk(section: PlanSection) -> GenerationChunk | AudioRefChunk:
    if section.source_song_id is not None:
        start = section.source_start_ms
        return AudioRefChunk.model_validate(
            {
                "song_id": section.source_song_id,
                "range": {"start_ms": start, "end_ms": start + section.duration_ms},
            }
        )
    text = "\n".join([f"[{section.name}]", *section.lines])
    return GenerationChunk.model_validate(
        {
            **section.extra,
            "text": text,
            "duration_ms": section.duration_ms,
            "positive_styles": list(section.positive_styles),
            "negative_styles": list(section.negative_styles),
        }
    )


def _clock(ms: int) -> str:
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}:{seconds:02d}"
