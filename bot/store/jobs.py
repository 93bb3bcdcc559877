"""JobStore: compose jobs as rows, so the API's concurrency and fairness hold across processes.

States: queued -> running -> done | failed. A job whose process stopped renewing its lease (or
died, if it was this bot's own earlier run) is taken over as `recovering`, then settled: done
if its track reached the channel after all, interrupted if not. Settling a job settles its
quota reservation in the same transaction: done commits it, anything else refunds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update

from .database import Database
from .schema import jobs, quota_usage
from .sql import mark_once, unmark

ACTIVE = ("queued", "running")
# Not settled yet: the reservation is still held and the lease still renewed.
UNSETTLED = (*ACTIVE, "recovering")
# Any constant: the key of the transaction-scoped lock that serialises job claims on PostgreSQL.
_CLAIM_LOCK = 0x6D75736963


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    guild_id: int
    user_id: int
    channel_id: int
    prompt: str
    length_s: int
    instrumental: bool
    request: str
    output_format: str
    state: str
    owner: str
    reservation_id: str | None
    error: str | None
    created_at: float = 0.0
    # Set once the audio was in hand: from then on, the track may have been delivered.
    composed_at: float | None = None
    message_id: int | None = None
    # The member's reply by interaction token (never logged: it lets anyone edit the reply).
    interaction_token: str | None = field(default=None, repr=False)
    application_id: int | None = None
    # Taken over from this bot's own earlier run (it restarted), not from another process.
    restarted: bool = False

    @classmethod
    def from_row(cls, row: Any, *, restarted: bool = False) -> JobRecord:
        return cls(
            id=row.id,
            guild_id=row.guild_id,
            user_id=row.user_id,
            channel_id=row.channel_id,
            prompt=row.prompt,
            length_s=row.length_s,
            instrumental=row.instrumental,
            request=row.request,
            output_format=row.output_format,
            state=row.state,
            owner=row.owner,
            reservation_id=row.reservation_id,
            error=row.error,
            created_at=row.created_at,
            composed_at=row.composed_at,
            message_id=row.message_id,
            interaction_token=row.interaction_token,
            application_id=row.application_id,
            restarted=restarted,
        )


def _fairness_order() -> list[Any]:
    """Least recently served guild, then user within it, then oldest job."""
    guild_jobs = jobs.alias("guild_jobs")
    user_jobs = jobs.alias("user_jobs")
    guild_last = (
        select(func.coalesce(func.max(guild_jobs.c.started_seq), 0))
        .where(guild_jobs.c.guild_id == jobs.c.guild_id)
        .scalar_subquery()
    )
    user_last = (
        select(func.coalesce(func.max(user_jobs.c.started_seq), 0))
        .where(user_jobs.c.guild_id == jobs.c.guild_id, user_jobs.c.user_id == jobs.c.user_id)
        .scalar_subquery()
    )
    return [guild_last, user_last, jobs.c.created_at, jobs.c.id]


class JobStore:
    def __init__(
        self,
        database: Database,
        *,
        owner: str,
        lease_seconds: float,
        predecessors: str | None = None,
    ) -> None:
        """`predecessors`: the owner prefix of this bot's earlier runs (its lasting instance
        id, see bot.instance), whose jobs are known dead and recovered without waiting."""
        self._db = database
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._predecessors = predecessors

    async def enqueue(
        self,
        *,
        job_id: str,
        guild_id: int,
        user_id: int,
        channel_id: int,
        prompt: str,
        length_s: int,
        instrumental: bool,
        request: str,
        output_format: str,
        reservation_id: str | None,
        message_id: int | None = None,
        interaction_token: str | None = None,
        application_id: int | None = None,
    ) -> None:
        now = time.time()
        row = {
            "id": job_id,
            "guild_id": guild_id,
            "user_id": user_id,
            "channel_id": channel_id,
            "prompt": prompt,
            "length_s": length_s,
            "instrumental": instrumental,
            "request": request,
            "output_format": output_format,
            "state": "queued",
            "owner": self.owner,
            "lease_expires_at": now + self.lease_seconds,
            "reservation_id": reservation_id,
            "created_at": now,
            "message_id": message_id,
            "interaction_token": interaction_token,
            "application_id": application_id,
        }
        await self._db.write(lambda connection: connection.execute(_INSERT_JOB, row))

    async def claim_next(self, concurrency: int, *, most: int = 1) -> list[JobRecord]:
        """Start up to `most` of this process's queued jobs, fairest first, while the API has
        free slots anywhere. One transaction: each start counts in the next one's fairness."""
        now = time.time()

        def claim(connection: Connection) -> list[JobRecord]:
            _claim_lock(connection)
            free = concurrency - connection.execute(_BUSY, {"now": now}).scalar_one()
            claimed: list[JobRecord] = []
            while len(claimed) < min(free, most):
                row = connection.execute(_FAIREST, {"owner": self.owner}).first()
                if row is None:
                    break
                next_seq = connection.execute(_LAST_SEQ).scalar_one() + 1
                connection.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id)
                    .values(
                        state="running",
                        started_seq=next_seq,
                        started_at=now,
                        lease_expires_at=now + self.lease_seconds,
                    )
                )
                claimed.append(replace(JobRecord.from_row(row), state="running"))
            return claimed

        return await self._db.write(claim)

    async def positions(self) -> dict[str, int]:
        """Every queued job's place in line (1 = next), across all processes."""
        ids = await self._db.read(lambda connection: connection.execute(_QUEUED).scalars().all())
        return {job_id: index for index, job_id in enumerate(ids, start=1)}

    async def mark_composed(self, job_id: str) -> None:
        await self._db.write(
            lambda connection: connection.execute(
                update(jobs).where(jobs.c.id == job_id).values(composed_at=time.time())
            )
        )

    async def renew(self) -> int:
        """Extend the leases of this process's live jobs; returns how many."""
        return await self._db.write(
            lambda connection: int(
                connection.execute(
                    update(jobs)
                    .where(jobs.c.owner == self.owner, jobs.c.state.in_(UNSETTLED))
                    .values(lease_expires_at=time.time() + self.lease_seconds)
                ).rowcount
            )
        )

    async def finish(self, job_id: str, *, delivered: bool, error: str | None = None) -> None:
        """Settle the job and its reservation together: commit if delivered, else refund."""
        await self._settle_job(
            job_id, ACTIVE, "done" if delivered else "failed", delivered=delivered, error=error
        )

    async def take_stale(self) -> list[JobRecord]:
        """Take over the jobs of processes that stopped: whose lease ran out, or that were this
        bot's own earlier run. They become `recovering`, held by this process, until
        `settle_stale` says whether their track was delivered. Each says whether it was this
        bot's earlier run (`restarted`) or another process."""
        now = time.time()
        dead = jobs.c.lease_expires_at < now
        if self._predecessors is not None:
            dead = or_(dead, self._mine_before())

        def take(connection: Connection) -> list[JobRecord]:
            _claim_lock(connection)
            stale = jobs.c.state.in_(UNSETTLED) & dead
            rows = connection.execute(select(jobs).where(stale).with_for_update()).all()
            if rows:
                connection.execute(
                    update(jobs)
                    .where(jobs.c.id.in_([row.id for row in rows]))
                    .values(
                        state="recovering",
                        owner=self.owner,
                        lease_expires_at=now + self.lease_seconds,
                    )
                )
            self._refund_orphans(connection, now)
            return [
                replace(
                    JobRecord.from_row(row, restarted=self._is_predecessor(row.owner)),
                    state="recovering",
                    owner=self.owner,
                )
                for row in rows
            ]

        return await self._db.write(take)

    def _mine_before(self) -> Any:
        assert self._predecessors is not None
        return and_(
            jobs.c.owner.startswith(self._predecessors, autoescape=True),
            jobs.c.owner != self.owner,
        )

    def _is_predecessor(self, owner: str) -> bool:
        return (
            self._predecessors is not None
            and owner.startswith(self._predecessors)
            and owner != self.owner
        )

    async def settle_stale(self, job_id: str, *, delivered: bool) -> None:
        """A taken-over job: done and charged if its track was delivered, else interrupted and
        refunded."""
        await self._settle_job(
            job_id,
            ("recovering",),
            "done" if delivered else "interrupted",
            delivered=delivered,
            error=None if delivered else "the bot stopped before the track was delivered",
        )

    async def _settle_job(
        self,
        job_id: str,
        states: tuple[str, ...],
        state: str,
        *,
        delivered: bool,
        error: str | None,
    ) -> None:
        """Move the job from one of `states` to `state`, and settle its reservation in the same
        transaction: committed if the track was delivered, refunded otherwise."""
        now = time.time()

        def settle(connection: Connection) -> None:
            row = connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state.in_(states))
                .values(state=state, finished_at=now, error=error)
                .returning(jobs.c.reservation_id)
            ).first()
            if row is not None and row.reservation_id is not None:
                _settle(
                    connection, [row.reservation_id], "committed" if delivered else "refunded", now
                )

        await self._db.write(settle)

    def _refund_orphans(self, connection: Connection, now: float) -> None:
        """Reservations whose process died before it queued the job (a moment's window)."""
        live = select(jobs.c.reservation_id).where(
            jobs.c.state.in_(UNSETTLED), jobs.c.reservation_id.is_not(None)
        )
        connection.execute(
            update(quota_usage)
            .where(
                quota_usage.c.state == "reserved",
                quota_usage.c.updated_at < now - 2 * self.lease_seconds,
                quota_usage.c.id.not_in(live),
            )
            .values(state="refunded", updated_at=now)
        )

    async def prune(self, before: float) -> int:
        """Forget settled jobs and settled quota rows older than `before` (UNIX time)."""

        def prune(connection: Connection) -> int:
            result = connection.execute(
                delete(jobs).where(jobs.c.state.not_in(UNSETTLED), jobs.c.created_at < before)
            )
            connection.execute(
                delete(quota_usage).where(
                    quota_usage.c.state != "reserved", quota_usage.c.created_at < before
                )
            )
            return int(result.rowcount)

        return await self._db.write(prune)

    async def claim_retry(self, job_id: str) -> bool:
        """Mark an ended job as retried; False when it already was (a double click)."""
        return await mark_once(self._db, jobs, job_id, "retried_at")

    async def release_retry(self, job_id: str) -> None:
        await unmark(self._db, jobs, job_id, "retried_at")

    async def get(self, job_id: str) -> JobRecord | None:
        def find(connection: Connection) -> JobRecord | None:
            row = connection.execute(select(jobs).where(jobs.c.id == job_id)).first()
            return JobRecord.from_row(row) if row is not None else None

        return await self._db.read(find)

    async def counts(self) -> dict[str, int]:
        rows = await self._db.read(
            lambda connection: connection.execute(
                select(jobs.c.state, func.count()).group_by(jobs.c.state)
            ).all()
        )
        return {state: int(count) for state, count in rows}


def _claim_lock(connection: Connection) -> None:
    # SQLite's BEGIN IMMEDIATE already serialises writers (see database.py).
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_CLAIM_LOCK)))


def _settle(connection: Connection, reservation_ids: list[str], state: str, now: float) -> None:
    connection.execute(
        update(quota_usage)
        .where(and_(quota_usage.c.id.in_(reservation_ids), quota_usage.c.state == "reserved"))
        .values(state=state, updated_at=now)
    )


# Built once: every compose runs these.
_INSERT_JOB = jobs.insert()
_BUSY = select(func.count()).where(
    jobs.c.state == "running",
    jobs.c.composed_at.is_(None),
    jobs.c.lease_expires_at > bindparam("now"),
)
_FAIREST = (
    select(jobs)
    .where(jobs.c.state == "queued", jobs.c.owner == bindparam("owner"))
    .order_by(*_fairness_order())
    .limit(1)
)
_LAST_SEQ = select(func.coalesce(func.max(jobs.c.started_seq), 0))
_QUEUED = select(jobs.c.id).where(jobs.c.state == "queued").order_by(*_fairness_order())
