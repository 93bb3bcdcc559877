"""What the bot last registered with Discord: a digest of its command definitions per scope."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select

from .database import Database
from .schema import app_commands
from .sql import upsert


class CommandRegistry:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def digest(self, scope: str = "global") -> str | None:
        def find(connection: Connection) -> str | None:
            query = select(app_commands.c.digest).where(app_commands.c.scope == scope)
            return connection.execute(query).scalar()

        return await self._db.read(find)

    async def registered(self, digest: str, scope: str = "global") -> None:
        def keep(connection: Connection) -> None:
            # An upsert: processes starting together may both register the same commands.
            now = time.time()
            connection.execute(
                upsert(
                    connection.dialect.name,
                    app_commands,
                    {"scope": scope, "digest": digest, "synced_at": now},
                    keys=["scope"],
                    update={"digest": digest, "synced_at": now},
                )
            )

        await self._db.write(keep)
