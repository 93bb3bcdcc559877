"""ComposeService: accept an order (checks, quota, claim-once) and compose it to a settled
outcome. A failure comes back already refunded; a track is charged once delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot import metrics
from bot.logs import job_context
from bot.music import (
    BadCompositionPlan,
    BadPrompt,
    InvalidInput,
    MusicClient,
    MusicError,
    PromptRejected,
    Track,
    build_request,
    parse_plan,
)
from bot.music.models import DEFAULT_MODEL, PROMPT_MAX_CHARS, ModelId
from bot.music.plans import Plan
from bot.music.waveform import Waveform, waveform_of_mp3
from bot.store import SuggestionStore
from bot.store.audio import TrackAudioStore
from bot.store.jobs import JobStore
from bot.store.plans import TrackRecord, TrackStore
from bot.store.quotas import QuotaLedger, QuotaRefused, Reservation

from .composer import ComposeJob, Composer, JobListener, Reply
from .formats import longest_fitting_seconds, pick_output_format
from .intake import Intake
from .jam import Jam, JamEnded
from .orders import MIN_SECONDS, ComposeOrder, check_order
from .outcomes import (
    Accepted,
    Composed,
    Delivered,
    Failed,
    Once,
    Outcome,
    PlanRefused,
    PromptRefused,
    Separated,
    StemsOutcome,
    UploadRefused,
)
from .refusals import AlreadyUsed, NotYours, OverQuota, Refused, Restarting, TooLargeToUpload
from .requester import Requester

if TYPE_CHECKING:
    from .plans import PlanService

log = logging.getLogger(__name__)

# Delivers a composed track to its member; True when they received it.
Deliver = Callable[[Composed], Awaitable[bool]]


class ComposeService:
    def __init__(
        self,
        composer: Composer,
        quotas: QuotaLedger,
        jobs: JobStore,
        tracks: TrackStore,
        suggestions: SuggestionStore,
        plans: PlanService,
        *,
        model_id: ModelId = DEFAULT_MODEL,
        intake: Intake | None = None,
        inpainting: bool = False,
        audio: TrackAudioStore | None = None,
        music: MusicClient | None = None,
    ) -> None:
        self._composer = composer
        self._quotas = quotas
        self._jobs = jobs
        self._tracks = tracks
        self._suggestions = suggestions
        self._plans = plans
        self.model_id = model_id
        self.inpainting = inpainting
        # Delivered tracks' MP3s (for Stems), and the client that separates them.
        self._audio = audio
        self._music = music
        self._intake = intake or Intake()
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
        self._intake.accepting = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()
        return self._running

    # -- accept -------------------------------------------------------------------------------

    async def accept(
        self,
        requester: Requester,
        order: ComposeOrder,
        upload_limit: int,
        *,
        owner_id: int | None = None,
        once: Once | None = None,
    ) -> Accepted | Refused:
        """Check the order and reserve quota (charged to the requester); for a button, only
        its owner or a moderator, and a `once` button is claimed here, once."""
        if owner_id is not None and not requester.may_act_for(owner_id):
            return Refused(NotYours())
        if not self._intake.accepting:
            return Refused(Restarting())
        problem = check_order(order, self.model_id)
        if problem is not None:
            return Refused(problem)
        output_format = pick_output_format(order.length_s, upload_limit)
        if output_format is None:
            longest = longest_fitting_seconds(upload_limit)
            return Refused(TooLargeToUpload(order.length_s, upload_limit, longest, MIN_SECONDS))
        try:
            reservation = await self._quotas.reserve(
                requester.guild_id, requester.user_id, list(requester.role_ids), order.length_s
            )
        except QuotaRefused as refused:
            metrics.quota_rejections.labels(refused.reason).inc()
            return Refused(OverQuota(refused, order.length_s))
        if once is not None and not await self._claim(once):
            await self._quotas.refund(reservation.id)
            return Refused(AlreadyUsed())
        return Accepted(requester, order, output_format, reservation, once)

    async def abandon(self, accepted: Accepted) -> None:
        """Give back what `accept` took: Discord refused the acknowledgement."""
        await self._quotas.refund(accepted.reservation.id)
        if accepted.once is not None:
            await self._release(accepted.once)

    async def _claim(self, once: Once) -> bool:
        match once.kind:
            case "suggestion":
                return await self._suggestions.claim(once.row_id)
            case "retry":
                return await self._jobs.claim_retry(once.row_id)
            case _:
                return await self._tracks.claim(once.row_id, once.kind)

    async def _release(self, once: Once) -> None:
        match once.kind:
            case "suggestion":
                await self._suggestions.release(once.row_id)
            case "retry":
                await self._jobs.release_retry(once.row_id)
            case _:
                await self._tracks.release(once.row_id, once.kind)

    # -- compose ------------------------------------------------------------------------------

    async def compose(
        self,
        accepted: Accepted,
        listener: JobListener,
        deliver: Deliver,
        *,
        jam: Jam | None = None,
        reply: Reply | None = None,
    ) -> Outcome:
        """Queue, compose and deliver; the outcome comes back settled.

        If the bot stops meanwhile (cancellation), the job stays in the store: the next start
        tells the member it was interrupted, with a Try again button, and refunds the quota.
        A `once` button that did not deliver is released, so it can be pressed again.
        """
        job_id = uuid.uuid4().hex
        self._running += 1
        self._idle.clear()
        try:
            with job_context(job_id):
                outcome = await self._attempt(
                    job_id, accepted, listener, deliver, jam, reply or Reply()
                )
                delivered = isinstance(outcome, Delivered)
                await self._settle(job_id, accepted.reservation, delivered, _error(outcome))
                metrics.jobs_finished.labels("delivered" if delivered else "failed").inc()
                if not delivered and accepted.once is not None:
                    await self._release(accepted.once)
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        return outcome

    def _job(self, job_id: str, accepted: Accepted, jam: Jam | None, reply: Reply) -> ComposeJob:
        order, requester = accepted.order, accepted.requester
        request = build_request(
            prompt=order.prompt,
            plan=order.plan,
            length_s=order.length_s if order.plan is None else None,
            model_id=self.model_id,
            force_instrumental=order.instrumental or None,
            seed=order.seed,
            store_for_inpainting=self.inpainting or None,
        )
        return ComposeJob(
            id=job_id,
            guild_id=requester.guild_id,
            user_id=requester.user_id,
            channel_id=requester.channel_id,
            prompt=order.headline,
            length_s=order.length_s,
            instrumental=order.instrumental,
            request=request,
            # A jam streams the same MP3, decoding it for voice as it arrives.
            output_format=accepted.output_format,
            reservation_id=accepted.reservation.id,
            message_id=reply.message_id,
            interaction_token=reply.interaction_token,
            application_id=reply.application_id,
        )

    async def _attempt(
        self,
        job_id: str,
        accepted: Accepted,
        listener: JobListener,
        deliver: Deliver,
        jam: Jam | None,
        reply: Reply,
    ) -> Outcome:
        order = accepted.order
        try:
            job = self._job(job_id, accepted, jam, reply)
            if jam is None:
                track = await self._composer.run(job, listener)
            else:
                track = await jam.play(job, listener)
            with track:
                plan = _readable_plan(track.composition_plan) or order.plan
                editable = self.inpainting and track.song_id is not None
                # Saved first: the buttons posted with the track name this row.
                await self._tracks.save(
                    track_id=job.id,
                    guild_id=job.guild_id,
                    channel_id=job.channel_id,
                    user_id=job.user_id,
                    request_json=job.request.model_dump_json(),
                    plan_json=plan.model_dump_json() if plan is not None else None,
                    song_id=track.song_id,
                    title=track.title,
                    length_s=order.length_s,
                )
                if self._audio is not None:
                    await self._audio.save(job.id, track.audio.fileobj())
                waveform = track.waveform or await _measure(track)
                composed = Composed(
                    job, track, order, plan, accepted.reservation, editable, waveform
                )
                if await deliver(composed):
                    return Delivered(job.id)
            metrics.upload_failures.inc()
            await self._tracks.forget(job.id)
            if self._audio is not None:
                await self._audio.forget(job.id)
            return UploadRefused()
        except (InvalidInput, JamEnded) as exc:
            return Failed(exc)
        except PromptRejected as exc:
            return await self._refused_for_copyright(job_id, accepted, exc)
        except MusicError as exc:
            log.warning("job %s failed: %r %s", job_id, exc, exc.message)
            return Failed(exc)
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            return Failed(exc)

    async def _refused_for_copyright(
        self, job_id: str, accepted: Accepted, refusal: PromptRejected
    ) -> Outcome:
        """Keep the API's suggestion for its button; a store that fails here still leaves a
        settled outcome (Failed), never an unsettled job."""
        try:
            if isinstance(refusal, BadPrompt):
                return await self._save_suggestion(accepted, refusal.prompt_suggestion)
            if isinstance(refusal, BadCompositionPlan):
                return await self._save_suggested_plan(accepted.requester, refusal.plan_suggestion)
        except Exception as exc:
            log.exception("job %s: could not keep the API's suggestion", job_id)
            return Failed(exc)
        return Failed(refusal)

    # -- stems ---------------------------------------------------------------------------------

    async def separate(
        self,
        accepted: Accepted,
        track: TrackRecord,
        count: int,
        deliver: Callable[[Separated], Awaitable[bool]],
    ) -> StemsOutcome:
        """Split an accepted track into stems and deliver them; settled like a compose (the
        reservation committed once delivered, else refunded and the once-claim released)."""
        self._running += 1
        self._idle.clear()
        delivered = False
        try:
            outcome = await self._separate(accepted, track, count, deliver)
            delivered = isinstance(outcome, Delivered)
            return outcome
        finally:
            try:
                settle = self._quotas.commit if delivered else self._quotas.refund
                await asyncio.shield(settle(accepted.reservation.id))
                if not delivered and accepted.once is not None:
                    await self._release(accepted.once)
            finally:
                self._running -= 1
                if not self._running:
                    self._idle.set()

    async def _separate(
        self,
        accepted: Accepted,
        track: TrackRecord,
        count: int,
        deliver: Callable[[Separated], Awaitable[bool]],
    ) -> StemsOutcome:
        audio = await self._audio.read(track.id) if self._audio is not None else None
        if audio is None or self._music is None:
            return Failed(InvalidInput("the track's audio is no longer kept"))
        try:
            with metrics.api_call("stems"):
                stems = await self._music.separate_stems(
                    audio,
                    variation="two_stems_v1" if count == 2 else "six_stems_v1",
                    output_format=accepted.output_format,
                )
        except MusicError as exc:
            log.warning("stems of %s failed: %r %s", track.id, exc, exc.message)
            return Failed(exc)
        except Exception as exc:
            log.exception("stems of %s failed unexpectedly", track.id)
            return Failed(exc)
        separated = Separated(
            track.id, track.title, accepted.order.headline, stems, accepted.output_format
        )
        return Delivered(track.id) if await deliver(separated) else UploadRefused()

    async def _save_suggestion(self, accepted: Accepted, suggestion: str) -> PromptRefused:
        order, requester = accepted.order, accepted.requester
        suggestion_id = await self._suggestions.save(
            guild_id=requester.guild_id,
            channel_id=requester.channel_id,
            user_id=requester.user_id,
            prompt=suggestion[:PROMPT_MAX_CHARS],
            length_s=order.length_s,
            instrumental=order.instrumental,
        )
        return PromptRefused(suggestion_id, suggestion, order.headline)

    async def _save_suggested_plan(
        self, requester: Requester, suggestion: dict[str, object]
    ) -> PlanRefused:
        try:
            plan = parse_plan(suggestion)
        except ValueError:
            log.warning("the API suggested a plan that is not valid; offering nothing")
            return PlanRefused(None, None)
        plan_id = await self._plans.save(requester, plan, origin="suggested")
        return PlanRefused(plan_id, plan)

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


def _error(outcome: Outcome) -> str | None:
    match outcome:
        case Delivered():
            return None
        case UploadRefused():
            return "the track could not be posted"
        case Failed(cause=JamEnded()):
            return "the jam ended before its turn"
        case Failed(cause=InvalidInput() as exc):
            return exc.message
        case Failed(cause=cause):
            return repr(cause)
        case PromptRefused():
            return "the prompt was refused as copyrighted"
        case PlanRefused():
            return "the plan was refused as copyrighted"


async def _measure(track: Track) -> Waveform:
    """The track's levels from its MP3 (the API sent none), decoded off the event loop; a
    track whose audio cannot be decoded is delivered with a flat waveform."""
    try:
        return await asyncio.to_thread(waveform_of_mp3, await track.audio.read())
    except Exception:
        log.warning("could not measure the waveform of %s", track.filename, exc_info=True)
        return Waveform(())


def _readable_plan(raw: dict[str, object] | None) -> Plan | None:
    """The plan the API says it used, if it is one we can read."""
    if raw is None:
        return None
    try:
        return parse_plan(raw)
    except ValueError:
        log.warning("the API's composition plan could not be read; keeping the request's")
        return None
