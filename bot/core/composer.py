"""The Composer: runs compose jobs fairly, at most N at once across every process.

Jobs are rows (`bot.store.jobs`), so the API's concurrency holds for all bot processes sharing
the database, a restart loses nothing silently, and the next job goes to the guild, then the
member, served least recently: one member's ten jobs never delay another member's first.
Knows nothing of Discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot import metrics
from bot.music import ComposeRequest, MusicClient, Track
from bot.music.client import StreamInfo
from bot.music.models import OutputFormat
from bot.store.jobs import JobRecord, JobStore

log = logging.getLogger(__name__)


class JobListener(Protocol):
    """What the submitter hears while its job waits and runs (e.g. a Discord progress message)."""

    async def queued(self, position: int) -> None: ...

    async def started(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """Where the member watches their job: the message, and the interaction token that lets
    any process edit it for 15 minutes (kept out of reprs and logs)."""

    message_id: int | None = None
    interaction_token: str | None = field(default=None, repr=False)
    application_id: int | None = None


# An interaction token lasts 15 minutes; a minute is kept for the edit itself.
REPLY_TOKEN_SECONDS = 14 * 60


def reply_of(record: JobRecord) -> Reply:
    return Reply(record.message_id, record.interaction_token, record.application_id)


def reply_editable(reply: Reply, *, created_at: float, now: float) -> bool:
    """Whether a job's reply can still be edited by its interaction token."""
    return (
        reply.message_id is not None
        and reply.interaction_token is not None
        and reply.application_id is not None
        and now - created_at < REPLY_TOKEN_SECONDS
    )


@dataclass(frozen=True, slots=True)
class ComposeJob:
    id: str
    guild_id: int
    user_id: int
    channel_id: int
    prompt: str
    length_s: int
    instrumental: bool
    request: ComposeRequest
    output_format: OutputFormat
    reservation_id: str | None = None
    # The message the track will be delivered into, if known (checked after a crash).
    message_id: int | None = None
    # The member's reply by token, so another process can edit it after a takeover.
    interaction_token: str | None = field(default=None, repr=False)
    application_id: int | None = None


@dataclass(eq=False)
class _Waiting:
    job: ComposeJob
    listener: JobListener | None
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    last_position: int = 0


InterruptedHandler = Callable[[list[JobRecord]], Awaitable[None]]
DeliveryCheck = Callable[[JobRecord], Awaitable[bool]]


class Composer:
    def __init__(
        self,
        music: MusicClient,
        jobs: JobStore,
        *,
        concurrency: int,
        poll_interval: float = 0.5,
        on_interrupted: InterruptedHandler | None = None,
        was_delivered: DeliveryCheck | None = None,
    ) -> None:
        """`was_delivered(job)` says whether a stopped process's composed job reached its
        member after all (it died between the upload and recording it); `on_interrupted`
        hears of the jobs that did not."""
        self._music = music
        self._jobs = jobs
        self.concurrency = concurrency
        self._poll_interval = poll_interval
        self.on_interrupted = on_interrupted
        self.was_delivered = was_delivered
        self._waiting: dict[str, _Waiting] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._notifications: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Recover what a previous process left, then start scheduling and lease renewal."""
        await self.recover()
        self._tasks = [
            asyncio.create_task(self._dispatch_forever(), name="composer-dispatch"),
            asyncio.create_task(self._maintain_forever(), name="composer-leases"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def recover(self) -> list[JobRecord]:
        """Settle the jobs of stopped processes: charged if their track was delivered after
        all, otherwise interrupted (refunded) and reported. Returns the interrupted ones."""
        interrupted = []
        for job in await self._jobs.take_stale():
            delivered = job.composed_at is not None and await self._check_delivery(job)
            await self._jobs.settle_stale(job.id, delivered=delivered)
            if delivered:
                log.warning("job %s was delivered just before its process stopped", job.id)
            else:
                interrupted.append(job)
        if interrupted:
            log.warning("%d job(s) interrupted by a stopped process", len(interrupted))
            if self.on_interrupted is not None:
                try:
                    await self.on_interrupted(interrupted)
                except Exception:
                    log.exception("could not report interrupted jobs")
        return interrupted

    async def _check_delivery(self, job: JobRecord) -> bool:
        if self.was_delivered is None:
            return False
        try:
            return await self.was_delivered(job)
        except Exception:
            log.exception("could not check whether job %s was delivered", job.id)
            return False

    async def run(self, job: ComposeJob, listener: JobListener | None = None) -> Track:
        """Queue the job, wait for its turn, compose; the caller delivers, then `finish`es."""
        await self._take_turn(job, listener)
        try:
            with metrics.api_call("compose"):
                return await self._music.compose_detailed(
                    job.request, output_format=job.output_format, with_waveform_visual=True
                )
        finally:
            await self._free_slot(job)

    @contextlib.asynccontextmanager
    async def streaming(
        self,
        job: ComposeJob,
        listener: JobListener | None = None,
        info: StreamInfo | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Queue the job, wait for its turn, and yield the audio as the API streams it (`info`
        gets its song id). The API slot is held until the block ends; the caller then delivers
        and `finish`es."""
        await self._take_turn(job, listener)
        try:
            with metrics.api_call("stream"):
                yield self._music.stream(job.request, output_format=job.output_format, info=info)
        finally:
            await self._free_slot(job)

    async def _take_turn(self, job: ComposeJob, listener: JobListener | None) -> None:
        # Waiting before the row exists: the dispatcher may claim the row the moment it is
        # committed, and must find its waiter then.
        waiting = _Waiting(job, listener)
        self._waiting[job.id] = waiting
        try:
            await self._enqueue_and_wait(job, waiting)
        finally:
            self._waiting.pop(job.id, None)
        if listener is not None:
            await listener.started()
        log.info("job %s started", job.id)

    async def _free_slot(self, job: ComposeJob) -> None:
        # The API slot is free as soon as the audio is in hand (or the call failed).
        await self._jobs.mark_composed(job.id)
        self._wake.set()

    async def _enqueue_and_wait(self, job: ComposeJob, waiting: _Waiting) -> None:
        await self._jobs.enqueue(
            job_id=job.id,
            guild_id=job.guild_id,
            user_id=job.user_id,
            channel_id=job.channel_id,
            prompt=job.prompt,
            length_s=job.length_s,
            instrumental=job.instrumental,
            request=job.request.model_dump_json(),
            output_format=job.output_format,
            reservation_id=job.reservation_id,
            message_id=job.message_id,
            interaction_token=job.interaction_token,
            application_id=job.application_id,
        )
        self._wake.set()
        await waiting.turn

    async def finish(self, job_id: str, *, delivered: bool, error: str | None = None) -> None:
        """Settle the job and its quota: committed when delivered, refunded otherwise."""
        await self._jobs.finish(job_id, delivered=delivered, error=error)

    # -- background work ----------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim_turns()
                await self._announce_positions()
            except Exception:
                log.exception("job scheduling failed; retrying")
            if self._waiting:
                # Other processes free slots without waking us; look again shortly. (Not
                # wait_for: on 3.11 it can swallow a cancel that lands as the wait completes,
                # and stop() would wait for ever.)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake.wait()
            else:
                await self._wake.wait()

    async def _claim_turns(self) -> None:
        while waiting_count := sum(1 for w in self._waiting.values() if not w.turn.done()):
            records = await self._jobs.claim_next(self.concurrency, most=waiting_count)
            if not records:
                return
            for record in records:
                waiting = self._waiting.get(record.id)
                if waiting is None or waiting.turn.done():
                    # Nobody here waits for it any more (its compose was cancelled): give the
                    # slot and the quota back instead of holding them under a renewed lease.
                    await self._jobs.mark_composed(record.id)
                    await self._jobs.finish(record.id, delivered=False, error="abandoned")
                    continue
                waiting.turn.set_result(None)

    async def _announce_positions(self) -> None:
        pending = [w for w in self._waiting.values() if not w.turn.done() and w.listener]
        if not pending:
            return
        positions = await self._jobs.positions()
        for waiting in pending:
            position = positions.get(waiting.job.id)
            if position is None or position == waiting.last_position:
                continue
            waiting.last_position = position
            assert waiting.listener is not None
            task = asyncio.create_task(self._tell(waiting.listener, position))
            self._notifications.add(task)
            task.add_done_callback(self._notifications.discard)

    @staticmethod
    async def _tell(listener: JobListener, position: int) -> None:
        try:
            await listener.queued(position)
        except Exception:
            log.exception("a queue position update failed")

    async def _maintain_forever(self) -> None:
        interval = self._jobs.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self._jobs.renew()
                await self.recover()
            except Exception:
                log.exception("job lease maintenance failed; retrying")
