"""Buttons that keep working after a restart: the custom_id names a database row, and the row
holds the state (a suggested prompt, an interrupted job), never the id itself."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

if TYPE_CHECKING:
    from bot.app import MusicBot


class _RowButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A persistent button for one row; subclasses give the look and the template."""

    prefix: ClassVar[str]
    label: ClassVar[str]
    emoji: ClassVar[str]
    style: ClassVar[discord.ButtonStyle]

    def __init__(self, row_id: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
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
        view = discord.ui.View(timeout=None)
        view.add_item(cls(row_id, disabled=disabled))
        return view


class UseSuggestionButton(_RowButton, template=r"music:suggest:(?P<id>[0-9a-f]{32})"):
    prefix = "music:suggest"
    label = "Compose with this"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.use_suggestion(interaction, self.row_id)


class RetryButton(_RowButton, template=r"music:retry:(?P<id>[0-9a-f]{32})"):
    prefix = "music:retry"
    label = "Try again"
    emoji = "🔁"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.retry(interaction, self.row_id)
