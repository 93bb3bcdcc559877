"""What processes sharing one bot token agree on through the database: which process answers
an interaction (exactly one), and when a shard may identify (Discord allows one identify per
bucket at a time, five seconds apart)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, select, update

from .database import Database
from .schema import identify_slots, interaction_claims
from .sql import insert_ignore


class InteractionClaims:
    """Interaction ids, each claimed once across every process before anything is done."""

    def __init__(self, database: Database, *, owner: str) -> None:
        self._db = database
        self.owner = owner[:64]

    async def claim(self, interaction_id: int) -> bool:
        """True for the first process to claim `interaction_id`; False for everyone after."""
        row = {"id": interaction_id, "owner": self.owner, "claimed_at": time.time()}
        statement = insert_ignore(self._db.dialect, interaction_claims, row)
        return await self._db.write(lambda connection: connection.execute(statement).rowcount == 1)

    async def prune(self, before: float) -> int:
        """Forget claims older than `before` (Discord never redelivers an old interaction)."""
        return await self._db.write(
            lambda connection: int(
                connection.execute(
                    delete(interaction_claims).where(interaction_claims.c.claimed_at < before)
                ).rowcount
            )
        )


class IdentifySlots:
    """One identify per bucket per `interval`, whichever process asks."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim(self, *, bucket: int, interval: float, now: float | None = None) -> float:
        """Take the bucket's slot: 0 when this caller may identify now, else how many seconds
        until the bucket's next slot (ask again then)."""
        at = time.time() if now is None else now

        def take(connection: Connection) -> float:
            connection.execute(
                insert_ignore(
                    self._db.dialect, identify_slots, {"bucket": bucket, "last_at": at - interval}
                )
            )
            last = connection.execute(
                select(identify_slots.c.last_at)
                .where(identify_slots.c.bucket == bucket)
                .with_for_update()
            ).scalar_one()
            wait = float(last) + interval - at
            if wait > 0:
                return wait
            connection.execute(
                update(identify_slots).where(identify_slots.c.bucket == bucket).values(last_at=at)
            )
            return 0.0

        return await self._db.write(take)
