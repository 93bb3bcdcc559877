"""Buttons that keep working after a restart: their state lives in the database, not the id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from bot.app import MusicBot


class UseSuggestionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"music:suggest:(?P<id>[0-9a-f]{32})",
):
    def __init__(self, suggestion_id: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Compose with this",
                emoji="🎵",
                style=discord.ButtonStyle.primary,
                custom_id=f"music:suggest:{suggestion_id}",
                disabled=disabled,
            )
        )
        self.suggestion_id = suggestion_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[MusicBot],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> UseSuggestionButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.use_suggestion(interaction, self.suggestion_id)


class RetryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"music:retry:(?P<id>[0-9a-f]{32})",
):
    def __init__(self, job_id: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Try again",
                emoji="🔁",
                style=discord.ButtonStyle.secondary,
                custom_id=f"music:retry:{job_id}",
                disabled=disabled,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[MusicBot],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RetryButton:
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction[MusicBot]) -> None:  # type: ignore[override]
        await interaction.client.compose_flow.retry(interaction, self.job_id)


def retry_view(job_id: str, *, disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(job_id, disabled=disabled))
    return view


def suggestion_view(suggestion_id: str, *, disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(UseSuggestionButton(suggestion_id, disabled=disabled))
    return view
