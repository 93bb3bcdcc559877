"""Forms for editing a plan. They only collect text; PlanFlow checks it against the API limits."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.music.models import LINE_MAX_CHARS, MAX_LINES
from bot.music.plans import NAME_MAX_CHARS, PlanSection
from bot.tree import send_ephemeral

if TYPE_CHECKING:
    from bot.app import MusicBot

log = logging.getLogger(__name__)

# A form left open longer than this is forgotten; its submit then says so.
FORM_TIMEOUT = 15 * 60
_TEXT_MAX = 4000  # Discord's longest text input


def _input(
    label: str,
    custom_id: str,
    value: str,
    *,
    description: str | None = None,
    paragraph: bool = False,
    required: bool = True,
    max_length: int = _TEXT_MAX,
) -> discord.ui.Label[Any]:
    return discord.ui.Label(
        text=label,
        description=description,
        component=discord.ui.TextInput(
            custom_id=custom_id,
            style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
            default=value[:max_length] or None,
            required=required,
            max_length=max_length,
        ),
    )


def _value(item: discord.ui.Label[Any]) -> str:
    component = item.component
    assert isinstance(component, discord.ui.TextInput)
    return component.value


class _Form(discord.ui.Modal):
    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[MusicBot], error: Exception, /
    ) -> None:
        log.error("form %s failed", type(self).__name__, exc_info=error)
        await send_ephemeral(
            interaction, "Something went wrong. It has been logged; please try again."
        )


class SectionForm(_Form):
    def __init__(self, plan_id: str, index: int, section: PlanSection) -> None:
        super().__init__(title=f"Edit section {index + 1}"[:45], timeout=FORM_TIMEOUT)
        self.plan_id, self.index = plan_id, index
        self.name = _input("Name", "name", section.name, max_length=NAME_MAX_CHARS)
        self.duration = _input(
            "Duration (seconds)",
            "duration",
            f"{section.duration_ms / 1000:g}",
            description="3 to 120 seconds, like 15 or 1:30",
            max_length=8,
        )
        self.styles = _input(
            "Styles",
            "styles",
            ", ".join(section.positive_styles),
            description="Comma-separated, at most 50",
            paragraph=True,
            required=False,
        )
        self.avoid = _input(
            "Styles to avoid",
            "avoid",
            ", ".join(section.negative_styles),
            paragraph=True,
            required=False,
        )
        self.lyrics = _input(
            "Lyrics",
            "lyrics",
            "\n".join(section.lines),
            description=f"One line each: at most {MAX_LINES} lines of {LINE_MAX_CHARS} characters",
            paragraph=True,
            required=False,
        )
        for item in (self.name, self.duration, self.styles, self.avoid, self.lyrics):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.save_section(
            interaction,
            self.plan_id,
            self.index,
            name=_value(self.name),
            duration=_value(self.duration),
            styles=_value(self.styles),
            avoid=_value(self.avoid),
            lyrics=_value(self.lyrics),
        )


class StylesForm(_Form):
    def __init__(self, plan_id: str, positive: list[str], negative: list[str]) -> None:
        super().__init__(title="Edit global styles", timeout=FORM_TIMEOUT)
        self.plan_id = plan_id
        self.styles = _input(
            "Styles for the whole track",
            "styles",
            ", ".join(positive),
            description="Comma-separated, at most 50",
            paragraph=True,
            required=False,
        )
        self.avoid = _input(
            "Styles to avoid", "avoid", ", ".join(negative), paragraph=True, required=False
        )
        self.add_item(self.styles)
        self.add_item(self.avoid)

    async def on_submit(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.save_styles(
            interaction, self.plan_id, styles=_value(self.styles), avoid=_value(self.avoid)
        )
