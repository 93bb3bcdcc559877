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
    MusicError,
    build_request,
    parse_plan,
)
from bot.music.models import PROMPT_MAX_CHARS, ModelId
from bot.music.plans import Plan
from bot.store import SuggestionStore
from bot.store.jobs import JobStore
from bot.store.plans import TrackStore
from bot.store.quotas import QuotaLedger, QuotaRefused, Reservation

from .composer import ComposeJob, Composer, JobListener
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
        model_id: ModelId = "music_v1",
        intake: Intake | None = None,
        inpainting: bool = False,
    ) -> None:
        self._composer = composer
        self._quotas = quotas
        self._jobs = jobs
        self._tracks = tracks
        self._suggestions = suggestions
        self._plans = plans
        self.model_id = model_id
        self.inpainting = inpainting
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
        message_id: int | None = None,
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
                outcome = await self._attempt(job_id, accepted, listener, deliver, jam, message_id)
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

    def _job(
        self, job_id: str, accepted: Accepted, jam: Jam | None, message_id: int | None
    ) -> ComposeJob:
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
            message_id=message_id,
        )

    async def _attempt(
        self,
        job_id: str,
        accepted: Accepted,
        listener: JobListener,
        deliver: Deliver,
        jam: Jam | None,
        message_id: int | None,
    ) -> Outcome:
        order = accepted.order
        try:
            job = self._job(job_id, accepted, jam, message_id)
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
                composed = Composed(job, track, order, plan, accepted.reservation, editable)
                if await deliver(composed):
                    return Delivered(job.id)
            metrics.upload_failures.inc()
            await self._tracks.forget(job.id)
            return UploadRefused()
        except (InvalidInput, JamEnded) as exc:
            return Failed(exc)
        except BadPrompt as exc:
            return await self._save_suggestion(accepted, exc.prompt_suggestion)
        except BadCompositionPlan as exc:
            return await self._save_suggested_plan(accepted.requester, exc.plan_suggestion)
        except MusicError as exc:
            log.warning("job %s failed: %r %s", job_id, exc, exc.message)
            return Failed(exc)
        except Exception as exc:
            log.exception("job %s failed unexpectedly", job_id)
            return Failed(exc)

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


def _readable_plan(raw: dict[str, object] | None) -> Plan | None:
    """The plan the API says it used, if it is one we can read."""
    if raw is None:
        return None
    try:
        return parse_plan(raw)
    except ValueError:
        log.warning("the API's composition plan could not be read; keeping the request's")
        return None
