"""Many processes on one bot token: each interaction answered by one process only, and
identifies paced as Discord allows across every process. Discord-free: the bot asks these
before it dispatches an interaction and before a shard identifies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot import metrics
from bot.store.shards import IdentifySlots, InteractionClaims

log = logging.getLogger(__name__)

# A claim no interaction can have (snowflakes are positive): the process that claims it names
# the misconfiguration; claims are pruned after an hour, so a lasting one is named hourly.
WARNING_CLAIM = 0
# How often a process asks again whether to name a misconfiguration.
WARNING_INTERVAL = 3600.0

# Discord lets each identify bucket (shard_id % max_concurrency) start one session per 5 s.
IDENTIFY_INTERVAL = 5.0


class InteractionGate:
    """Admits an interaction to the one process that claims it first, before any side effect.

    A duplicate means two gateway sessions got the same event: two processes run the same
    shard. It is dropped quietly; the misconfiguration is named once, by one of the processes
    (then at most hourly while it lasts).
    """

    def __init__(self, claims: InteractionClaims) -> None:
        self._claims = claims
        self.duplicates = 0
        self._failing = False
        self._asked_at: float | None = None

    async def admit(self, interaction_id: int) -> bool:
        try:
            claimed = await self._claims.claim(interaction_id)
        except Exception:
            # Answering twice is better than never: the member still gets a reply.
            if not self._failing:
                log.exception("could not claim interaction %s; answering it anyway", interaction_id)
            self._failing = True
            return True
        self._failing = False
        if claimed:
            return True
        self.duplicates += 1
        metrics.duplicate_interactions.inc()
        if await self._first_to_say():
            log.warning(
                "another process answered interaction %s: two processes run the same shard? "
                "check DISCORD_SHARD_IDS (each shard in exactly one process) and "
                "DISCORD_SHARD_COUNT (the same in every process)",
                interaction_id,
            )
        else:
            log.debug("interaction %s was answered by another process", interaction_id)
        return False

    async def _first_to_say(self) -> bool:
        now = time.monotonic()
        if self._asked_at is not None and now - self._asked_at < WARNING_INTERVAL:
            return False
        self._asked_at = now
        return await self._claims.claim(WARNING_CLAIM)

    async def prune(self, before: float) -> int:
        return await self._claims.prune(before)


class IdentifyGate:
    """Waits until a shard may identify: one per bucket per interval, across processes."""

    def __init__(self, slots: IdentifySlots, *, interval: float = IDENTIFY_INTERVAL) -> None:
        self._slots = slots
        self.interval = interval

    async def wait_turn(
        self, shard_id: int, max_concurrency: int, *, stop: asyncio.Event | None = None
    ) -> bool:
        """Wait for the shard's identify slot and take it; False when `stop` came first."""
        bucket = shard_id % max(1, max_concurrency)
        stop = stop or asyncio.Event()
        while not stop.is_set():
            wait = await self._slots.claim(bucket=bucket, interval=self.interval)
            if wait <= 0:
                return True
            log.info("shard %d waits %.1f s for its identify slot", shard_id, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        return False
