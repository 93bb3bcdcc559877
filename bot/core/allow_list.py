"""The servers the owner lets the bot work in."""

from __future__ import annotations

from collections.abc import Iterable


class AllowList:
    """Empty: every server. Otherwise only the listed ones."""

    def __init__(self, guild_ids: Iterable[int] = ()) -> None:
        self._ids = frozenset(guild_ids)

    def allows(self, guild_id: int | None) -> bool:
        # DMs carry no server: the commands are server-only, and refuse them themselves.
        return not self._ids or guild_id is None or guild_id in self._ids
