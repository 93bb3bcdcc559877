"""The moderators' audit trail: every change to quotas and blocks, and who made it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from .database import Database
from .schema import audit_log, guild_settings
from .sql import upsert


@dataclass(frozen=True, slots=True)
class AuditEntry:
    guild_id: int
    actor_id: int
    action: str
    target: str
    details: dict[str, Any]
    created_at: float


def record_action(
    connection: Connection,
    guild_id: int,
    actor_id: int,
    action: str,
    target: str,
    details: dict[str, Any],
) -> None:
    """Write an entry in the caller's transaction, so the change and its record land together."""
    connection.execute(
        audit_log.insert().values(
            guild_id=guild_id,
            actor_id=actor_id,
            action=action,
            target=target,
            details=json.dumps(details, sort_keys=True),
            created_at=time.time(),
        )
    )


class AuditLog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def recent(self, guild_id: int, limit: int = 20) -> list[AuditEntry]:
        def find(connection: Connection) -> list[AuditEntry]:
            rows = connection.execute(
                select(audit_log)
                .where(audit_log.c.guild_id == guild_id)
                .order_by(audit_log.c.id.desc())
                .limit(limit)
            ).all()
            return [
                AuditEntry(
                    r.guild_id, r.actor_id, r.action, r.target, json.loads(r.details), r.created_at
                )
                for r in rows
            ]

        return await self._db.read(find)

    async def set_log_channel(
        self, guild_id: int, channel_id: int | None, *, actor_id: int
    ) -> None:
        def change(connection: Connection) -> None:
            connection.execute(
                upsert(
                    connection.dialect.name,
                    guild_settings,
                    {"guild_id": guild_id, "log_channel_id": channel_id},
                    keys=("guild_id",),
                    update={"log_channel_id": channel_id},
                )
            )
            record_action(
                connection, guild_id, actor_id, "log.channel", f"channel:{channel_id}", {}
            )

        await self._db.write(change)

    async def log_channel(self, guild_id: int) -> int | None:
        value = await self._db.read(
            lambda connection: connection.execute(
                select(guild_settings.c.log_channel_id).where(guild_settings.c.guild_id == guild_id)
            ).scalar()
        )
        return int(value) if value is not None else None
