"""Buttons and menus that keep working after a restart: the custom_id names a database row, and
the row holds the state (a suggested prompt, an interrupted job, a plan, a posted track).

Each item only forwards the press to the cog that handles its family; who may press it is the
core's decision. A family declares the Protocol its cog meets and finds the cog by name with
`interaction.client.get_cog(...)`, so ui/ imports no cog.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Protocol, cast

import discord

from bot.music.plans import PlanSection
from bot.music.text import displayable

from .handlers import JAM_COG, PLANS_COG, STEMS_COG, TRACKS_COG, Interaction, handler
from .modals import part_label, section_parts
from .text import duration

_ROW_ID = r"(?P<id>[0-9a-f]{32})"


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


class JamButtons(Protocol):
    """The cog behind a jam's now-playing buttons."""

    async def skip_pressed(self, interaction: Interaction) -> None: ...
    async def stop_pressed(self, interaction: Interaction) -> None: ...


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
        interaction: Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> _RowButton:
        return cls(match["id"])

    @classmethod
    def as_view(cls, row_id: str, *, disabled: bool = False) -> discord.ui.View:
        return row_view(cls(row_id, disabled=disabled))


def _tracks(interaction: Interaction) -> TrackButtons:
    return cast(TrackButtons, handler(interaction, TRACKS_COG))


def _stems(interaction: Interaction) -> StemsButtons:
    return cast(StemsButtons, handler(interaction, STEMS_COG))


def _plans(interaction: Interaction) -> PlanButtons:
    return cast(PlanButtons, handler(interaction, PLANS_COG))


def _jam(interaction: Interaction) -> JamButtons:
    return cast(JamButtons, handler(interaction, JAM_COG))


MENU_OPTIONS = 25  # Discord's most options in one select menu


class _SectionMenu(discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"(?!)"):
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
    def menus(cls, row_id: str, options: list[discord.SelectOption]) -> list[_SectionMenu]:
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
    ) -> _SectionMenu:
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


# -- under a copyright refusal and an interrupted job -------------------------------------------


class UseSuggestionButton(_RowButton, template=rf"music:suggest:{_ROW_ID}"):
    prefix = "music:suggest"
    label = "Compose with this"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).use_suggestion(interaction, self.row_id)


class RetryButton(_RowButton, template=rf"music:retry:{_ROW_ID}"):
    prefix = "music:retry"
    label = "Try again"
    emoji = "🔁"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).retry(interaction, self.row_id)


# -- under a plan -------------------------------------------------------------------------------


class ComposePlanButton(_RowButton, template=rf"music:plan:compose:{_ROW_ID}"):
    prefix = "music:plan:compose"
    label = "Compose this plan"
    emoji = "🎵"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).compose_plan(interaction, self.row_id)


class EditSectionButton(_RowButton, template=rf"music:plan:section:{_ROW_ID}"):
    prefix = "music:plan:section"
    label = "Edit section…"
    emoji = "✏️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).pick_section(interaction, self.row_id)


class EditStylesButton(_RowButton, template=rf"music:plan:styles:{_ROW_ID}"):
    prefix = "music:plan:styles"
    label = "Edit global styles…"
    emoji = "🎚️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).open_styles(interaction, self.row_id)


class EditSectionMenu(_SectionMenu, template=rf"music:plan:pick:{_ROW_ID}(?::\d+)?"):
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


# -- under a posted track -----------------------------------------------------------------------


class RegenerateButton(_RowButton, template=rf"music:track:again:{_ROW_ID}"):
    prefix = "music:track:again"
    label = "Regenerate"
    emoji = "🎲"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).regenerate(interaction, self.row_id)


class ShowPlanButton(_RowButton, template=rf"music:track:plan:{_ROW_ID}"):
    prefix = "music:track:plan"
    label = "Show plan"
    emoji = "📋"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).show_track_plan(interaction, self.row_id)


class ExtendButton(_RowButton, template=rf"music:track:extend:{_ROW_ID}"):
    prefix = "music:track:extend"
    label = "Extend"
    emoji = "➕"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).extend(interaction, self.row_id)


class RedoSectionButton(_RowButton, template=rf"music:track:redo:{_ROW_ID}"):
    prefix = "music:track:redo"
    label = "Redo a section"
    emoji = "🔂"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).pick_redo_section(interaction, self.row_id)


class RedoSectionMenu(_SectionMenu, template=rf"music:track:redopick:{_ROW_ID}(?::\d+)?"):
    prefix = "music:track:redopick"
    placeholder = "Choose the section to compose again"

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        index, _ = self.chosen(interaction)
        await _tracks(interaction).redo_section(interaction, self.row_id, index)

    @classmethod
    def for_track(cls, track_id: str, sections: list[PlanSection]) -> discord.ui.View:
        options = [section_option(n, s) for n, s in enumerate(sections, start=1)]
        return row_view(*cls.menus(track_id, options))


class EditAndComposeButton(_RowButton, template=rf"music:track:edit:{_ROW_ID}"):
    prefix = "music:track:edit"
    label = "Edit & compose"
    emoji = "✏️"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _plans(interaction).edit_track_plan(interaction, self.row_id)


class DeleteTrackButton(_RowButton, template=rf"music:track:delete:{_ROW_ID}"):
    prefix = "music:track:delete"
    label = "Delete"
    emoji = "🗑️"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _tracks(interaction).delete_track(interaction, self.row_id)


class StemsButton(_RowButton, template=rf"music:track:stems:{_ROW_ID}"):
    prefix = "music:track:stems"
    label = "Stems"
    emoji = "🎚️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _stems(interaction).pick_stems(interaction, self.row_id)


class StemsMenu(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=rf"music:track:stemspick:{_ROW_ID}"
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


class JamSkipButton(_RowButton, template=rf"jam:skip:{_GUILD_ID}"):
    prefix = "jam:skip"
    label = "Skip"
    emoji = "⏭️"
    style = discord.ButtonStyle.secondary

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await _jam(interaction).skip_pressed(interaction)


class JamStopButton(_RowButton, template=rf"jam:stop:{_GUILD_ID}"):
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
