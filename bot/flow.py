"""One compose as members see it: check, acknowledge, queue, report progress, deliver.

The Discord side of a compose. The music work itself is the Composer's (`bot.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import discord

from bot import metrics
from bot.delivery import (
    ProgressMessage,
    UploadBudget,
    is_expired_token,
    longest_fitting_seconds,
    pick_output_format,
    post_late,
    track_filename,
)
from bot.jam import Jam, JamEnded
from bot.jobs import ComposeJob, Composer
from bot.logs import job_context
from bot.music import (
    BadCompositionPlan,
    BadPrompt,
    ChunkPlan,
    ComposeRequest,
    InvalidInput,
    MusicError,
    MusicPrompt,
    Track,
    build_request,
    mp3_bitrate_kbps,
    parse_plan,
)
from bot.music import plans as plan_parts
from bot.music.models import (
    LENGTH_MAX_MS,
    LENGTH_MIN_MS,
    PROMPT_MAX_CHARS,
    SEED_MAX,
    ModelId,
    OutputFormat,
)
from bot.music.plans import Plan
from bot.music.text import control_character, describe_character
from bot.store import SuggestionStore
from bot.store.jobs import JobStore
from bot.store.plans import PlanStore, TrackRecord, TrackStore
from bot.store.quotas import QuotaLedger, QuotaRefused, Reservation
from bot.ui.buttons import (
    RedoSectionMenu,
    RetryButton,
    UseSuggestionButton,
    plan_view,
    track_view,
)
from bot.ui.embeds import plan_embed, suggestion_embed, track_embed
from bot.ui.text import duration, inert, music_error, quota_refusal

if TYPE_CHECKING:
    from bot.jam_flow import JamFlow

log = logging.getLogger(__name__)

# What a jam asks the API for: raw audio it can play as it arrives.
JAM_STREAM_FORMAT: OutputFormat = "pcm_48000"
ONLY_REQUESTER = "Only the member who asked for this (or a moderator) can use this button."
RESTARTING = "🔧 The bot is restarting. Please try again in a minute; nothing was spent."
# How much "Extend" adds after the end of a track.
EXTEND_MS = 30_000
# Bytes of tracks uploading to Discord at once: three ten-minute tracks, or every short
# track of a jam (see UploadBudget).
UPLOAD_BUDGET_BYTES = 32 * 1024 * 1024
MIN_SECONDS = LENGTH_MIN_MS // 1000
MAX_SECONDS = LENGTH_MAX_MS // 1000
PROGRESS_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class ComposeOrder:
    """What a member asked for: a prompt and a length, or a composition plan."""

    prompt: str | None
    length_s: int
    instrumental: bool = False
    plan: Plan | None = None
    seed: int | None = None

    @classmethod
    def for_plan(cls, plan: Plan, *, seed: int | None = None) -> ComposeOrder:
        return cls(None, plan_parts.duration_seconds(plan), plan=plan, seed=seed)

    @classmethod
    def from_request(cls, request: ComposeRequest) -> ComposeOrder:
        """The order behind a stored request (a job to retry, a track to regenerate)."""
        if request.composition_plan is not None:
            return cls.for_plan(request.composition_plan, seed=request.seed)
        length_ms = request.music_length_ms or LENGTH_MIN_MS
        return cls(request.prompt, round(length_ms / 1000), bool(request.force_instrumental))

    @property
    def headline(self) -> str:
        """What the track is, in a line: the prompt, or the plan's sections."""
        if self.plan is not None:
            return "Composition plan: " + plan_parts.summary(self.plan)
        return self.prompt or ""


def check_order(order: ComposeOrder, model_id: ModelId) -> str | None:
    """Why the order cannot be composed, in one friendly sentence, or None."""
    if order.plan is not None:
        if order.prompt is not None:
            return "Give a prompt or a plan, not both: a plan already says what to compose."
        wants_chunks = model_id != "music_v1"
        if isinstance(order.plan, ChunkPlan) != wants_chunks:
            shape = "chunks" if isinstance(order.plan, ChunkPlan) else "sections"
            return (
                f"That plan is made of {shape}, which the model this bot uses ({model_id}) "
                "does not take. Make a new one with /music plan."
            )
        return None
    prompt = order.prompt or ""
    if not prompt.strip():
        return "Please describe the music you want: the prompt is empty (or choose a plan)."
    if len(prompt) > PROMPT_MAX_CHARS:
        return f"That prompt is {len(prompt):,} characters; the limit is {PROMPT_MAX_CHARS:,}."
    control = control_character(prompt)
    if control is not None:
        return (
            f"Your prompt contains an invisible control character, {describe_character(control)}. "
            "Please remove it and try again."
        )
    if not MIN_SECONDS <= order.length_s <= MAX_SECONDS:
        return (
            f"The length must be between {MIN_SECONDS} and {MAX_SECONDS} seconds "
            f"(you asked for {order.length_s})."
        )
    return None


def may_act_for(interaction: discord.Interaction, owner_id: int) -> bool:
    """The owner of a track or plan, or a moderator (Manage Server), may use its buttons."""
    if interaction.user.id == owner_id:
        return True
    member = interaction.user
    return isinstance(member, discord.Member) and member.guild_permissions.manage_guild


@dataclass(frozen=True, slots=True)
class OnceButton:
    """A button that composes once: how to claim and release it, and how its message looks
    with it spent and usable again."""

    claim: Callable[[], Awaitable[bool]]
    release: Callable[[], Awaitable[None]]
    spent: Callable[[], discord.ui.View]
    fresh: Callable[[], discord.ui.View]


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

    def __init__(
        self,
        progress: ProgressMessage,
        order: ComposeOrder,
        interval: float,
        *,
        playing_in: str | None = None,
    ) -> None:
        self._progress = progress
        self._order = order
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
        headline = f"“{inert(self._order.headline, 80)}” · {duration(self._order.length_s)}"
        if self._started_at is not None:
            elapsed = round(time.monotonic() - self._started_at)
            if self._playing_in is not None:
                return f"🎵 Playing in {self._playing_in}… {elapsed} s\n{headline}"
            return f"🎵 Composing… {elapsed} s\n{headline}"
        ahead = "you're next" if self._position == 1 else f"#{self._position} in line"
        where = " in the jam" if self._playing_in is not None else ""
        return f"🎼 Queued{where} — {ahead}\n{headline}"

    async def _tick(self, delay: float) -> None:
        await asyncio.sleep(delay)
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
        plans: PlanStore,
        tracks: TrackStore,
        *,
        jams: JamFlow | None = None,
        model_id: ModelId = "music_v1",
        inpainting: bool = False,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self._composer = composer
        self._jams = jams
        self._suggestions = suggestions
        self._quotas = quotas
        self._jobs = jobs
        self._plans = plans
        self._tracks = tracks
        self.model_id = model_id
        self.inpainting = inpainting
        self._progress_interval = progress_interval
        self._uploads = UploadBudget(UPLOAD_BUDGET_BYTES)
        # False once the bot is shutting down: composes already running may finish.
        self.accepting = True
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def running(self) -> int:
        """Composes under way: waiting, composing or uploading."""
        return self._running

    async def drain(self, grace: float) -> int:
        """Stop accepting composes and wait up to `grace` seconds for the running ones to
        deliver; returns how many are still running (the next start reports them)."""
        self.accepting = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        return self._running

    # -- entry points -------------------------------------------------------------------------

    async def compose(self, interaction: discord.Interaction, order: ComposeOrder) -> None:
        """`/music compose`: everything before the defer is quick (in memory, one DB write)."""
        accepted = await self._accept(interaction, order)
        if accepted is None:
            return
        try:
            deferred = await interaction.response.defer(thinking=True)
        except discord.HTTPException:
            await self._quotas.refund(accepted[1].id)
            raise
        progress = ProgressMessage(
            interaction, original_id=deferred.message_id if deferred is not None else None
        )
        # A member listening to this server's jam adds the track to it.
        jam = self._jams.jam_for(interaction) if self._jams is not None else None
        await self._run(progress, interaction, order, *accepted, jam=jam)

    async def compose_plan(
        self, interaction: discord.Interaction, owner_id: int, plan: Plan
    ) -> None:
        """Compose this plan, under a plan: a new message, as often as the owner likes."""
        await self._compose_from_button(interaction, owner_id, ComposeOrder.for_plan(plan))

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
            OnceButton(
                claim=lambda: self._suggestions.claim(suggestion_id),
                release=lambda: self._suggestions.release(suggestion_id),
                spent=lambda: UseSuggestionButton.as_view(suggestion_id, disabled=True),
                fresh=lambda: UseSuggestionButton.as_view(suggestion_id),
            ),
        )

    async def retry(self, interaction: discord.Interaction, job_id: str) -> None:
        """The "Try again" button under an interrupted job."""
        job = await self._jobs.get(job_id)
        if job is None:
            await _ephemeral(interaction, "This track can no longer be retried.")
            return
        order = ComposeOrder.from_request(ComposeRequest.model_validate_json(job.request))
        await self._compose_from_button(
            interaction,
            job.user_id,
            order,
            OnceButton(
                claim=lambda: self._jobs.claim_retry(job_id),
                release=lambda: self._jobs.release_retry(job_id),
                spent=lambda: RetryButton.as_view(job_id, disabled=True),
                fresh=lambda: RetryButton.as_view(job_id),
            ),
        )

    async def regenerate(self, interaction: discord.Interaction, track_id: str) -> None:
        """Regenerate, under a track: the same input again, with a new seed for a plan."""
        track = await self.track_for(interaction, track_id)
        if track is None:
            return
        order = ComposeOrder.from_request(ComposeRequest.model_validate_json(track.request_json))
        if order.plan is not None:
            # A seed goes with a plan only: the API's docs say it cannot be used with a prompt,
            # and a prompt is composed anew each time anyway.
            order = ComposeOrder.for_plan(order.plan, seed=random.randrange(SEED_MAX + 1))
        await self._compose_once_from_track(interaction, track, "regenerate", order)

    async def extend(self, interaction: discord.Interaction, track_id: str) -> None:
        """Extend, under a track: the stored song kept, plus a new section after its end."""
        found = await self._changed_plan(
            interaction, track_id, lambda plan, song: plan_parts.extend(plan, song, EXTEND_MS)
        )
        if found is not None:
            track, extended = found
            await self._compose_once_from_track(
                interaction, track, "extend", ComposeOrder.for_plan(extended)
            )

    async def _compose_once_from_track(
        self, interaction: discord.Interaction, track: TrackRecord, action: str, order: ComposeOrder
    ) -> None:
        """A track's Regenerate or Extend: one new track per button, however fast it is
        clicked; the button is shown spent, and freed again if that track is not delivered."""
        editable = self._editable(track)
        await self._compose_from_button(
            interaction,
            track.user_id,
            order,
            OnceButton(
                claim=lambda: self._tracks.claim(track.id, action),
                release=lambda: self._tracks.release(track.id, action),
                spent=lambda: track_view(
                    track.id, inpainting=editable, spent=track.spent | {action}
                ),
                fresh=lambda: track_view(track.id, inpainting=editable, spent=track.spent),
            ),
        )

    def _editable(self, track: TrackRecord) -> bool:
        """Whether a track's song is stored, so Extend and Redo a section can reuse it."""
        return self.inpainting and track.song_id is not None

    async def pick_redo_section(self, interaction: discord.Interaction, track_id: str) -> None:
        """Redo a section, under a track: a private menu of the track's sections."""
        found = await self._changed_plan(interaction, track_id, lambda plan, song: plan)
        if found is not None:
            await interaction.response.send_message(
                "Which section should be composed again? The rest of the track is kept.",
                view=RedoSectionMenu.for_track(track_id, plan_parts.sections(found[1])),
                ephemeral=True,
            )

    async def redo_section(
        self, interaction: discord.Interaction, track_id: str, index: int
    ) -> None:
        found = await self._changed_plan(
            interaction, track_id, lambda plan, song: plan_parts.redo_section(plan, song, index)
        )
        if found is not None:
            track, redone = found
            await self._compose_from_button(
                interaction, track.user_id, ComposeOrder.for_plan(redone), clear_menu=True
            )

    async def track_for(
        self, interaction: discord.Interaction, track_id: str
    ) -> TrackRecord | None:
        """The track behind a button, if it is still kept and this member may use it."""
        track = await self._tracks.get(track_id)
        if track is None:
            await _ephemeral(interaction, "This track is too old for its buttons to work.")
            return None
        if not may_act_for(interaction, track.user_id):
            await _ephemeral(interaction, ONLY_REQUESTER)
            return None
        return track

    # -- the work -----------------------------------------------------------------------------

    async def _changed_plan(
        self,
        interaction: discord.Interaction,
        track_id: str,
        change: Callable[[Plan, str], Plan],
    ) -> tuple[TrackRecord, Plan] | None:
        """A stored track's plan (the one the API used), changed by `change(plan, song_id)`;
        None after telling the member why not (not theirs, not stored, the change is invalid)."""
        track = await self.track_for(interaction, track_id)
        if track is None:
            return None
        try:
            if not self.inpainting or track.song_id is None or track.plan_json is None:
                raise InvalidInput("This track was not stored for editing, so it can't be changed.")
            try:
                plan = parse_plan(track.plan_json)
            except ValueError:
                raise InvalidInput("This track's plan could not be read.") from None
            return track, change(plan, track.song_id)
        except InvalidInput as exc:
            await _ephemeral(interaction, f"⚠️ {exc.message}")
            return None

    async def _accept(
        self, interaction: discord.Interaction, order: ComposeOrder
    ) -> tuple[OutputFormat, Reservation] | None:
        """Check the order and reserve quota; answer ephemerally and return None if refused."""
        if not self.accepting:
            await _ephemeral(interaction, RESTARTING)
            return None
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
            metrics.quota_rejections.labels(refused.reason).inc()
            await _ephemeral(interaction, quota_refusal(refused, order.length_s))
            return None
        return output_format, reservation

    async def _compose_from_button(
        self,
        interaction: discord.Interaction,
        owner_id: int,
        order: ComposeOrder,
        once: OnceButton | None = None,
        *,
        clear_menu: bool = False,
    ) -> None:
        """Compose for a button's owner (or a moderator, charged to them) in a new message.

        A `once` button acts once (a double click composes once): it is claimed before
        anything starts, shown spent, and released and shown again when the compose does not
        deliver, so the member can press it again. `clear_menu` empties the pressed message.
        """
        if not may_act_for(interaction, owner_id):
            await _ephemeral(interaction, ONLY_REQUESTER)
            return
        accepted = await self._accept(interaction, order)
        if accepted is None:
            return
        output_format, reservation = accepted
        if once is not None and not await once.claim():
            await self._quotas.refund(reservation.id)
            await _ephemeral(interaction, "This button has already been used.")
            return
        try:
            if once is not None or clear_menu:
                spent = once.spent() if once is not None else discord.ui.View()
                await interaction.response.edit_message(view=spent)
            else:
                await interaction.response.defer()
            followup = await interaction.followup.send(
                f"🎼 Composing for {interaction.user.mention}…",
                wait=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            await self._quotas.refund(reservation.id)
            if once is not None:
                await once.release()
            raise
        delivered = await self._run(
            ProgressMessage(interaction, followup), interaction, order, output_format, reservation
        )
        if not delivered and once is not None:
            await once.release()
            if interaction.message is not None:
                try:
                    await interaction.message.edit(view=once.fresh())
                except discord.HTTPException as exc:
                    log.warning("could not show a button as usable again: %s", exc)

    async def _refuse_or_format(
        self, interaction: discord.Interaction, order: ComposeOrder
    ) -> OutputFormat | None:
        """Answer ephemerally and return None when the order cannot go ahead."""
        problem = check_order(order, self.model_id)
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
        *,
        jam: Jam | None = None,
    ) -> bool:
        """Queue, compose and deliver; True when the member received a track.

        The job is settled before the member hears of a failure, so "nothing was taken from
        your quota" is already true when they read it. If the bot stops meanwhile
        (cancellation), the job stays in the store: the next start tells the member it was
        interrupted, with a Try again button, and refunds the quota.
        """
        job_id = uuid.uuid4().hex
        self._running += 1
        self._idle.clear()
        try:
            with job_context(job_id):
                outcome = await self._attempt(
                    job_id, progress, interaction, order, output_format, reservation, jam
                )
                await self._settle(job_id, reservation, outcome.delivered, outcome.error)
                metrics.jobs_finished.labels("delivered" if outcome.delivered else "failed").inc()
                if outcome.tell is not None:
                    await outcome.tell()
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        return outcome.delivered

    async def _attempt(
        self,
        job_id: str,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        output_format: OutputFormat,
        reservation: Reservation,
        jam: Jam | None,
    ) -> _Outcome:
        reporter = ProgressReporter(
            progress,
            order,
            self._progress_interval,
            playing_in=jam.channel.mention if jam is not None else None,
        )

        def tell(content: str) -> Callable[[], Awaitable[bool]]:
            return lambda: self._report(progress, interaction, content=content)

        try:
            request = build_request(
                prompt=order.prompt,
                plan=order.plan,
                length_s=order.length_s if order.plan is None else None,
                model_id=self.model_id,
                force_instrumental=order.instrumental or None,
                seed=order.seed,
                store_for_inpainting=self.inpainting or None,
            )
            assert interaction.guild_id is not None and interaction.channel_id is not None
            job = ComposeJob(
                id=job_id,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                channel_id=interaction.channel_id,
                prompt=order.headline,
                length_s=order.length_s,
                instrumental=order.instrumental,
                request=request,
                # A jam streams raw audio into voice, and encodes the MP3 itself.
                output_format=JAM_STREAM_FORMAT if jam is not None else output_format,
                reservation_id=reservation.id,
                message_id=progress.known_id,
            )
            try:
                if jam is None:
                    track = await self._composer.run(job, reporter)
                else:
                    kbps = mp3_bitrate_kbps(output_format)
                    assert kbps is not None
                    track = await jam.play(job, reporter, kbps=kbps)
            finally:
                # Before any final message, so no progress edit lands after it.
                await reporter.stop()
            with track:
                if await self._deliver(job, progress, interaction, order, track, reservation):
                    return _Outcome(delivered=True)
            return _Outcome(
                error="the track could not be posted",
                tell=lambda: progress.try_edit(
                    content="📤 The track was composed, but Discord refused the upload. "
                    "Nothing was taken from your quota; please try again.",
                    embed=None,
                    attachments=[],
                    view=None,
                ),
            )
        except InvalidInput as exc:
            return _Outcome(error=exc.message, tell=tell(f"⚠️ {inert(exc.message, 500)}"))
        except JamEnded:
            return _Outcome(
                error="the jam ended before its turn",
                tell=tell(
                    "⏹️ The jam ended before your track's turn. Nothing was taken from your quota."
                ),
            )
        except BadPrompt as exc:
            suggestion = exc.prompt_suggestion
            return _Outcome(
                error=repr(exc),
                tell=lambda: self._offer_suggestion(progress, interaction, order, suggestion),
            )
        except BadCompositionPlan as exc:
            plan_suggestion = exc.plan_suggestion
            return _Outcome(
                error=repr(exc),
                tell=lambda: self._offer_plan(progress, interaction, plan_suggestion),
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
        job: ComposeJob,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        order: ComposeOrder,
        track: Track,
        reservation: Reservation,
    ) -> bool:
        used_plan = _readable_plan(track.composition_plan) or order.plan
        embed = track_embed(
            headline=order.headline,
            length_s=order.length_s,
            requester=interaction.user,
            metadata=track.metadata,
            plan=used_plan,
            output_format=track.output_format or "",
            tracks_left=reservation.tracks_left,
            window_hours=reservation.window_hours,
        )
        # Saved first: the buttons posted with the track name this row.
        await self._tracks.save(
            track_id=job.id,
            guild_id=job.guild_id,
            channel_id=job.channel_id,
            user_id=job.user_id,
            request_json=job.request.model_dump_json(),
            plan_json=used_plan.model_dump_json() if used_plan is not None else None,
            song_id=track.song_id,
            title=track.title,
            length_s=order.length_s,
        )
        filename = track_filename(track.title, order.headline)
        async with self._uploads.hold(track.size):
            delivered = await self._report(
                progress,
                interaction,
                late_note="your track is ready:",
                content=None,
                embed=embed,
                view=track_view(job.id, inpainting=self.inpainting and track.song_id is not None),
                attachments=lambda: [
                    # A fresh File each time: a failed upload leaves the previous one consumed.
                    discord.File(cast(io.BufferedIOBase, track.audio.fileobj()), filename=filename)
                ],
            )
        if delivered:
            log.info(
                "job delivered %s (%d bytes) to %s", filename, track.size, interaction.channel_id
            )
        else:
            metrics.upload_failures.inc()
            await self._tracks.forget(job.id)
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
            embed=suggestion_embed(prompt=order.headline, suggestion=suggestion),
            view=UseSuggestionButton.as_view(suggestion_id),
        )

    async def _offer_plan(
        self,
        progress: ProgressMessage,
        interaction: discord.Interaction,
        suggestion: dict[str, Any],
    ) -> None:
        """A plan refused for copyright: show the API's rewrite, ready to compose."""
        try:
            plan = parse_plan(suggestion)
        except ValueError:
            log.warning("the API suggested a plan that is not valid; offering nothing")
            await self._report(
                progress,
                interaction,
                content="🚫 The music service refused this plan as copyrighted material and "
                "offered no usable alternative. Nothing was taken from your quota.",
            )
            return
        assert interaction.guild_id is not None and interaction.channel_id is not None
        plan_id = await self._plans.save(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            origin="suggested",
            plan=plan,
        )
        embed, left_out = plan_embed(
            plan,
            heading="That plan looks like it names copyrighted music",
            note="The music service suggests this plan instead. Nothing was taken from your quota.",
        )
        view = plan_view(plan_id, has_global_styles=isinstance(plan, MusicPrompt), suggested=True)
        shown = await self._report(
            progress,
            interaction,
            content=None,
            embed=embed,
            view=view,
            attachments=(lambda: [plan_file(plan)]) if left_out else None,
        )
        message_id = await progress.message_id() if shown else None
        if message_id is not None:
            # So an edit of the suggested plan redraws this message.
            await self._plans.set_message(plan_id, message_id)

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


def _readable_plan(raw: dict[str, Any] | None) -> Plan | None:
    """The plan the API says it used, if it is one we can read."""
    if raw is None:
        return None
    try:
        return parse_plan(raw)
    except ValueError:
        log.warning("the API's composition plan could not be read; keeping the request's")
        return None


def plan_file(plan: Plan) -> discord.File:
    """The whole plan in the API's JSON, for when the embed cannot show all of it."""
    data = json.dumps(plan.to_wire(), indent=2, ensure_ascii=False).encode()
    return discord.File(io.BytesIO(data), filename="plan.json")


async def _ephemeral(interaction: discord.Interaction, message: str) -> None:
    await interaction.response.send_message(
        message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )
