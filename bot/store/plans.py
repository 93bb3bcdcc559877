"""Composition plans members look at, edit and compose, kept so their buttons outlive restarts.

Plans are stored as the API's JSON, beside a one-line summary and their length so lists of
plans need not parse them; reading a plan back into a model is the caller's job.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bot.music.plans import Plan, duration_seconds, summary

from .audit import record_action
from .database import Database
from .schema import jobs, plans, tracks
from .sql import mark_once, unmark


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    guild_id: int
    channel_id: int
    user_id: int
    origin: str
    prompt: str | None
    plan_json: str
    message_id: int | None
    updated_at: float
    summary: str
    length_s: int

    @classmethod
    def from_row(cls, row: Any) -> PlanRecord:
        return cls(
            id=row.id,
            guild_id=row.guild_id,
            channel_id=row.channel_id,
            user_id=row.user_id,
            origin=row.origin,
            prompt=row.prompt,
            plan_json=row.plan,
            message_id=row.message_id,
            updated_at=row.updated_at,
            summary=row.summary,
            length_s=row.length_s,
        )


@dataclass(frozen=True, slots=True)
class PlanListing:
    """A plan as a list shows it, without the plan itself."""

    id: str
    origin: str
    prompt: str | None
    summary: str
    length_s: int


# Buttons under a track that make one new track each, once: a double click composes once.
ONCE_ACTIONS = {
    "regenerate": "regenerated_at",
    "extend": "extended_at",
    "stems:2": "stems2_at",
    "stems:6": "stems6_at",
}


@dataclass(frozen=True, slots=True)
class TrackRecord:
    id: str
    guild_id: int
    channel_id: int
    user_id: int
    request_json: str
    plan_json: str | None
    song_id: str | None
    title: str | None
    length_s: int
    # The buttons already pressed that make a new track once each ("regenerate", "extend").
    spent: frozenset[str] = frozenset()
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> TrackRecord:
        return cls(
            id=row.id,
            guild_id=row.guild_id,
            channel_id=row.channel_id,
            user_id=row.user_id,
            request_json=row.request,
            plan_json=row.plan,
            song_id=row.song_id,
            title=row.title,
            length_s=row.length_s,
            spent=frozenset(a for a, c in ONCE_ACTIONS.items() if row._mapping[c] is not None),
            created_at=row.created_at,
        )


class PlanStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        origin: str,
        plan: Plan,
        prompt: str | None = None,
    ) -> str:
        plan_id = uuid.uuid4().hex
        now = time.time()

        def insert(connection: Connection) -> None:
            connection.execute(
                plans.insert().values(
                    id=plan_id,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    origin=origin,
                    prompt=prompt,
                    created_at=now,
                    **_plan_columns(plan),
                    updated_at=now,
                )
            )

        await self._db.write(insert)
        return plan_id

    async def get(self, plan_id: str) -> PlanRecord | None:
        def find(connection: Connection) -> PlanRecord | None:
            row = connection.execute(select(plans).where(plans.c.id == plan_id)).first()
            return PlanRecord.from_row(row) if row is not None else None

        return await self._db.read(find)

    async def update(self, plan_id: str, plan: Plan) -> None:
        columns = _plan_columns(plan)
        await self._db.write(
            lambda connection: connection.execute(
                update(plans).where(plans.c.id == plan_id).values(updated_at=time.time(), **columns)
            )
        )

    async def set_message(self, plan_id: str, message_id: int) -> None:
        await self._db.write(
            lambda connection: connection.execute(
                update(plans).where(plans.c.id == plan_id).values(message_id=message_id)
            )
        )

    async def recent(self, guild_id: int, user_id: int, *, limit: int = 25) -> list[PlanListing]:
        """The member's plans in this server, most recently changed first."""

        def find(connection: Connection) -> list[PlanListing]:
            rows = connection.execute(
                select(
                    plans.c.id, plans.c.origin, plans.c.prompt, plans.c.summary, plans.c.length_s
                )
                .where(plans.c.guild_id == guild_id, plans.c.user_id == user_id)
                .order_by(plans.c.updated_at.desc())
                .limit(limit)
            ).all()
            return [
                PlanListing(row.id, row.origin, row.prompt, row.summary, row.length_s)
                for row in rows
            ]

        return await self._db.read(find)

    async def prune(self, before: float) -> int:
        return await self._db.write(
            lambda connection: int(
                connection.execute(delete(plans).where(plans.c.updated_at < before)).rowcount
            )
        )


def _plan_columns(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan.model_dump_json(),
        "summary": summary(plan, 60),
        "length_s": duration_seconds(plan),
    }


class TrackStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self,
        *,
        track_id: str,
        guild_id: int,
        channel_id: int,
        user_id: int,
        request_json: str,
        plan_json: str | None,
        song_id: str | None,
        title: str | None,
        length_s: int,
    ) -> None:
        def insert(connection: Connection) -> None:
            connection.execute(
                tracks.insert().values(
                    id=track_id,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    request=request_json,
                    plan=plan_json,
                    song_id=song_id,
                    title=title,
                    length_s=length_s,
                    created_at=time.time(),
                )
            )

        await self._db.write(insert)

    async def get(self, track_id: str) -> TrackRecord | None:
        def find(connection: Connection) -> TrackRecord | None:
            row = connection.execute(select(tracks).where(tracks.c.id == track_id)).first()
            return TrackRecord.from_row(row) if row is not None else None

        return await self._db.read(find)

    async def claim(self, track_id: str, action: str) -> bool:
        """Mark `action` ("regenerate", "extend") used; False when it already was."""
        return await mark_once(self._db, tracks, track_id, ONCE_ACTIONS[action])

    async def release(self, track_id: str, action: str) -> None:
        """Make `action` usable again (the track it started was not delivered)."""
        await unmark(self._db, tracks, track_id, ONCE_ACTIONS[action])

    async def forget(self, track_id: str) -> None:
        await self._db.write(
            lambda connection: connection.execute(delete(tracks).where(tracks.c.id == track_id))
        )

    async def recent(
        self, guild_id: int, user_id: int | None, *, limit: int = 25
    ) -> list[TrackRecord]:
        """The newest tracks in a server, a member's own (or everyone's with no user_id)."""

        def find(connection: Connection) -> list[TrackRecord]:
            query = select(tracks).where(tracks.c.guild_id == guild_id)
            if user_id is not None:
                query = query.where(tracks.c.user_id == user_id)
            rows = connection.execute(query.order_by(tracks.c.created_at.desc()).limit(limit))
            return [TrackRecord.from_row(row) for row in rows]

        return await self._db.read(find)

    async def delete(self, track: TrackRecord, *, actor_id: int) -> int | None:
        """Forget a delivered track at a member's request: its row and its job's (prompt,
        request), in one transaction; a deletion by someone else (a moderator) is audited.
        Returns the id of the message the track was delivered into, if known."""

        def remove(connection: Connection) -> int | None:
            message_id = connection.execute(
                select(jobs.c.message_id).where(jobs.c.id == track.id)
            ).scalar()
            connection.execute(delete(tracks).where(tracks.c.id == track.id))
            connection.execute(
                delete(jobs).where(
                    jobs.c.id == track.id, jobs.c.state.in_(("done", "failed", "interrupted"))
                )
            )
            if actor_id != track.user_id:
                record_action(
                    connection,
                    track.guild_id,
                    actor_id,
                    "track_deleted",
                    f"user:{track.user_id}",
                    {"track": track.id, "title": track.title},
                )
            return int(message_id) if message_id is not None else None

        return await self._db.write(remove)

    async def prune(self, before: float) -> int:
        return await self._db.write(
            lambda connection: int(
                connection.execute(delete(tracks).where(tracks.c.created_at < before)).rowcount
            )
        )
