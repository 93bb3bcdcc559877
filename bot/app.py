"""MusicBot and the two ways to start it: `run` (the bot) and `sync` (register commands)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

import discord
import yarl
from discord.ext import commands, tasks

from bot.config import ConfigError, Settings
from bot.delivery import post_late
from bot.flow import ComposeFlow
from bot.health import HealthServer
from bot.jobs import Composer
from bot.music import MusicClient
from bot.music.models import ModelId
from bot.plan_flow import PlanFlow
from bot.sandbox import DEFAULT_API_KEY
from bot.store import Database, StoreUnavailable, SuggestionStore
from bot.store.audit import AuditLog
from bot.store.jobs import JobRecord, JobStore
from bot.store.plans import PlanStore, TrackStore
from bot.store.quotas import QuotaDefaults, QuotaLedger
from bot.tree import MusicTree
from bot.ui.buttons import PERSISTENT_ITEMS, RetryButton
from bot.ui.text import duration, inert

log = logging.getLogger(__name__)

# Longer than the longest quota window (744 h), so pruning never changes a quota.
RETENTION_SECONDS = 32 * 24 * 3600


class MusicBot(commands.Bot):
    """Receives its services ready-made; owns them from then on and closes them on shutdown."""

    def __init__(
        self,
        *,
        music: MusicClient,
        database: Database,
        music_concurrency: int,
        quota_defaults: QuotaDefaults | None = None,
        job_lease_seconds: float = 60.0,
        model_id: ModelId = "music_v1",
        inpainting: bool = False,
        plans_per_minute: int = 5,
        progress_interval: float = 5.0,
        metrics_address: tuple[str, int] | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # the guild cache gives channels and upload limits
        # The bot never joins voice: no warning about the voice libraries it does not need.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=MusicTree,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.music = music
        self.database = database
        self.jobs = JobStore(database, owner=_process_name(), lease_seconds=job_lease_seconds)
        self.composer = Composer(
            music,
            self.jobs,
            concurrency=music_concurrency,
            on_interrupted=self._tell_interrupted,
        )
        self.suggestions = SuggestionStore(database)
        self.quotas = QuotaLedger(database, quota_defaults)
        self.audit = AuditLog(database)
        self.plans = PlanStore(database)
        self.tracks = TrackStore(database)
        self.compose_flow = ComposeFlow(
            self.composer,
            self.suggestions,
            self.quotas,
            self.jobs,
            self.plans,
            self.tracks,
            model_id=model_id,
            inpainting=inpainting,
            progress_interval=progress_interval,
        )
        self.metrics_address = metrics_address
        self.health = HealthServer(
            connected=lambda: self.is_ready() and not self.is_closed(),
            database_ok=database.ping,
            job_counts=self.jobs.counts,
        )
        self.plan_flow = PlanFlow(
            music, self.plans, self.tracks, self.compose_flow, plans_per_minute=plans_per_minute
        )

    async def setup_hook(self) -> None:
        from bot.cogs.compose import ComposeCog
        from bot.cogs.quota import QuotaCog

        await self.database.open()
        await self.add_cog(ComposeCog(self.compose_flow, self.plan_flow))
        await self.add_cog(QuotaCog(self.quotas, self.audit))
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        await self.composer.start()
        self.housekeeping.start()
        if self.metrics_address is not None:
            await self.health.start(*self.metrics_address)

    @tasks.loop(hours=1)
    async def housekeeping(self) -> None:
        """Forget what no one can use any more (the quota window is at most 31 days)."""
        before = time.time() - RETENTION_SECONDS
        try:
            pruned = {
                "jobs": await self.jobs.prune(before),
                "suggestions": await self.suggestions.prune(before),
                "plans": await self.plans.prune(before),
                "tracks": await self.tracks.prune(before),
            }
        except Exception:
            log.exception("housekeeping failed; trying again in an hour")
        else:
            if any(pruned.values()):
                log.info("pruned old rows: %s", pruned)

    async def _tell_interrupted(self, records: list[JobRecord]) -> None:
        """A previous process died mid-job: tell each requester, with a way to try again."""
        for record in records:
            channel = self.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
            try:
                await post_late(
                    channel,
                    discord.Object(record.user_id),
                    f"your track “{inert(record.prompt, 200)}” ({duration(record.length_s)}) "
                    "was interrupted when the bot restarted. Nothing was taken from your quota.",
                    view=RetryButton.as_view(record.id),
                )
            except discord.HTTPException as exc:
                log.warning(
                    "could not tell channel %s about job %s: %s", record.channel_id, record.id, exc
                )

    async def on_ready(self) -> None:
        log.info("logged in as %s in %d server(s)", self.user, len(self.guilds))

    async def close(self) -> None:
        self.housekeeping.cancel()
        await self.health.stop()
        await self.composer.stop()
        await super().close()
        await self.music.aclose()
        await self.database.close()


def _process_name() -> str:
    """Who owns a job row: unique per process, readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def use_discord_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at a REST/gateway proxy or a local Discord (it has no public option)."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def build_bot(settings: Settings, music: MusicClient, **options: Any) -> MusicBot:
    use_discord_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
    return MusicBot(
        music=music,
        database=Database(settings.database_url),
        music_concurrency=settings.music_concurrency,
        quota_defaults=QuotaDefaults(
            tracks=settings.default_quota_tracks,
            seconds=settings.default_quota_seconds,
            window_hours=settings.quota_window_hours,
        ),
        job_lease_seconds=settings.job_lease_seconds,
        model_id=settings.music_model_id,
        inpainting=settings.music_inpainting,
        plans_per_minute=settings.plans_per_minute,
        metrics_address=(
            (settings.metrics_host, settings.metrics_port)
            if settings.metrics_port is not None
            else None
        ),
        **options,
    )


def _connections(settings: Settings) -> int:
    """Every generation the account may run at once, plus room for plan requests."""
    return max(64, settings.music_concurrency + 16)


async def run_bot(settings: Settings, *, sandbox: bool = False) -> int:
    token = settings.require_discord_token().get_secret_value()
    runner = None
    if settings.elevenlabs_api_key is not None and not sandbox:
        music = MusicClient(
            settings.elevenlabs_api_key,
            base_url=settings.elevenlabs_base_url,
            max_connections=_connections(settings),
        )
    elif sandbox:
        from bot.sandbox.server import Sandbox, serve

        runner, url = await serve(Sandbox(), "127.0.0.1", 0)
        log.warning("composing with the built-in sandbox at %s: synthesised test music", url)
        music = MusicClient(DEFAULT_API_KEY, base_url=url, max_connections=_connections(settings))
        # The sandbox stores songs, so Extend and Redo a section can be tried too.
        settings = settings.model_copy(update={"music_inpainting": True})
    else:
        raise ConfigError(
            "ELEVENLABS_API_KEY is not set: set it, or start with --sandbox to try the bot "
            "with synthesised music"
        )
    bot = build_bot(settings, music)
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN was refused by Discord") from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError("Discord refused the bot's intents") from None
    except StoreUnavailable as exc:
        raise ConfigError(str(exc)) from None
    finally:
        if runner is not None:
            await runner.cleanup()
    return 0


async def sync_commands(settings: Settings, *, guild_id: int | None) -> int:
    """Register the slash commands once, instead of on every start (Discord caps creates)."""
    token = settings.require_discord_token().get_secret_value()
    # No generation happens while syncing: any key will do.
    music = MusicClient(
        settings.elevenlabs_api_key or "unused", base_url=settings.elevenlabs_base_url
    )
    bot = build_bot(settings, music)
    try:
        async with bot:
            await bot.login(token)
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                bot.tree.copy_global_to(guild=guild)
                synced = await bot.tree.sync(guild=guild)
                where = f"server {guild_id}"
            else:
                synced = await bot.tree.sync()
                where = "all servers (may take up to an hour to appear)"
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN was refused by Discord") from None
    names = ", ".join(sorted(f"/{c.name}" for c in synced))
    print(f"registered {len(synced)} command(s) in {where}: {names}")
    return 0
