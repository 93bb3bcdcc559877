"""The building blocks of persistent items: a button for one database row, a menu of a
plan's sections (several when long), and a view that never times out."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import discord

from bot.music.plans import PlanSection
from bot.music.text import displayable

from .handlers import Interaction
from .text import duration

ROW_ID = r"(?P<id>[0-9a-f]{32})"


class RowButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
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
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RowButton:
        return cls(match["id"])

    @classmethod
    def as_view(cls, row_id: str, *, disabled: bool = False) -> discord.ui.View:
        return row_view(cls(row_id, disabled=disabled))


MENU_OPTIONS = 25  # Discord's most options in one select menu


class SectionMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"(?!)"):
    """A persistent menu of a plan's sections (or parts of sections); a long plan takes
    several menus, numbered in the custom_id. A chosen value is `index` or `index.part`."""

    prefix: ClassVar[str]
    placeholder: ClassVar[str]

    def __init__(
        self, row_id: str, options: list[discord.SelectOption] | None = None, page: int = 0
    ) -> None:
        first = page * MENU_OPTIONS + 1
        placeholder = self.placeholder
        if options and page:
            placeholder += f" ({first}–{first + len(options) - 1})"
        super().__init__(
            discord.ui.Select(
                custom_id=f"{self.prefix}:{row_id}" + (f":{page}" if page else ""),
                placeholder=placeholder,
                options=options or [discord.SelectOption(label="—", value="0")],
            )
        )
        self.row_id = row_id

    @classmethod
    def menus(cls, row_id: str, options: list[discord.SelectOption]) -> list[SectionMenu]:
        """As many menus as the options need (at most five fit a message: 125 options)."""
        return [
            cls(row_id, options[start : start + MENU_OPTIONS], page)
            for page, start in enumerate(range(0, len(options), MENU_OPTIONS))
        ]

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SectionMenu:
        return cls(match["id"])

    @staticmethod
    def chosen(interaction: discord.Interaction) -> tuple[int, int]:
        """The chosen (section index, part), or (-1, 1) when the press carried none."""
        data: dict[str, Any] = dict(interaction.data or {})
        value = str((data.get("values") or ["-1"])[0])
        index, _, part = value.partition(".")
        try:
            return int(index), int(part or 1)
        except ValueError:
            return -1, 1


def section_option(
    number: int, section: PlanSection, *, part: int = 1, what: str = ""
) -> discord.SelectOption:
    """`3. Chorus` (or `3. Chorus · part 2: lyrics`) for section number 3."""
    label = f"{number}. {displayable(section.name)}"
    if part > 1:
        label = f"{label[:60]} · part {part}: {what}"
    description = duration(section.duration_ms / 1000) + (" · kept" if section.kept else "")
    return discord.SelectOption(
        label=label[:100],
        description=description,
        value=str(number - 1) if part == 1 else f"{number - 1}.{part}",
    )


def row_view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view
