"""Forms for editing a plan. They only collect text; PlanFlow checks it against the API limits.

A Discord form holds at most five text inputs of at most 4,000 characters, and a section can
hold more than that (30 lyric lines of 200 characters, 50 styles of 100). So each field is
split across as many inputs as its text needs, never inside a line or a style, and a section's
fields are spread over as many forms ("parts") as the inputs need. Nothing is ever cut off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import discord

from bot.music.models import LINE_MAX_CHARS, MAX_LINES
from bot.music.plans import NAME_MAX_CHARS, PlanSection

from . import text
from .handlers import PLANS_COG, Interaction, handler


class PlanForms(Protocol):
    async def save_section(
        self, interaction: Interaction, plan_id: str, index: int, values: dict[str, str]
    ) -> None: ...

    async def save_styles(
        self, interaction: Interaction, plan_id: str, *, styles: str, avoid: str
    ) -> None: ...


log = logging.getLogger(__name__)

# A form left open longer than this is forgotten; its submit then says so.
FORM_TIMEOUT = 15 * 60
TEXT_MAX = 4000  # Discord's longest text input
FORM_INPUTS = 5  # Discord's most text inputs in one form


@dataclass(frozen=True, slots=True)
class FormField:
    """One thing a member edits, as the text inputs it takes (one unless it is long)."""

    key: str
    label: str
    chunks: tuple[str, ...]
    description: str | None = None
    paragraph: bool = True
    required: bool = False
    max_length: int = TEXT_MAX

    @classmethod
    def of_items(
        cls, key: str, label: str, items: Sequence[str], separator: str, **options: Any
    ) -> FormField:
        """A field listing `items` (styles, lyric lines), split between whole items."""
        chunks: list[str] = []
        current = ""
        for item in items:
            joined = f"{current}{separator}{item}" if current else item
            if len(joined) > TEXT_MAX and current:
                chunks.append(current)
                joined = item
            current = joined
        chunks.append(current)
        return cls(key, label, tuple(chunks), **options)

    def input_ids(self) -> list[str]:
        """`lyrics`, `lyrics:2`, …: one custom_id per input."""
        return [self.key if n == 1 else f"{self.key}:{n}" for n in range(1, len(self.chunks) + 1)]


def form_parts(fields: Sequence[FormField]) -> list[list[FormField]]:
    """The fields in order, whole, packed into forms of at most five inputs."""
    parts: list[list[FormField]] = [[]]
    for form_field in fields:
        used = sum(len(f.chunks) for f in parts[-1])
        if parts[-1] and used + len(form_field.chunks) > FORM_INPUTS:
            parts.append([])
        parts[-1].append(form_field)
    return parts


def section_fields(section: PlanSection) -> list[FormField]:
    return [
        FormField(
            "name",
            "Name",
            (section.name,),
            paragraph=False,
            required=True,
            max_length=NAME_MAX_CHARS,
        ),
        FormField(
            "duration",
            "Duration (seconds)",
            (f"{section.duration_ms / 1000:g}",),
            description="3 to 120 seconds, like 15 or 1:30",
            paragraph=False,
            required=True,
            max_length=8,
        ),
        FormField.of_items(
            "styles",
            "Styles",
            section.positive_styles,
            ", ",
            description="Comma-separated, at most 50",
        ),
        FormField.of_items("avoid", "Styles to avoid", section.negative_styles, ", "),
        FormField.of_items(
            "lyrics",
            "Lyrics",
            section.lines,
            "\n",
            description=f"One line each: at most {MAX_LINES} lines of {LINE_MAX_CHARS} characters",
        ),
    ]


def section_parts(section: PlanSection) -> list[list[FormField]]:
    return form_parts(section_fields(section))


def part_label(part: Sequence[FormField]) -> str:
    """What a part of a section's form edits: `lyrics`, `styles to avoid, lyrics`."""
    return ", ".join(f.label.lower() for f in part)


class _Form(discord.ui.Modal):
    """A form of `fields`; on submit, each field's inputs are joined back into one text."""

    def __init__(self, title: str, fields: Sequence[FormField]) -> None:
        super().__init__(title=title[:45], timeout=FORM_TIMEOUT)
        self._inputs: dict[str, list[discord.ui.TextInput[Any]]] = {}
        for form_field in fields:
            count = len(form_field.chunks)
            for number, (custom_id, chunk) in enumerate(
                zip(form_field.input_ids(), form_field.chunks, strict=True), start=1
            ):
                text_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
                    custom_id=custom_id,
                    style=(
                        discord.TextStyle.paragraph
                        if form_field.paragraph
                        else discord.TextStyle.short
                    ),
                    default=chunk or None,
                    required=form_field.required,
                    max_length=form_field.max_length,
                )
                label = form_field.label if count == 1 else f"{form_field.label} ({number}/{count})"
                self.add_item(
                    discord.ui.Label(
                        text=label[:45],
                        description=form_field.description if number == 1 else None,
                        component=text_input,
                    )
                )
                self._inputs.setdefault(form_field.key, []).append(text_input)

    def values(self) -> dict[str, str]:
        """What was submitted, by field; a split field's inputs are joined by line breaks
        (the parsers take styles by comma or line, lyrics by line)."""
        return {
            key: "\n".join(i.value for i in inputs if i.value)
            for key, inputs in self._inputs.items()
        }

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: Exception, /
    ) -> None:
        log.error("form %s failed", type(self).__name__, exc_info=error)
        message = text.SOMETHING_WENT_WRONG
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)


class SectionForm(_Form):
    def __init__(self, plan_id: str, index: int, section: PlanSection, part: int = 1) -> None:
        parts = section_parts(section)
        title = f"Edit section {index + 1}"
        if len(parts) > 1:
            title += f" ({part} of {len(parts)})"
        super().__init__(title, parts[part - 1])
        self.plan_id, self.index = plan_id, index

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await cast(PlanForms, handler(interaction, PLANS_COG)).save_section(
            interaction, self.plan_id, self.index, self.values()
        )


class StylesForm(_Form):
    def __init__(self, plan_id: str, positive: list[str], negative: list[str]) -> None:
        super().__init__(
            "Edit global styles",
            [
                FormField.of_items(
                    "styles",
                    "Styles for the whole track",
                    positive,
                    ", ",
                    description="Comma-separated, at most 50",
                ),
                FormField.of_items("avoid", "Styles to avoid", negative, ", "),
            ],
        )
        self.plan_id = plan_id

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        values = self.values()
        await cast(PlanForms, handler(interaction, PLANS_COG)).save_styles(
            interaction, self.plan_id, styles=values["styles"], avoid=values["avoid"]
        )
