"""Who asks: the plain facts a decision needs about the member behind an interaction."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Requester:
    """A member in a server channel, as the core sees them."""

    guild_id: int
    channel_id: int
    user_id: int
    role_ids: tuple[int, ...] = field(default=())
    # Manage Server: moderators act for anyone in their server.
    moderator: bool = False

    def may_act_for(self, owner_id: int) -> bool:
        """The one owner-or-moderator rule: a track's, plan's or jam's owner, or a moderator."""
        return self.user_id == owner_id or self.moderator
