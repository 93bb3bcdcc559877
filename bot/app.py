"""MusicBot: intents, the command tree, the cogs and the persistent buttons, over services it
receives ready-made (see `bot.services`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands, tasks

from bot import metrics
from bot.cogs.compose import ComposeCog
from bot.cogs.guilds import GuildsCog
from bot.cogs.jam import JamCog
from bot.cogs.plans import PlansCog
from bot.cogs.quota import QuotaCog
from bot.cogs.tracks import PROGRESS_INTERVAL, TracksCog
from bot.core.allow_list import AllowList
from bot.health import HealthServer
from bot.services import Services
from bot.tree import MusicTree, sync_if_changed
from bot.ui.buttons import PERSISTENT_ITEMS
from bot.voice import voice_problem

log = logging.getLogger(__name__)


class MusicBot(commands.Bot):
    """Owns its services from construction on: opens them at login, closes them on close."""

    def __init__(
        self,
        services: Services,
        *,
        metrics_address: tuple[str, int] | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
        now_playing_interval: float | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # the guild cache gives channels and upload limits
        intents.voice_states = True  # who listens to a jam
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=MusicTree,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.services = services
        self.metrics_address = metrics_address
        self._progress_interval = progress_interval
        self._now_playing_interval = now_playing_interval
        self.health = HealthServer(
            connected=lambda: self.is_ready() and not self.is_closed(),
            database_ok=services.database.ping,
            job_counts=services.jobs.counts,
            refresh=lambda: metrics.refresh_budget(services.quotas),
        )

    async def setup_hook(self) -> None:
        services = self.services
        await services.open()
        services.jams.unavailable = await asyncio.to_thread(voice_problem)
        if services.jams.unavailable is not None:
            log.warning("voice jams are off: %s", services.jams.unavailable)
        tracks = TracksCog(self, services, progress_interval=self._progress_interval)
        plans = PlansCog(self, services, tracks)
        await self.add_cog(tracks)
        await self.add_cog(plans)
        await self.add_cog(ComposeCog(services.plans, tracks, plans))
        await self.add_cog(JamCog(self, services, now_playing_interval=self._now_playing_interval))
        await self.add_cog(QuotaCog(services.quotas, services.audit))
        allowed = AllowList(services.settings.allowed_guilds)
        assert isinstance(self.tree, MusicTree)
        self.tree.allowed = allowed
        await self.add_cog(GuildsCog(self, allowed))
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        await sync_if_changed(self.tree, services.commands)
        # After the cogs: settling a stopped process's jobs asks the Tracks cog.
        await services.start()
        self.housekeeping.start()
        if self.metrics_address is not None:
            await self.health.start(*self.metrics_address)

    @tasks.loop(hours=1)
    async def housekeeping(self) -> None:
        try:
            pruned = await self.services.prune()
        except Exception:
            log.exception("housekeeping failed; trying again in an hour")
        else:
            if any(pruned.values()):
                log.info("pruned old rows: %s", pruned)

    async def on_ready(self) -> None:
        log.info("logged in as %s in %d server(s)", self.user, len(self.guilds))

    async def drain(self, grace: float) -> None:
        """Stop taking composes; give the running ones `grace` seconds to deliver."""
        await self.services.drain(grace)

    async def close(self) -> None:
        self.housekeeping.cancel()
        await self.services.jams.close()
        await self.health.stop()
        await self.services.composer.stop()
        await super().close()
        await self.services.close()
