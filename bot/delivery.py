"""Finished track -> Discord: an MP3 that fits the upload limit, and a way to post it late."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord

from bot.music.models import OutputFormat
from bot.ui.buttons import RegenerateButton

log = logging.getLogger(__name__)

# Best first. 192 kbps needs a higher ElevenLabs tier, so 128 (the API's own default) leads.
MP3_CHOICES: tuple[tuple[OutputFormat, int], ...] = (
    ("mp3_44100_128", 128),
    ("mp3_44100_96", 96),
    ("mp3_44100_64", 64),
)
_CONTAINER_BYTES = 16 * 1024
_EXPIRED_TOKEN_CODES = {50027, 10015}


def estimated_mp3_bytes(seconds: float, kbps: int) -> int:
    """CBR size with a margin for frame padding and tags."""
    return int(seconds * kbps * 1000 / 8 * 1.02) + _CONTAINER_BYTES


def pick_output_format(seconds: float, limit_bytes: int) -> OutputFormat | None:
    """The best MP3 format whose file for `seconds` fits `limit_bytes`, or None."""
    for output_format, kbps in MP3_CHOICES:
        if estimated_mp3_bytes(seconds, kbps) <= limit_bytes:
            return output_format
    return None


def longest_fitting_seconds(limit_bytes: int) -> int:
    """The longest track (whole seconds) that fits at the lowest bitrate offered."""
    _, kbps = MP3_CHOICES[-1]
    return max(0, int((limit_bytes - _CONTAINER_BYTES) / (kbps * 1000 / 8 * 1.02)))


def track_filename(title: str | None, prompt: str) -> str:
    """A safe file name from the title, or the prompt: `[a-z0-9-]` plus `.mp3`."""
    for source in (title, prompt):
        if not source:
            continue
        ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
        if slug:
            return f"{slug}.mp3"
    return "track.mp3"


def is_expired_token(error: discord.HTTPException) -> bool:
    return error.code in _EXPIRED_TOKEN_CODES or error.status == 401


class UploadBudget:
    """At most `limit` bytes of tracks uploading at once.

    When a whole jam finishes together, every upload's buffers would be held at the same
    moment. Counting bytes, not uploads, lets a hundred short tracks go at once while only a
    few ten-minute ones do; a track larger than the budget waits for all of it.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        size = min(size, self.limit)
        async with self._changed:
            await self._changed.wait_for(lambda: self._used + size <= self.limit)
            self._used += size
        try:
            yield
        finally:
            async with self._changed:
                self._used -= size
                self._changed.notify_all()


@dataclass
class ProgressMessage:
    """The message a compose reports to, reached through the interaction's 15-minute token.

    For a slash command it is the deferred original response; for a button, a follow-up.
    """

    interaction: discord.Interaction
    followup: discord.WebhookMessage | None = None
    # The deferred original response's id, when Discord said it in the defer's answer.
    original_id: int | None = None

    @property
    def known_id(self) -> int | None:
        """The message's id if known without asking Discord."""
        return self.followup.id if self.followup is not None else self.original_id

    async def edit(self, **fields: Any) -> None:
        fields.setdefault("allowed_mentions", discord.AllowedMentions.none())
        if self.followup is not None:
            await self.followup.edit(**fields)
        else:
            await self.interaction.edit_original_response(**fields)

    async def message_id(self) -> int | None:
        """The id of the message being edited, or None if Discord no longer says."""
        if self.known_id is not None:
            return self.known_id
        try:
            return (await self.interaction.original_response()).id
        except discord.HTTPException:
            return None

    async def try_edit(self, **fields: Any) -> bool:
        """Edit if the token still works; False (quietly) when it no longer does."""
        if self.interaction.is_expired():
            return False
        try:
            await self.edit(**fields)
        except discord.HTTPException as exc:
            if not is_expired_token(exc):
                log.warning("could not update a progress message: %s", exc)
            return False
        return True


async def track_was_posted(
    channel: discord.abc.Messageable,
    *,
    author_id: int,
    track_id: str,
    message_id: int | None,
    since: float,
) -> bool:
    """Whether the channel shows the track `track_id`: in the message it was to be delivered
    into, or in a later post of the bot's (when the token had expired). A delivered track is
    the one message whose buttons name it."""
    marker = RegenerateButton(track_id).custom_id

    def shows_track(message: discord.Message) -> bool:
        return message.author.id == author_id and any(
            getattr(child, "custom_id", None) == marker
            for row in message.components
            for child in getattr(row, "children", ())
        )

    if message_id is not None:
        try:
            if shows_track(await channel.fetch_message(message_id)):
                return True
        except discord.NotFound:
            pass
    after = discord.Object(discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC)))
    async for message in channel.history(limit=100, after=after):
        if shows_track(message):
            return True
    return False


async def post_late(
    channel: discord.abc.Messageable,
    requester: discord.abc.Snowflake,
    content: str,
    **fields: Any,
) -> discord.Message:
    """Post to the channel with the bot token, pinging only the requester."""
    return await channel.send(
        f"<@{requester.id}> {content}",
        allowed_mentions=discord.AllowedMentions(
            everyone=False, roles=False, users=[requester], replied_user=False
        ),
        **fields,
    )
