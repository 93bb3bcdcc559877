"""A plan written by hand (a JSON file): read it, and say what is wrong in plain words."""

from __future__ import annotations

import json

import pydantic
from pydantic.alias_generators import to_snake
from pydantic_core import ErrorDetails

from .errors import InvalidInput
from .models import parse_plan
from .plans import Plan

PLAN_SHAPE = "a plan is a JSON object with `sections` (music_v1) or `chunks` (music_v2)"
# What each field of a plan is called in a sentence.
_FIELD_WORDS = {
    "section_name": "name",
    "duration_ms": "duration",
    "positive_local_styles": "positive styles",
    "negative_local_styles": "negative styles",
    "positive_global_styles": "positive global styles",
    "negative_global_styles": "negative global styles",
    "positive_styles": "positive styles",
    "negative_styles": "negative styles",
    "lines": "lyrics",
    "source_from": "source",
    "song_id": "song id",
    "start_ms": "start",
    "end_ms": "end",
    "negative_ranges": "negative ranges",
    "context_adherence": "context adherence",
    "conditioning_ref": "conditioning reference",
    "condition_strength": "condition strength",
}
_MS_FIELDS = ("duration_ms", "start_ms", "end_ms")


def plan_from_json(text: str | bytes) -> Plan:
    """A plan from a JSON document written by hand; InvalidInput says what is wrong and where,
    in seconds and plain words (never pydantic's union names)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg.lower()}"
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput("not valid JSON: the file is not UTF-8 text") from None
    if not isinstance(data, dict):
        kind = "a JSON list" if isinstance(data, list) else f"a JSON {type(data).__name__}"
        raise InvalidInput(f"{PLAN_SHAPE}, not {kind}")
    if ("sections" in data) == ("chunks" in data):
        found = "both" if "sections" in data else "neither"
        raise InvalidInput(f"{PLAN_SHAPE} ({found} found)")
    try:
        return parse_plan(data)
    except pydantic.ValidationError as exc:
        problems = [_plan_problem(error) for error in exc.errors()]
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InvalidInput("; ".join(problems[:3]) + more) from None


def _seconds(ms: float) -> str:
    return f"{ms / 1000:g} s"


def _plan_problem(error: ErrorDetails) -> str:
    where: list[str] = []
    field_name = ""
    parts = [p for p in error["loc"] if p not in ("v1", "v2", "generation", "audio_ref")]
    previous: str | int = ""
    for part in parts:
        if isinstance(part, int):
            if previous == "sections":
                where[-1:] = [f"section {part + 1}"]
            elif previous == "chunks":
                where[-1:] = [f"chunk {part + 1}"]
            elif previous == "lines":
                where[-1:] = [f"lyric line {part + 1}"]
            else:
                where[-1:] = [f"{where[-1] if where else 'item'} {part + 1}"]
        else:
            field_name = to_snake(part)
            where.append(_FIELD_WORDS.get(field_name, field_name.replace("_", " ")))
        previous = part
    label = ": ".join(where)
    kind, ctx, given = error["type"], error.get("ctx", {}), error["input"]
    last = where[-1] if where else "the plan"
    if kind == "missing":
        key = parts[-1] if parts and isinstance(parts[-1], str) else ""
        hint = f" ({key})" if key and key != last else ""
        owner = ": ".join(where[:-1]) or "the plan"
        return f"{owner}: {last}{hint} is missing"
    if field_name in _MS_FIELDS and kind in ("greater_than_equal", "greater_than"):
        limit = ctx.get("ge", ctx.get("gt", 0))
        if field_name == "duration_ms":
            return f"{label} {_seconds(given)} is shorter than {_seconds(limit)}"
        return f"{label} must be at least {limit} ms"
    if field_name in _MS_FIELDS and kind == "less_than_equal":
        return f"{label} {_seconds(given)} is longer than {_seconds(ctx['le'])}"
    if field_name in _MS_FIELDS and kind.startswith("int_"):
        return f"{label} must be a whole number of milliseconds (e.g. 15000 for 15 s)"
    if kind in ("too_short", "too_long"):
        owner = ": ".join(where[:-1]) or "the plan"
        count = ctx["actual_length"]
        if ctx.get("field_type") != "List":
            return f"{label} is {count} characters long; the most is {ctx['max_length']}"
        if kind == "too_short":
            return f"{owner} has no {last}; it needs at least {ctx['min_length']}"
        return f"{owner} has {count} {last}; the most is {ctx['max_length']}"
    if kind == "string_too_short":
        return f"{label} is empty"
    if kind == "string_too_long":
        return f"{label} is longer than {ctx['max_length']} characters"
    if kind in ("string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        expected = {
            "string_type": "text",
            "list_type": "a list",
        }.get(kind, "an object")
        return f"{label or 'the plan'} must be {expected}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{label}: {message}" if label else message
