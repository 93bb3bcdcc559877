"""The buttons and menu under a plan: compose it, edit a section, edit its global styles."""

from __future__ import annotations

from typing import Any, Protocol, cast

import discord

from bot.music.plans import PlanSection

from .handlers import PLANS_COG, Interaction, handler
from .items import ROW_ID, RowButton, SectionMenu, row_view, section_option
from .modals import part_label, section_parts


class PlanButtons(Protocol):
    """The cog behind the buttons under a plan, and Show plan / Edit & compose."""

    async def compose_plan(self, interaction: Interaction, plan_id: str) -> None: ...
    async def pick_section(self, interaction: Interaction, plan_id: str) -> None: ...
    async def open_section(
        self, interaction: Interaction, plan_id: str, index: int, part: int
    ) -> None: ...
    async def open_styles(self, interaction: Interaction, plan_id: str) -> None: ...
    async def show_track_plan(self, interaction: Interaction, track_id: str) -> None: ...
    async def edit_track_plan(self, interaction: Interaction, track_id: str) -> None: ...


def _plans(interaction: Interaction) -> PlanButtons:
    return cast(PlanButtons, handler(interaction, PLANS_COG))


class ComposePlanButton(RowButton, template=rf"music:plan:compose:{ROW_ID}"):
    prefix = "music:plan:compose"
    label = "Compose this plan"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).compose_plan(interaction, self.row_id)


class EditSectionButton(RowButton, template=rf"music:plan:section:{ROW_ID}"):
    prefix = "music:plan:section"
    label = "Edit section…"
    emoji = "✏️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).pick_section(interaction, self.row_id)


class EditStylesButton(RowButton, template=rf"music:plan:styles:{ROW_ID}"):
    prefix = "music:plan:styles"
    label = "Edit global styles…"
    emoji = "🎚️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).open_styles(interaction, self.row_id)


class EditSectionMenu(SectionMenu, template=rf"music:plan:pick:{ROW_ID}(?::\d+)?"):
    prefix = "music:plan:pick"
    placeholder = "Choose the section to edit"

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        index, part = self.chosen(interaction)
        await _plans(interaction).open_section(interaction, self.row_id, index, part)

    @classmethod
    def for_plan(cls, plan_id: str, sections: list[PlanSection]) -> discord.ui.View:
        """Every section, and each further part of a section too long for one form."""
        options = []
        for number, section in enumerate(sections, start=1):
            parts = section_parts(section)
            options.append(section_option(number, section))
            options += [
                section_option(number, section, part=n, what=part_label(parts[n - 1]))
                for n in range(2, len(parts) + 1)
            ]
        return row_view(*cls.menus(plan_id, options))


def plan_view(plan_id: str, *, has_global_styles: bool, suggested: bool = False) -> discord.ui.View:
    label = "Compose the suggested plan" if suggested else None
    items: list[discord.ui.Item[Any]] = [
        ComposePlanButton(plan_id, label=label),
        EditSectionButton(plan_id),
    ]
    if has_global_styles:
        items.append(EditStylesButton(plan_id))
    return row_view(*items)


# -- under a posted track: its plan -------------------------------------------------------


class ShowPlanButton(RowButton, template=rf"music:track:plan:{ROW_ID}"):
    prefix = "music:track:plan"
    label = "Show plan"
    emoji = "📋"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).show_track_plan(interaction, self.row_id)


class EditAndComposeButton(RowButton, template=rf"music:track:edit:{ROW_ID}"):
    prefix = "music:track:edit"
    label = "Edit & compose"
    emoji = "✏️"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).edit_track_plan(interaction, self.row_id)
