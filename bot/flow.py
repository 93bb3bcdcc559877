"""One compose as members see it: check, acknowledge, queue, report progress, deliver.

The Discord side of a compose. The music work itself is the Composer's (`bot.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import discord

from bot.delivery import (
    ProgressMessage,
    is_expired_token,
    longest_fitting_seconds,
    pick_output_format,
    post_late,
    track_filename,
)
from bot.jobs import ComposeJob, Composer
from bot.music import (
    BadPrompt,
    InvalidInput,
    MusicError,
    Track,
    build_request,
)
from bot.music.models import LENGTH_MAX_MS, LENGTH_MIN_MS, PROMPT_MAX_CHARS, ModelId, OutputFormat
from bot.store import SuggestionStore
from bot.store.jobs import JobStore
from bot.store.quotas import QuotaLedger, QuotaRefused, Reservation
from bot.ui.buttons import RetryButton, UseSuggestionButton
from bot.ui.embeds import suggestion_embed, track_embed
from bot.ui.text import duration, inert, music_error, quota_refusal

log = logging.getLogger(__name__)

ONLY_REQUESTER = "Only the member who asked for this track can use this button."
MIN_SECONDS = LENGTH_MIN_MS // 1000
MAX_SECONDS = LENGTH_MAX_MS // 1000
PROGRESS_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class ComposeOrder:
    """What a member asked for."""

    prompt: str
    length_s: int
    instrumental: bool


def check_order(prompt: str, length_s: int) -> str | None:
    """Why the order cannot be composed, in one friendly sentence, or None."""
    if not prompt.strip():
        return "Please describe the music you want: the prompt is empty."
    if len(prompt) > PROMPT_MAX_CHARS:
        return f"That prompt is {len(prompt):,} characters; the limit is {PROMPT_MAX_CHARS:,}."
    if not MIN_SECONDS <= length_s <= MAX_SECONDS:
        return (
            f"The length must be between {MIN_SECONDS} and {MAX_SECONDS} seconds "
            f"(you asked for {length_s})."
        )
    return None


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How an attempt ended, and what to tell the member once the job is settled."""

    delivered: bool = False
    error: str | None = None
    tell: Callable[[], Awaitable[object]] | None = None


class ProgressReporter:
    """Shows the place in line, then "Composing… N s": one edit per interval at most.

    In a busy jam every start moves everyone's place; the updates are coalesced so each
    message shows its latest place without an edit per move.
    """

    def __init__(self, progress: ProgressMessage, order: ComposeOrder, interval: float) -> None:
        self._progress = progress
        self._order = order
        self._interval = interval
        self._position: int | None = None
        self._started_at: float | None = None
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def queued(self, position: int) -> None:
        self._position = position
        self._wake()

    async def started(self) -> None:
        self._started_at = time.monotonic()
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())

    def _text(self) -> str:
        headline = f"“{inert(self._order.prompt, 80)}” · {duration(self._order.length_s)}"
        if self._started_at is not None:
            elapsed = round(time.monotonic() - self._started_at)
            return f"🎵 Composing… {elapsed} s\n{headline}"
        ahead = "you're next" if self._position == 1 else f"#{self._position} in line"
        return f"🎼 Queued — {ahead}\n{headline}"

    async def _tick(self) -> None:
        shown = None
        while True:
            self._changed.clear()
            text = self._text()
            if text != shown:
                if not await self._progress.try_edit(content=text):
                    return  # the token expired: delivery will post to the channel instead
                shown = text
            await asyncio.sleep(self._interval)
            if self._started_at is None:
                await self._changed.wait()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


class ComposeFlow:
    def __init__(
        self,
        composer: Composer,
        suggestions: SuggestionStore,
        quotas: QuotaLedger,
        jobs: JobStore,
        *,
        model_id: ModelId = "music_v1",
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self._composer = composer
        self._suggestions = suggestions
        self._quotas = quotas
        self._jobs = jobs
        self._model_id = model_id
        self._progress_interval = progress_interval

    # -- entry points -------------------------------------------------------------------------

    async def compose(self, interaction: discord.Interaction, order: ComposeOrder) -> None:
        """`/music compose`: everything before the defer is quick (in memory, one DB write)."""
        accepted = await self._accept(interaction, order)
        if accepted is None:
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            await self._quotas.refund(accepted[1].id)
            raise
        await self._run(ProgressMessage(interaction), interaction, order, *accepted)

    async def use_suggestion(self, interaction: discord.Interaction, suggestion_id: str) -> None:
        """The "Compose with this" button under a copyright refusal."""
        suggestion = await self._suggestions.get(suggestion_id)
        if suggestion is None or suggestion.used:
            await _ephemeral(interaction, "This suggestion is no longer available.")
            return
        order = ComposeOrder(suggestion.prompt, suggestion.length_s, suggestion.instrumental)
        await self._compose_from_button(
            interaction,
            suggestion.user_id,
            order,
            UseSuggestionButton.as_view(suggestion_id, disabled=True),
            claim=lambda: self._suggestions.claim(suggestion_id),
            release=lambda: self._suggestions.release(suggestion_id),
        )

    async def retry(self, interaction: discord.Interaction, job_id: str) -> None:
        """The "Try again" button under an interrupted job."""
        job = await self._jobs.get(job_id)
        if job is None:
            await _ephemeral(interaction, "This track can no longer be retried.")
            return
        order = ComposeOrder(job.prompt, job.length_s, job.instrumental)
        await self._compose_from_button(
            interaction,
            job.user_id,
            order,
            RetryButton.as_view(job_id, disabled=True),
            claim=lambda: self._jobs.claim_retry(job_id),
            release=lambda: self._jobs.release_retry(job_id),
        )

    # -- the work -----------------------------------------------------------------------------

    async def _accept(
        self, interaction: discord.Interaction, order: ComposeOrder
    ) -> tuple[OutputFormat, Reservation] | None:
        """Check the order and reserve quota; answer ephemerally and return None if refused."""
        output_format = await self._refuse_or_format(interaction, order)
        if output_format is None:
            return None
        assert interaction.guild_id is not None
        member = interaction.user
        role_ids = [r.id for r in member.roles] if isinstance(member, discord.Member) else []
        try:
            reservation = await self._quotas.reserve(
                interaction.guild_id, member.id, role_ids, order.length_s
            )
        except QuotaRefused as refused:
            await _ephemeral(interaction, quota_refusal(refused, order.length_s))
            return None
        return output_format, reservation

    async def _compose_from_button(
        self,
        interaction: discord.Interaction,
        owner_id: int,
        order: ComposeOrder,
        spent_view: discord.ui.View,
        *,
        claim: Callable[[], Awaitable[bool]],
        release: Callable[[], Awaitable[None]],
    ) -> None:
        """Compose for a button's owner in a new message.

        The button is claimed once (a double click composes once) and released again when
        the compose does not deliver, so the member can press it again.
        """
        if interaction.user.id != owner_id:
            await _ephemeral(interaction, ONLY_REQUESTER)
            return
        accepted = await self._accept(interaction, order)
        if accepted is None:
            return
        output_format, reservation = accepted
        if not await claim():
            await self._quotas.refund(reservation.id)
            await _ephemeral(interaction, "This button has already been used.")
            return
        try:
            await interaction.response.edit_message(view=spent_view)
            followup = await interaction.followup.send(
                f"🎼 Composing for {interaction.user.mention}…",
                wait=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            await self._quotas.refund(reservation.id)
            await release()
            raise
        if not await self._run(
            ProgressMessage(interaction, followup), interaction, order, output_format, reservation
        ):
            await release()

    async def _refuse_or_format(
        self, interaction: discord.Interaction, order: ComposeOrder
    ) -> OutputFormat | None:
        """Answer ephemerally and return None when the order cannot go ahead."""
        problem = check_order(order.prompt, order.length_s)
        if problem is None and interaction.guild is None:
            problem = "Music can only be composed in a server channel."
        if problem is not None:
            await _ephemeral(interaction, problem)
            return None
        assert interaction.guild is not None
        # The fallback post after the token expires uses the bot's own (guild) limit.
        limit = min(interaction.filesize_limit, interaction.guild.filesize_limit)
        output_format = pick_output_format(order.length_s, limit)
        if output_format is None:
            longest = longest_fitting_seconds(limit)
            hint = (
                f"The longest that fits is {duration(longest)}."
                if longest >= MIN_SECONDS
                else "No track fits it."
            )
            await _ephemeral(
                interaction,
                f"A {duration(order.length_s)} track would not fit the upload limit here "
                f"({limit / 1024 / 1024:.1f} MiB). {hint}",
            )
            return None
        return output_format

    async def _run(
        self,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        output_format: OutputFormat,
        reservation: Reservation,
    ) -> bool:
        """Queue, compose and deliver; True when the member received a track.

        The job is settled before the member hears of a failure, so "nothing was taken from
        your quota" is already true when they read it. If the bot stops meanwhile
        (cancellation), the job stays in the store: the next start tells the member it was
        interrupted, with a Try again button, and refunds the quota.
        """
        job_id = uuid.uuid4().hex
        outcome = await self._attempt(
            job_id, progress, interaction, order, output_format, reservation
        )
        await self._settle(job_id, reservation, outcome.delivered, outcome.error)
        if outcome.tell is not None:
            await outcome.tell()
        return outcome.delivered

    async def _attempt(
        self,
        job_id: str,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        output_format: OutputFormat,
        reservation: Reservation,
    ) -> _Outcome:
        reporter = ProgressReporter(progress, order, self._progress_interval)

        def tell(content: str) -> Callable[[], Awaitable[bool]]:
            return lambda: self._report(progress, interaction, content=content)

        try:
            request = build_request(
                prompt=order.prompt,
                length_s=order.length_s,
                model_id=self._model_id,
                force_instrumental=order.instrumental or None,
            )
            assert interaction.guild_id is not None and interaction.channel_id is not None
            job = ComposeJob(
                id=job_id,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                channel_id=interaction.channel_id,
                prompt=order.prompt,
                length_s=order.length_s,
                instrumental=order.instrumental,
                request=request,
                output_format=output_format,
                reservation_id=reservation.id,
            )
            try:
                track = await self._composer.run(job, reporter)
            finally:
                # Before any final message, so no progress edit lands after it.
                await reporter.stop()
            with track:
                if await self._deliver(progress, interaction, order, track, reservation):
                    return _Outcome(delivered=True)
            return _Outcome(
                error="the track could not be posted",
                tell=lambda: progress.try_edit(
                    content="📤 The track was composed, but Discord refused the upload. "
                    "Nothing was taken from your quota; please try again.",
                    embed=None,
                    attachments=[],
                ),
            )
        except InvalidInput as exc:
            return _Outcome(error=exc.message, tell=tell(f"⚠️ {inert(exc.message, 500)}"))
        except BadPrompt as exc:
            suggestion = exc.prompt_suggestion
            return _Outcome(
                error=repr(exc),
                tell=lambda: self._offer_suggestion(progress, interaction, order, suggestion),
            )
        except MusicError as exc:
            log.warning("job %s failed: %r %s", job_id, exc, exc.message)
            return _Outcome(error=repr(exc), tell=tell(music_error(exc)))
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            return _Outcome(
                error=repr(exc),
                tell=tell(
                    "💥 Something went wrong while composing. Nothing was taken from "
                    "your quota; please try again."
                ),
            )

    async def _settle(
        self, job_id: str, reservation: Reservation, delivered: bool, error: str | None
    ) -> None:
        # Shielded: a shutdown must not leave a delivered track uncharged or a failure charged.
        async def settle() -> None:
            # Settles the reservation with the job, in one transaction.
            await self._composer.finish(job_id, delivered=delivered, error=error)
            if not delivered:
                # The job row may never have been written (e.g. the database failed first).
                await self._quotas.refund(reservation.id)

        try:
            await asyncio.shield(settle())
        except Exception:
            log.exception("could not settle job %s", job_id)

    async def _deliver(
        self,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        track: Track,
        reservation: Reservation,
    ) -> bool:
        embed = track_embed(
            prompt=order.prompt,
            length_s=order.length_s,
            requester=interaction.user,
            metadata=track.metadata,
            output_format=track.output_format or "",
            tracks_left=reservation.tracks_left,
            window_hours=reservation.window_hours,
        )
        filename = track_filename(track.title, order.prompt)
        delivered = await self._report(
            progress,
            interaction,
            late_note="your track is ready:",
            content=None,
            embed=embed,
            attachments=lambda: [
                # A fresh File each time: a failed upload leaves the previous one consumed.
                discord.File(cast(io.BufferedIOBase, track.audio.fileobj()), filename=filename)
            ],
        )
        if delivered:
            log.info(
                "job delivered %s (%d bytes) to %s", filename, track.size, interaction.channel_id
            )
        return delivered

    async def _offer_suggestion(
        self,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        suggestion: str,
    ) -> None:
        assert interaction.guild_id is not None and interaction.channel_id is not None
        suggestion_id = await self._suggestions.save(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            prompt=suggestion[:PROMPT_MAX_CHARS],
            length_s=order.length_s,
            instrumental=order.instrumental,
        )
        await self._report(
            progress,
            interaction,
            content=None,
            embed=suggestion_embed(prompt=order.prompt, suggestion=suggestion),
            view=UseSuggestionButton.as_view(suggestion_id),
        )

    async def _report(
        self,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        *,
        late_note: str = "about your music request:",
        attachments: Callable[[], list[discord.File]] | None = None,
        **fields: Any,
    ) -> bool:
        """Edit the progress message; when that fails (the token expired after 15 minutes,
        or Discord refused the edit), post to the channel with the bot's own token instead."""
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


async def _ephemeral(interaction: discord.Interaction, message: str) -> None:
    await interaction.response.send_message(
        message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )
