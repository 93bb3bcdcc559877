"""Stems as members see them: the private choice of two or six, progress while the API
separates, and each stem posted as its own MP3. Charging and the once-per-choice rule are the
core's (ComposeService.accept and separate)."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.compose import ComposeService
from bot.core.formats import track_filename
from bot.core.outcomes import Failed, Separated, UploadRefused
from bot.core.refusals import Refused
from bot.core.track_orders import TrackOrders
from bot.delivery import ProgressMessage, report
from bot.music.models import Stem
from bot.tree import requester, send_ephemeral
from bot.ui import text
from bot.ui.buttons import StemsMenu

from .tracks import accept_button

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Discord's most files in one message.
MAX_FILES = 10


class StemsCog(commands.Cog):
    def __init__(
        self, bot: commands.AutoShardedBot, services: Services, *, progress_interval: float
    ) -> None:
        self.bot = bot
        self._compose: ComposeService = services.compose
        self._orders: TrackOrders = services.track_orders
        self._uploads = services.uploads
        self._progress_interval = progress_interval

    async def pick_stems(self, interaction: discord.Interaction, track_id: str) -> None:
        """Stems, under a track: a private choice of two or six stems."""
        track = await self._orders.stems_source(requester(interaction), track_id)
        if isinstance(track, Refused):
            await send_ephemeral(interaction, text.refusal(track.reason))
            return
        await send_ephemeral(interaction, text.PICK_STEMS, view=StemsMenu.as_view(track_id))

    async def stems(self, interaction: discord.Interaction, track_id: str, count: int) -> None:
        """The chosen stems, posted publicly in one message (or more, if the files need)."""
        found = await self._orders.stems(requester(interaction), track_id, count)
        accepted = await accept_button(self._compose, interaction, found)
        if accepted is None:
            return
        assert not isinstance(found, Refused) and found.track is not None
        try:
            await interaction.response.defer()
            followup = await interaction.followup.send(
                text.separating(), wait=True, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException:
            await self._compose.abandon(accepted)
            raise
        progress = ProgressMessage(interaction, followup)
        ticker = asyncio.create_task(self._stems_progress(progress))

        async def deliver(separated: Separated) -> bool:
            ticker.cancel()
            return await self._post_stems(progress, separated)

        try:
            outcome = await self._compose.separate(accepted, found.track, count, deliver)
        finally:
            ticker.cancel()
        match outcome:
            case Failed(cause=cause):
                await report(progress, content=text.stems_failed(cause))
            case UploadRefused():
                await progress.try_edit(content=text.STEMS_REFUSED, attachments=[])

    async def _stems_progress(self, progress: ProgressMessage) -> None:
        started = time.monotonic()
        while True:
            await asyncio.sleep(self._progress_interval)
            if not await progress.try_edit(content=text.separating(time.monotonic() - started)):
                return

    async def _post_stems(self, progress: ProgressMessage, separated: Separated) -> bool:
        """Each stem its own MP3: as many to a message as Discord takes (10 files); each was
        asked for at a bitrate that fits the upload limit."""
        interaction = progress.interaction
        base = track_filename(separated.title, separated.headline).removesuffix(".mp3")
        groups = [
            separated.stems[i : i + MAX_FILES] for i in range(0, len(separated.stems), MAX_FILES)
        ]
        for part, group in enumerate(groups, start=1):
            content = text.stems_posted(
                interaction.user.id,
                separated.title or separated.headline,
                [stem.name for stem in group],
                part,
                len(groups),
            )

            def files(group: list[Stem] = group) -> list[discord.File]:
                return [
                    discord.File(io.BytesIO(stem.audio), filename=f"{base}-{stem.name}.mp3")
                    for stem in group
                ]

            async with self._uploads.hold(sum(len(stem.audio) for stem in group)):
                if part == 1:
                    if not await report(progress, content=content, attachments=files):
                        return False
                else:
                    try:
                        await interaction.followup.send(
                            content,
                            files=files(),
                            allowed_mentions=discord.AllowedMentions.none(),
                        )
                    except discord.HTTPException as exc:
                        log.warning("could not post stems part %d: %s", part, exc)
                        return False
        return True
