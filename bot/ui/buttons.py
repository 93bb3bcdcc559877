"""Buttons and menus that keep working after a restart: the custom_id names a database row, and
the row holds the state (a suggested prompt, an interrupted job, a plan, a posted track).

Each item only forwards the press to the cog that handles its family; who may press it is the
core's decision. A family declares the Protocol its cog meets and finds the cog by name with
`interaction.client.get_cog(...)`, so ui/ imports no cog.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from bot.music.plans import PlanSection

from .handlers import JAM_COG, STEMS_COG, TRACKS_COG, Interaction, handler
from .items import ROW_ID, RowButton, SectionMenu, row_view, section_option
from .plan_buttons import (
    ComposePlanButton,
    EditAndComposeButton,
    EditSectionButton,
    EditSectionMenu,
    EditStylesButton,
    ShowPlanButton,
)


class TrackButtons(Protocol):
    """The cog behind the buttons under a track, a suggestion or an interrupted job."""

    async def use_suggestion(self, interaction: Interaction, suggestion_id: str) -> None: ...
    async def retry(self, interaction: Interaction, job_id: str) -> None: ...
    async def regenerate(self, interaction: Interaction, track_id: str) -> None: ...
    async def extend(self, interaction: Interaction, track_id: str) -> None: ...
    async def pick_redo_section(self, interaction: Interaction, track_id: str) -> None: ...
    async def redo_section(self, interaction: Interaction, track_id: str, index: int) -> None: ...
    async def delete_track(self, interaction: Interaction, track_id: str) -> None: ...


class StemsButtons(Protocol):
    """The cog behind Stems and its choice of two or six."""

    async def pick_stems(self, interaction: Interaction, track_id: str) -> None: ...
    async def stems(self, interaction: Interaction, track_id: str, count: int) -> None: ...


class JamButtons(Protocol):
    """The cog behind a jam's now-playing buttons."""

    async def skip_pressed(self, interaction: Interaction) -> None: ...
    async def stop_pressed(self, interaction: Interaction) -> None: ...


def _tracks(interaction: Interaction) -> TrackButtons:
    return cast(TrackButtons, handler(interaction, TRACKS_COG))


def _stems(interaction: Interaction) -> StemsButtons:
    return cast(StemsButtons, handler(interaction, STEMS_COG))


def _jam(interaction: Interaction) -> JamButtons:
    return cast(JamButtons, handler(interaction, JAM_COG))


# -- under a copyright refusal and an interrupted job -------------------------------------------


class UseSuggestionButton(RowButton, template=rf"music:suggest:{ROW_ID}"):
    prefix = "music:suggest"
    label = "Compose with this"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).use_suggestion(interaction, self.row_id)


class RetryButton(RowButton, template=rf"music:retry:{ROW_ID}"):
    prefix = "music:retry"
    label = "Try again"
    emoji = "🔁"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).retry(interaction, self.row_id)


# -- under a posted track -----------------------------------------------------------------------


class RegenerateButton(RowButton, template=rf"music:track:again:{ROW_ID}"):
    prefix = "music:track:again"
    label = "Regenerate"
    emoji = "🎲"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).regenerate(interaction, self.row_id)


class ExtendButton(RowButton, template=rf"music:track:extend:{ROW_ID}"):
    prefix = "music:track:extend"
    label = "Extend"
    emoji = "➕"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).extend(interaction, self.row_id)


class RedoSectionButton(RowButton, template=rf"music:track:redo:{ROW_ID}"):
    prefix = "music:track:redo"
    label = "Redo a section"
    emoji = "🔂"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).pick_redo_section(interaction, self.row_id)


class RedoSectionMenu(SectionMenu, template=rf"music:track:redopick:{ROW_ID}(?::\d+)?"):
    prefix = "music:track:redopick"
    placeholder = "Choose the section to compose again"

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        index, _ = self.chosen(interaction)
        await _tracks(interaction).redo_section(interaction, self.row_id, index)

    @classmethod
    def for_track(cls, track_id: str, sections: list[PlanSection]) -> discord.ui.View:
        options = [section_option(n, s) for n, s in enumerate(sections, start=1)]
        return row_view(*cls.menus(track_id, options))


class DeleteTrackButton(RowButton, template=rf"music:track:delete:{ROW_ID}"):
    prefix = "music:track:delete"
    label = "Delete"
    emoji = "🗑️"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).delete_track(interaction, self.row_id)


class StemsButton(RowButton, template=rf"music:track:stems:{ROW_ID}"):
    prefix = "music:track:stems"
    label = "Stems"
    emoji = "🎚️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _stems(interaction).pick_stems(interaction, self.row_id)


class StemsMenu(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"music:track:stemspick:{ROW_ID}"
):
    """Two stems (vocals, accompaniment) or six (vocals, drums, bass, guitar, piano, other)."""

    def __init__(self, track_id: str) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"music:track:stemspick:{track_id}",
                placeholder="Choose the stems",
                options=[
                    discord.SelectOption(
                        label="2 stems", value="2", description="vocals · accompaniment"
                    ),
                    discord.SelectOption(
                        label="6 stems",
                        value="6",
                        description="vocals · drums · bass · guitar · piano · other",
                    ),
                ],
            )
        )
        self.track_id = track_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> StemsMenu:
        return cls(match["id"])

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        data: dict[str, Any] = dict(interaction.data or {})
        value = str((data.get("values") or ["0"])[0])
        count = int(value) if value in ("2", "6") else 0
        await _stems(interaction).stems(interaction, self.track_id, count)

    @classmethod
    def as_view(cls, track_id: str) -> discord.ui.View:
        return row_view(cls(track_id))


def track_view(
    track_id: str, *, inpainting: bool, spent: frozenset[str] = frozenset()
) -> discord.ui.View:
    """The buttons under a track; those in `spent` ("regenerate", "extend") already made their
    one new track and are shown disabled."""
    items: list[discord.ui.Item[Any]] = [
        RegenerateButton(track_id, disabled="regenerate" in spent),
        ShowPlanButton(track_id),
        StemsButton(track_id),
    ]
    if inpainting:
        items += [ExtendButton(track_id, disabled="extend" in spent), RedoSectionButton(track_id)]
    items.append(DeleteTrackButton(track_id))
    return row_view(*items)


# -- under a jam's now-playing message ---------------------------------------------------------

_GUILD_ID = r"(?P<id>[0-9]{15,21})"


class JamSkipButton(RowButton, template=rf"jam:skip:{_GUILD_ID}"):
    prefix = "jam:skip"
    label = "Skip"
    emoji = "⏭️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _jam(interaction).skip_pressed(interaction)


class JamStopButton(RowButton, template=rf"jam:stop:{_GUILD_ID}"):
    prefix = "jam:stop"
    label = "Stop the jam"
    emoji = "⏹️"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _jam(interaction).stop_pressed(interaction)


def jam_view(guild_id: int) -> discord.ui.View:
    return row_view(JamSkipButton(str(guild_id)), JamStopButton(str(guild_id)))


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
    DeleteTrackButton,
    StemsButton,
    StemsMenu,
    JamSkipButton,
    JamStopButton,
)
