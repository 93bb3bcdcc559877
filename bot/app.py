"""MusicBot: intents, the command tree, the cogs and the persistent buttons, over services it
receives ready-made (see `bot.services`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord.ext import commands, tasks

from bot import metrics
from bot.cogs.compose import ComposeCog
from bot.cogs.guilds import GuildsCog
from bot.cogs.jam import JamCog
from bot.cogs.plans import PlansCog
from bot.cogs.quota import QuotaCog
from bot.cogs.stems import StemsCog
from bot.cogs.takeover import TakeoverCog
from bot.cogs.tracks import PROGRESS_INTERVAL, TracksCog
from bot.core.allow_list import AllowList
from bot.health import HealthServer
from bot.services import Services
from bot.tree import MusicTree, sync_if_changed
from bot.ui.buttons import PERSISTENT_ITEMS
from bot.voice import voice_problem

log = logging.getLogger(__name__)


class MusicBot(commands.AutoShardedBot):
    """Owns its services from construction on: opens them at login, closes them on close.

    Runs the shards it is given (`shard_ids`, `shard_count`), or every shard Discord
    recommends. Several processes share the token: each interaction is claimed once across
    them before it is dispatched, and identifies are paced through the database."""

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
        self._max_concurrency: int | None = None
        self._closing = asyncio.Event()
        # Shards whose identify slot was taken before connecting (see launch_shard).
        self._turn_taken: set[int] = set()
        self._admitting: set[asyncio.Task[None]] = set()
        # Every interaction (command, autocomplete, button, select, form) passes the claim
        # before discord.py dispatches it: the one point before any side effect.
        parsers = self._connection.parsers
        dispatch = parsers["INTERACTION_CREATE"]
        parsers["INTERACTION_CREATE"] = lambda data: self._admit(dispatch, data)
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
        await self.add_cog(StemsCog(self, services, progress_interval=self._progress_interval))
        await self.add_cog(TakeoverCog(self, services))
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

    def _admit(self, dispatch: Callable[[Any], None], data: Any) -> None:
        task = asyncio.create_task(self._dispatch_claimed(dispatch, data))
        self._admitting.add(task)
        task.add_done_callback(self._admitting.discard)

    async def _dispatch_claimed(self, dispatch: Callable[[Any], None], data: Any) -> None:
        try:
            if await self.services.interactions.admit(int(data["id"])):
                dispatch(data)
        except Exception:
            log.exception("could not dispatch an interaction")

    async def launch_shard(
        self, gateway: yarl.URL, shard_id: int, *, initial: bool = False
    ) -> None:
        """Take the shard's identify slot first, so a close while waiting for it stops here
        (discord.py keeps launching shards after a close, and retries failures forever)."""
        if self.is_closed() or not await self._identify_turn(shard_id):
            return
        self._turn_taken.add(shard_id)
        await super().launch_shard(gateway, shard_id, initial=initial)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Identify when this shard's bucket is free in every process sharing the token."""
        shard = shard_id or 0
        if shard in self._turn_taken:
            self._turn_taken.discard(shard)
        else:  # identifying again after a lost session
            await self._identify_turn(shard)

    async def _identify_turn(self, shard_id: int) -> bool:
        if self._max_concurrency is None:
            try:
                _, _, limits = await self.http.get_bot_gateway()
                self._max_concurrency = max(1, int(limits.get("max_concurrency", 1)))
            except discord.DiscordException as exc:
                log.warning("GET /gateway/bot failed (%s): identifying one at a time", exc)
                self._max_concurrency = 1
        return await self.services.identify.wait_turn(
            shard_id, self._max_concurrency, stop=self._closing
        )

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
        log.info(
            "logged in as %s in %d server(s), shard(s) %s of %s",
            self.user,
            len(self.guilds),
            ",".join(str(i) for i in self.shards),
            self.shard_count,
        )

    async def drain(self, grace: float) -> None:
        """Stop taking composes; give the running ones `grace` seconds to deliver."""
        await self.services.drain(grace)

    async def close(self) -> None:
        self._closing.set()
        self.housekeeping.cancel()
        await self.services.jams.close()
        await self.health.stop()
        await self.services.composer.stop()
        await super().close()
        await self.services.close()
