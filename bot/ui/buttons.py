"""Buttons and menus that keep working after a restart: the custom_id names a database row, and
the row holds the state (a suggested prompt, an interrupted job, a plan, a posted track).

Each item only forwards the press to a flow; who may press it is the flow's decision.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.music.plans import PlanSection

from .text import duration

if TYPE_CHECKING:
    from bot.app import MusicBot

_ROW_ID = r"(?P<id>[0-9a-f]{32})"


class _RowButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A persistent button for one row; subclasses give the look and the template."""

    prefix: ClassVar[str]
    label: ClassVar[str]
    emoji: ClassVar[str]
    style: ClassVar[discord.ButtonStyle]

    def __init__(self, row_id: str, *, disabled: bool = False, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=f"{self.prefix}:{row_id}",
                disabled=disabled,
            )
        )
        self.row_id = row_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[MusicBot],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> _RowButton:
        return cls(match["id"])

    @classmethod
    def as_view(cls, row_id: str, *, disabled: bool = False) -> discord.ui.View:
        return row_view(cls(row_id, disabled=disabled))


class _SectionMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"(?!)"):
    """A persistent menu listing a plan's sections; the chosen value is the section's index."""

    prefix: ClassVar[str]
    placeholder: ClassVar[str]

    def __init__(self, row_id: str, sections: list[PlanSection] | None = None) -> None:
        options = [
            discord.SelectOption(
                label=f"{number}. {section.name}"[:100],
                description=f"{duration(section.duration_ms / 1000)}"
                + (" · kept" if section.kept else ""),
                value=str(number - 1),
            )
            for number, section in enumerate((sections or [])[:25], start=1)
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"{self.prefix}:{row_id}",
                placeholder=self.placeholder,
                options=options or [discord.SelectOption(label="—", value="0")],
            )
        )
        self.row_id = row_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[MusicBot],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> _SectionMenu:
        return cls(match["id"])

    @staticmethod
    def chosen(interaction: discord.Interaction) -> int:
        """The chosen section's index, or -1 when the press carried none."""
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values") or ["-1"]
        try:
            return int(values[0])
        except (TypeError, ValueError):
            return -1


def row_view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


# -- under a copyright refusal and an interrupted job -------------------------------------------


class UseSuggestionButton(_RowButton, template=rf"music:suggest:{_ROW_ID}"):
    prefix = "music:suggest"
    label = "Compose with this"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.use_suggestion(interaction, self.row_id)


class RetryButton(_RowButton, template=rf"music:retry:{_ROW_ID}"):
    prefix = "music:retry"
    label = "Try again"
    emoji = "🔁"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.retry(interaction, self.row_id)


# -- under a plan -------------------------------------------------------------------------------


class ComposePlanButton(_RowButton, template=rf"music:plan:compose:{_ROW_ID}"):
    prefix = "music:plan:compose"
    label = "Compose this plan"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.compose(interaction, self.row_id)


class EditSectionButton(_RowButton, template=rf"music:plan:section:{_ROW_ID}"):
    prefix = "music:plan:section"
    label = "Edit section…"
    emoji = "✏️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.pick_section(interaction, self.row_id)


class EditStylesButton(_RowButton, template=rf"music:plan:styles:{_ROW_ID}"):
    prefix = "music:plan:styles"
    label = "Edit global styles…"
    emoji = "🎚️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.open_styles(interaction, self.row_id)


class EditSectionMenu(_SectionMenu, template=rf"music:plan:pick:{_ROW_ID}"):
    prefix = "music:plan:pick"
    placeholder = "Choose the section to edit"

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.open_section(
            interaction, self.row_id, self.chosen(interaction)
        )


def plan_view(plan_id: str, *, has_global_styles: bool, suggested: bool = False) -> discord.ui.View:
    label = "Compose the suggested plan" if suggested else None
    items: list[discord.ui.Item[Any]] = [
        ComposePlanButton(plan_id, label=label),
        EditSectionButton(plan_id),
    ]
    if has_global_styles:
        items.append(EditStylesButton(plan_id))
    return row_view(*items)


# -- under a posted track -----------------------------------------------------------------------


class RegenerateButton(_RowButton, template=rf"music:track:again:{_ROW_ID}"):
    prefix = "music:track:again"
    label = "Regenerate"
    emoji = "🎲"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.regenerate(interaction, self.row_id)


class ShowPlanButton(_RowButton, template=rf"music:track:plan:{_ROW_ID}"):
    prefix = "music:track:plan"
    label = "Show plan"
    emoji = "📋"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.show_track_plan(interaction, self.row_id)


class ExtendButton(_RowButton, template=rf"music:track:extend:{_ROW_ID}"):
    prefix = "music:track:extend"
    label = "Extend"
    emoji = "➕"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.extend(interaction, self.row_id)


class RedoSectionButton(_RowButton, template=rf"music:track:redo:{_ROW_ID}"):
    prefix = "music:track:redo"
    label = "Redo a section"
    emoji = "🔂"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.pick_redo_section(interaction, self.row_id)


class RedoSectionMenu(_SectionMenu, template=rf"music:track:redopick:{_ROW_ID}"):
    prefix = "music:track:redopick"
    placeholder = "Choose the section to compose again"

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.redo_section(
            interaction, self.row_id, self.chosen(interaction)
        )


class EditAndComposeButton(_RowButton, template=rf"music:track:edit:{_ROW_ID}"):
    prefix = "music:track:edit"
    label = "Edit & compose"
    emoji = "✏️"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.plan_flow.edit_track_plan(interaction, self.row_id)


def track_view(track_id: str, *, inpainting: bool) -> discord.ui.View:
    items: list[discord.ui.Item[Any]] = [RegenerateButton(track_id), ShowPlanButton(track_id)]
    if inpainting:
        items += [ExtendButton(track_id), RedoSectionButton(track_id)]
    return row_view(*items)


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    UseSuggestionButton,
    RetryButton,
    ComposePlanButton,
    EditSectionButton,
    EditStylesButton,
    EditSectionMenu,
    RegenerateButton,
    ShowPlanButton,
    ExtendButton,
    RedoSectionButton,
    RedoSectionMenu,
    EditAndComposeButton,
)
