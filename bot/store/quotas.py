"""QuotaLedger: who may compose how much, charged only for tracks that were delivered.

`reserve` before any API call, `commit` on delivery, `refund` on any failure. A reservation is
decided while the member's account row is locked, so concurrent composes by one member (from
any number of processes) can never exceed the quota.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .audit import record_action
from .schema import quota_accounts, quota_policies, quota_usage
from .sql import insert_ignore, upsert

Scope = Literal["guild", "role", "user"]
COUNTED = ("reserved", "committed")


@dataclass(frozen=True, slots=True)
class QuotaDefaults:
    tracks: int = 5
    seconds: int = 600
    window_hours: int = 24


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    tracks: int | None  # None: unlimited
    seconds: int | None
    window_hours: int
    source: str

    @property
    def exempt(self) -> bool:
        return self.tracks is None and self.seconds is None


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limits: QuotaLimits
    tracks_used: int
    seconds_used: int
    # When the oldest counted track leaves the window (None: nothing counted).
    next_release_at: float | None
    blocked_reason: str | None = None
    blocked: bool = False

    @property
    def tracks_left(self) -> int | None:
        return None if self.limits.tracks is None else max(0, self.limits.tracks - self.tracks_used)

    @property
    def seconds_left(self) -> int | None:
        if self.limits.seconds is None:
            return None
        return max(0, self.limits.seconds - self.seconds_used)


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    guild_id: int
    user_id: int
    seconds: int
    # What the member has left once this track is delivered (None: unlimited).
    tracks_left: int | None = None
    window_hours: int = 24


class QuotaRefused(Exception):
    """Not reserved. `reason`: blocked, tracks, seconds or too_long (over the whole allowance)."""

    def __init__(self, reason: str, status: QuotaStatus, available_at: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.available_at = available_at


@dataclass(frozen=True, slots=True)
class _Use:
    created_at: float
    seconds: int


class QuotaLedger:
    def __init__(self, engine: AsyncEngine, defaults: QuotaDefaults | None = None) -> None:
        self._engine = engine
        self.defaults = defaults or QuotaDefaults()

    # -- members ------------------------------------------------------------------------------

    async def reserve(
        self,
        guild_id: int,
        user_id: int,
        role_ids: Iterable[int],
        seconds: int,
        *,
        job_id: str | None = None,
        now: float | None = None,
    ) -> Reservation:
        now = time.time() if now is None else now
        roles = list(role_ids)
        async with self._engine.begin() as connection:
            account = await self._lock_account(connection, guild_id, user_id)
            limits = await self._limits(connection, guild_id, user_id, roles)
            uses = await self._uses(connection, guild_id, user_id, limits, now)
            status = _status(limits, uses, account)
            if status.blocked:
                raise QuotaRefused("blocked", status)
            if limits.tracks is not None and status.tracks_used + 1 > limits.tracks:
                raise QuotaRefused("tracks", status, _available_at(uses, limits, tracks=1))
            if limits.seconds is not None and status.seconds_used + seconds > limits.seconds:
                if seconds > limits.seconds:
                    raise QuotaRefused("too_long", status)
                raise QuotaRefused("seconds", status, _available_at(uses, limits, seconds=seconds))
            reservation = Reservation(
                uuid.uuid4().hex,
                guild_id,
                user_id,
                seconds,
                tracks_left=(
                    None if limits.tracks is None else limits.tracks - status.tracks_used - 1
                ),
                window_hours=limits.window_hours,
            )
            await connection.execute(
                quota_usage.insert().values(
                    id=reservation.id,
                    guild_id=guild_id,
                    user_id=user_id,
                    seconds=seconds,
                    state="reserved",
                    job_id=job_id,
                    created_at=now,
                    updated_at=now,
                )
            )
        return reservation

    async def commit(self, reservation_id: str) -> bool:
        return await self._settle(reservation_id, "committed")

    async def refund(self, reservation_id: str) -> bool:
        return await self._settle(reservation_id, "refunded")

    async def _settle(self, reservation_id: str, state: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(quota_usage)
                .where(quota_usage.c.id == reservation_id, quota_usage.c.state == "reserved")
                .values(state=state, updated_at=time.time())
            )
        return result.rowcount == 1

    async def status(
        self, guild_id: int, user_id: int, role_ids: Iterable[int], *, now: float | None = None
    ) -> QuotaStatus:
        now = time.time() if now is None else now
        async with self._engine.connect() as connection:
            account = (
                await connection.execute(
                    select(quota_accounts).where(
                        quota_accounts.c.guild_id == guild_id, quota_accounts.c.user_id == user_id
                    )
                )
            ).first()
            limits = await self._limits(connection, guild_id, user_id, list(role_ids))
            uses = await self._uses(connection, guild_id, user_id, limits, now)
        return _status(limits, uses, account)

    # -- moderators ---------------------------------------------------------------------------

    async def set_policy(
        self,
        guild_id: int,
        scope: Scope,
        target_id: int,
        *,
        actor_id: int,
        tracks: int | None = None,
        seconds: int | None = None,
        window_hours: int | None = None,
        exempt: bool | None = None,
    ) -> None:
        changes: dict[str, Any] = {
            k: v
            for k, v in {
                "tracks": tracks,
                "seconds": seconds,
                "window_hours": window_hours,
                "exempt": exempt,
            }.items()
            if v is not None
        }
        async with self._engine.begin() as connection:
            await connection.execute(
                upsert(
                    connection.dialect.name,
                    quota_policies,
                    {
                        "guild_id": guild_id,
                        "scope": scope,
                        "target_id": target_id,
                        "exempt": False,
                        "updated_at": time.time(),
                        **changes,
                    },
                    keys=("guild_id", "scope", "target_id"),
                    update={**changes, "updated_at": time.time()},
                )
            )
            await record_action(
                connection, guild_id, actor_id, "quota.set", f"{scope}:{target_id}", changes
            )

    async def clear_policy(
        self, guild_id: int, scope: Scope, target_id: int, *, actor_id: int
    ) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(quota_policies).where(
                    quota_policies.c.guild_id == guild_id,
                    quota_policies.c.scope == scope,
                    quota_policies.c.target_id == target_id,
                )
            )
            await record_action(
                connection, guild_id, actor_id, "quota.clear", f"{scope}:{target_id}", {}
            )
        return result.rowcount == 1

    async def reset(self, guild_id: int, user_id: int, *, actor_id: int) -> int:
        """Forget a member's delivered tracks; returns how many were wiped."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(quota_usage)
                .where(
                    quota_usage.c.guild_id == guild_id,
                    quota_usage.c.user_id == user_id,
                    quota_usage.c.state == "committed",
                )
                .values(state="reset", updated_at=time.time())
            )
            await record_action(
                connection,
                guild_id,
                actor_id,
                "quota.reset",
                f"user:{user_id}",
                {"tracks": result.rowcount},
            )
        return int(result.rowcount)

    async def block(self, guild_id: int, user_id: int, *, actor_id: int, reason: str) -> None:
        async with self._engine.begin() as connection:
            await self._lock_account(connection, guild_id, user_id)
            await connection.execute(
                update(quota_accounts)
                .where(quota_accounts.c.guild_id == guild_id, quota_accounts.c.user_id == user_id)
                .values(blocked_reason=reason, blocked_by=actor_id, blocked_at=time.time())
            )
            await record_action(
                connection,
                guild_id,
                actor_id,
                "quota.block",
                f"user:{user_id}",
                {"reason": reason},
            )

    async def unblock(self, guild_id: int, user_id: int, *, actor_id: int) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(quota_accounts)
                .where(
                    quota_accounts.c.guild_id == guild_id,
                    quota_accounts.c.user_id == user_id,
                    quota_accounts.c.blocked_at.is_not(None),
                )
                .values(blocked_reason=None, blocked_by=None, blocked_at=None)
            )
            await record_action(
                connection, guild_id, actor_id, "quota.unblock", f"user:{user_id}", {}
            )
        return result.rowcount == 1

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    async def _lock_account(connection: AsyncConnection, guild_id: int, user_id: int) -> Any:
        await connection.execute(
            insert_ignore(
                connection.dialect.name, quota_accounts, {"guild_id": guild_id, "user_id": user_id}
            )
        )
        # FOR UPDATE serialises one member's reservations on PostgreSQL; SQLite's
        # BEGIN IMMEDIATE (see database.py) already serialises every writer.
        return (
            await connection.execute(
                select(quota_accounts)
                .where(quota_accounts.c.guild_id == guild_id, quota_accounts.c.user_id == user_id)
                .with_for_update()
            )
        ).first()

    async def _limits(
        self, connection: AsyncConnection, guild_id: int, user_id: int, role_ids: Sequence[int]
    ) -> QuotaLimits:
        rows = (
            await connection.execute(
                select(quota_policies).where(
                    quota_policies.c.guild_id == guild_id,
                    or_(
                        quota_policies.c.scope == "guild",
                        and_(
                            quota_policies.c.scope == "role",
                            quota_policies.c.target_id.in_(role_ids),
                        ),
                        and_(
                            quota_policies.c.scope == "user", quota_policies.c.target_id == user_id
                        ),
                    ),
                )
            )
        ).all()
        return resolve_limits(self.defaults, rows)

    @staticmethod
    async def _uses(
        connection: AsyncConnection, guild_id: int, user_id: int, limits: QuotaLimits, now: float
    ) -> list[_Use]:
        since = now - limits.window_hours * 3600
        rows = (
            await connection.execute(
                select(quota_usage.c.created_at, quota_usage.c.seconds)
                .where(
                    quota_usage.c.guild_id == guild_id,
                    quota_usage.c.user_id == user_id,
                    quota_usage.c.state.in_(COUNTED),
                    quota_usage.c.created_at > since,
                )
                .order_by(quota_usage.c.created_at)
            )
        ).all()
        return [_Use(row.created_at, row.seconds) for row in rows]


def resolve_limits(defaults: QuotaDefaults, rows: Sequence[Any]) -> QuotaLimits:
    """Member override, else the most generous role, else the server default, else defaults."""
    guild = next((r for r in rows if r.scope == "guild"), None)
    member = next((r for r in rows if r.scope == "user"), None)
    roles = [r for r in rows if r.scope == "role"]
    window = (
        guild.window_hours if guild is not None and guild.window_hours else (defaults.window_hours)
    )
    if (member is not None and member.exempt) or any(r.exempt for r in roles):
        return QuotaLimits(None, None, window, "exempt")

    def pick(dimension: str, fallback: int) -> tuple[int, str]:
        if member is not None and getattr(member, dimension) is not None:
            return int(getattr(member, dimension)), "member"
        role_values = [
            int(getattr(r, dimension)) for r in roles if getattr(r, dimension) is not None
        ]
        if role_values:
            return max(role_values), "role"
        if guild is not None and getattr(guild, dimension) is not None:
            return int(getattr(guild, dimension)), "server"
        return fallback, "default"

    tracks, tracks_from = pick("tracks", defaults.tracks)
    seconds, seconds_from = pick("seconds", defaults.seconds)
    source = tracks_from if tracks_from == seconds_from else f"{tracks_from}/{seconds_from}"
    return QuotaLimits(tracks, seconds, window, source)


def _status(limits: QuotaLimits, uses: list[_Use], account: Any) -> QuotaStatus:
    blocked = account is not None and account.blocked_at is not None
    return QuotaStatus(
        limits=limits,
        tracks_used=len(uses),
        seconds_used=sum(u.seconds for u in uses),
        next_release_at=uses[0].created_at + limits.window_hours * 3600 if uses else None,
        blocked_reason=account.blocked_reason if blocked else None,
        blocked=blocked,
    )


def _available_at(
    uses: list[_Use], limits: QuotaLimits, *, tracks: int = 0, seconds: int = 0
) -> float | None:
    """When enough of the oldest uses have left the window for this request to fit."""
    count, total = len(uses), sum(u.seconds for u in uses)
    for use in uses:
        count, total = count - 1, total - use.seconds
        fits_tracks = limits.tracks is None or count + tracks <= limits.tracks
        fits_seconds = limits.seconds is None or total + seconds <= limits.seconds
        if fits_tracks and fits_seconds:
            return use.created_at + limits.window_hours * 3600
    return None
