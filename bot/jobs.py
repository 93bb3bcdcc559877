"""The Composer: runs compose jobs fairly, at most N at once. Knows nothing of Discord.

Fairness: the next job goes to the guild, then the user within it, that was served least
recently, so one member's ten jobs never delay another member's first.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from bot.music import ComposeRequest, MusicClient, Track

log = logging.getLogger(__name__)

T = TypeVar("T")


class FairQueue(Generic[T]):
    """Least-recently-served scheduling over two levels (guild, then user)."""

    def __init__(self) -> None:
        self._queues: dict[tuple[Hashable, Hashable], deque[T]] = {}
        self._served: dict[Hashable, int] = {}
        self._clock = itertools.count(1)
        self._arrival: dict[tuple[Hashable, Hashable], int] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, guild: Hashable, user: Hashable, item: T) -> None:
        key = (guild, user)
        if key not in self._queues:
            self._queues[key] = deque()
            self._arrival[key] = next(self._clock)
        self._queues[key].append(item)

    def _next_key(self, served: dict[Hashable, int]) -> tuple[Hashable, Hashable] | None:
        if not self._queues:
            return None
        return min(
            self._queues,
            key=lambda k: (served.get(("g", k[0]), 0), served.get(k, 0), self._arrival[k]),
        )

    def pop(self) -> T | None:
        key = self._next_key(self._served)
        if key is None:
            return None
        item = self._queues[key].popleft()
        stamp = next(self._clock)
        self._served[("g", key[0])] = stamp
        self._served[key] = stamp
        if not self._queues[key]:
            del self._queues[key]
            del self._arrival[key]
        return item

    def remove(self, item: T) -> bool:
        for key, queue in self._queues.items():
            if item in queue:
                queue.remove(item)
                if not queue:
                    del self._queues[key]
                    del self._arrival[key]
                return True
        return False

    def order(self) -> Iterator[T]:
        """The items in the order `pop` would return them, without popping."""
        queues = {k: deque(q) for k, q in self._queues.items()}
        served = dict(self._served)
        arrival = dict(self._arrival)
        clock = itertools.count(next(self._clock))
        while queues:
            key = min(
                queues, key=lambda k: (served.get(("g", k[0]), 0), served.get(k, 0), arrival[k])
            )
            yield queues[key].popleft()
            stamp = next(clock)
            served[("g", key[0])] = stamp
            served[key] = stamp
            if not queues[key]:
                del queues[key]


class JobListener(Protocol):
    """What the submitter hears while its job waits and runs (e.g. a Discord progress message)."""

    async def queued(self, position: int) -> None: ...

    async def started(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ComposeJob:
    id: str
    guild_id: int
    user_id: int
    channel_id: int
    request: ComposeRequest
    output_format: str


@dataclass(eq=False)
class _Waiting:
    job: ComposeJob
    listener: JobListener | None
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    last_position: int = 0


class Composer:
    """Runs compose jobs: fair order, global concurrency `concurrency` in this process."""

    def __init__(self, music: MusicClient, *, concurrency: int) -> None:
        self._music = music
        self.concurrency = concurrency
        self._queue: FairQueue[_Waiting] = FairQueue()
        self.running = 0
        self._notifications: set[asyncio.Task[None]] = set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def run(self, job: ComposeJob, listener: JobListener | None = None) -> Track:
        """Wait for a turn, compose, and return the track (the caller closes it)."""
        waiting = _Waiting(job, listener)
        self._queue.push(job.guild_id, job.user_id, waiting)
        self._dispatch()
        try:
            await waiting.turn
        except asyncio.CancelledError:
            if not self._queue.remove(waiting) and waiting.turn.done():
                self._release()
            raise
        try:
            if listener is not None:
                await listener.started()
            log.info("job %s started (%d running, %d queued)", job.id, self.running, self.queued)
            return await self._music.compose_detailed(
                job.request,
                output_format=job.output_format,  # type: ignore[arg-type]
            )
        finally:
            self._release()

    def _release(self) -> None:
        self.running -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        while self.running < self.concurrency:
            waiting = self._queue.pop()
            if waiting is None:
                break
            self.running += 1
            waiting.turn.set_result(None)
        self._announce_positions()

    def _announce_positions(self) -> None:
        for position, waiting in enumerate(self._queue.order(), start=1):
            if waiting.listener is not None and waiting.last_position != position:
                waiting.last_position = position
                task = asyncio.create_task(self._tell(waiting.listener, position))
                self._notifications.add(task)
                task.add_done_callback(self._notifications.discard)

    @staticmethod
    async def _tell(listener: JobListener, position: int) -> None:
        try:
            await listener.queued(position)
        except Exception:
            log.exception("a queue position update failed")
