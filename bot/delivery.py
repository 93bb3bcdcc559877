"""Discord delivery: the progress message a compose reports to, the report that falls back to
a channel post after the 15-minute token, and finding a track a stopped process had posted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord

from bot.core.composer import Reply
from bot.ui import text
from bot.ui.buttons import RegenerateButton

log = logging.getLogger(__name__)

_EXPIRED_TOKEN_CODES = {50027, 10015}


def is_expired_token(error: discord.HTTPException) -> bool:
    return error.code in _EXPIRED_TOKEN_CODES or error.status == 401


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

    def reply(self) -> Reply:
        """The message and the token that reach it, for the job row (a takeover edits it)."""
        return Reply(
            message_id=self.known_id,
            interaction_token=self.interaction.token,
            application_id=self.interaction.application_id,
        )

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
    """Whether the channel shows the track `track_id` (see `find_track_message`)."""
    found = await find_track_message(
        channel, author_id=author_id, track_id=track_id, message_id=message_id, since=since
    )
    return found is not None


async def find_track_message(
    channel: discord.abc.Messageable,
    *,
    author_id: int,
    track_id: str,
    message_id: int | None,
    since: float,
) -> discord.Message | None:
    """The message that shows the track `track_id`: the one it was to be delivered into, or a
    later post of the bot's (when the token had expired). A delivered track is the one message
    whose buttons name it."""
    marker = RegenerateButton(track_id).custom_id

    def shows_track(message: discord.Message) -> bool:
        return message.author.id == author_id and any(
            getattr(child, "custom_id", None) == marker
            for row in message.components
            for child in getattr(row, "children", ())
        )

    if message_id is not None:
        try:
            message = await channel.fetch_message(message_id)
            if shows_track(message):
                return message
        except discord.NotFound:
            pass
    after = discord.Object(discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC)))
    async for message in channel.history(limit=100, after=after):
        if shows_track(message):
            return message
    return None


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


class ProgressReporter:
    """Shows the place in line, then "Composing… N s": one edit per interval at most.

    In a busy jam every start moves everyone's place; the updates are coalesced so each
    message shows its latest place without an edit per move. The Composer's JobListener.
    """

    def __init__(
        self,
        progress: ProgressMessage,
        headline: str,
        length_s: float,
        interval: float,
        *,
        playing_in: int | None = None,
    ) -> None:
        self._progress = progress
        self._headline = headline
        self._length_s = length_s
        self._interval = interval
        # A jam's voice channel: the track plays there as it is composed.
        self._playing_in = playing_in
        self._position: int | None = None
        self._started_at: float | None = None
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def queued(self, position: int) -> None:
        self._position = position
        self._wake()

    async def started(self) -> None:
        self._started_at = time.monotonic()
        # Started at once: Discord already shows "thinking…", so the first "Composing…" can
        # wait an interval (a quick track needs no edit at all).
        self._wake(delay=self._interval if self._position is None else 0.0)

    def _wake(self, delay: float = 0.0) -> None:
        self._changed.set()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(delay))

    def _text(self) -> str:
        elapsed = None if self._started_at is None else time.monotonic() - self._started_at
        return text.progress(
            self._headline,
            self._length_s,
            position=self._position,
            elapsed_s=elapsed,
            playing_in=self._playing_in,
        )

    async def _tick(self, delay: float) -> None:
        await asyncio.sleep(delay)
        shown = None
        while True:
            self._changed.clear()
            content = self._text()
            if content != shown:
                if not await self._progress.try_edit(content=content):
                    return  # the token expired: delivery will post to the channel instead
                shown = content
            await asyncio.sleep(self._interval)
            if self._started_at is None:
                await self._changed.wait()

    async def stop(self) -> None:
        """Before any final message, so no progress edit lands after it."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


async def report(
    progress: ProgressMessage,
    *,
    late_note: str = text.LATE_NOTE,
    attachments: Callable[[], list[discord.File]] | None = None,
    **fields: Any,
) -> bool:
    """Edit the progress message; when that fails (the token expired after 15 minutes, or
    Discord refused the edit), post to the channel with the bot's own token instead."""
    interaction = progress.interaction
    if not interaction.is_expired():
        try:
            files = {"attachments": attachments()} if attachments is not None else {}
            await progress.edit(**fields, **files)
            return True
        except discord.HTTPException as exc:
            if not is_expired_token(exc):
                log.warning(
                    "could not edit in channel %s (%s); posting instead",
                    interaction.channel_id,
                    exc,
                )
    channel = interaction.channel
    if not isinstance(channel, discord.abc.Messageable):
        log.error("the token expired and channel %s is unknown", interaction.channel_id)
        return False
    late: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if attachments is not None:
        late["files"] = attachments()
    try:
        await post_late(channel, interaction.user, late_note, **late)
    except discord.HTTPException as exc:
        log.error("could not post to channel %s: %s", interaction.channel_id, exc)
        return False
    return True
