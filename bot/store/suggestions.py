"""Prompt suggestions behind "Compose with this" buttons, kept so old buttons still work."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from .database import Database
from .schema import suggestions
from .sql import mark_once, unmark


@dataclass(frozen=True, slots=True)
class Suggestion:
    id: str
    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    length_s: int
    instrumental: bool
    used: bool


class SuggestionStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def save(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        prompt: str,
        length_s: int,
        instrumental: bool,
    ) -> str:
        suggestion_id = uuid.uuid4().hex

        def insert(connection: Connection) -> None:
            connection.execute(
                suggestions.insert().values(
                    id=suggestion_id,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    prompt=prompt,
                    length_s=length_s,
                    instrumental=instrumental,
                    created_at=time.time(),
                )
            )

        await self._db.write(insert)
        return suggestion_id

    async def get(self, suggestion_id: str) -> Suggestion | None:
        def find(connection: Connection) -> Suggestion | None:
            row = connection.execute(
                select(suggestions).where(suggestions.c.id == suggestion_id)
            ).first()
            if row is None:
                return None
            return Suggestion(
                id=row.id,
                guild_id=row.guild_id,
                channel_id=row.channel_id,
                user_id=row.user_id,
                prompt=row.prompt,
                length_s=row.length_s,
                instrumental=row.instrumental,
                used=row.used_at is not None,
            )

        return await self._db.read(find)

    async def claim(self, suggestion_id: str) -> bool:
        """Mark it used; False when someone already did (a double click composes once)."""
        return await mark_once(self._db, suggestions, suggestion_id, "used_at")

    async def release(self, suggestion_id: str) -> None:
        """Make it usable again (the compose it started did not deliver)."""
        await unmark(self._db, suggestions, suggestion_id, "used_at")

    async def prune(self, before: float) -> int:
        """Forget suggestions made before `before` (UNIX time); their buttons then say so."""
        return await self._db.write(
            lambda connection: int(
                connection.execute(
                    delete(suggestions).where(suggestions.c.created_at < before)
                ).rowcount
            )
        )
