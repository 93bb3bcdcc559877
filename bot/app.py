"""MusicBot and the two ways to start it: `run` (the bot) and `sync` (register commands)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord
import httpx
import yarl
from discord.ext import commands, tasks

from bot.config import ConfigError, Settings
from bot.delivery import post_late, track_was_posted
from bot.flow import ComposeFlow
from bot.health import HealthServer
from bot.instance import Instance, claim_instance
from bot.jam_flow import DEFAULT_IDLE_SECONDS, JamFlow
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
from bot.voice import voice_problem

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
        instance: Instance | None = None,
        pcm_channels: int = 1,
        jam_idle_seconds: float = DEFAULT_IDLE_SECONDS,
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
        self.music = music
        self.database = database
        self.instance = instance
        self.jobs = JobStore(
            database,
            owner=_process_name(instance),
            lease_seconds=job_lease_seconds,
            predecessors=f"{instance.id}:" if instance is not None else None,
        )
        self.composer = Composer(
            music,
            self.jobs,
            concurrency=music_concurrency,
            on_interrupted=self._tell_interrupted,
            was_delivered=self._was_delivered,
        )
        self.suggestions = SuggestionStore(database)
        self.quotas = QuotaLedger(database, quota_defaults)
        self.audit = AuditLog(database)
        self.plans = PlanStore(database)
        self.tracks = TrackStore(database)
        self.jam_flow = JamFlow(
            self.composer,
            pcm_channels=pcm_channels,
            idle_seconds=jam_idle_seconds,
            now_playing_interval=now_playing_interval,
        )
        self.compose_flow = ComposeFlow(
            self.composer,
            self.suggestions,
            self.quotas,
            self.jobs,
            self.plans,
            self.tracks,
            jams=self.jam_flow,
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
        # Member attachments (plan files): a client of its own, never the music API key's.
        self.downloads = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=True)
        self.plan_flow = PlanFlow(
            music,
            self.plans,
            self.tracks,
            self.compose_flow,
            self.downloads,
            plans_per_minute=plans_per_minute,
        )

    async def setup_hook(self) -> None:
        from bot.cogs.compose import ComposeCog
        from bot.cogs.jam import JamCog
        from bot.cogs.quota import QuotaCog

        await self.database.open()
        self.jam_flow.unavailable = await asyncio.to_thread(voice_problem)
        if self.jam_flow.unavailable is not None:
            log.warning("voice jams are off: %s", self.jam_flow.unavailable)
        await self.add_cog(ComposeCog(self.compose_flow, self.plan_flow))
        await self.add_cog(JamCog(self.jam_flow))
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

    async def _was_delivered(self, record: JobRecord) -> bool:
        """Whether a stopped process's track reached the channel before it could record so."""
        assert self.user is not None
        channel = self.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
        return await track_was_posted(
            channel,
            author_id=self.user.id,
            track_id=record.id,
            message_id=record.message_id,
            since=record.created_at,
        )

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

    async def drain(self, grace: float) -> None:
        """Stop taking composes; give the running ones `grace` seconds to deliver."""
        log.warning(
            "shutting down: no new composes; waiting up to %g s for the %d running",
            grace,
            self.compose_flow.running,
        )
        # Tracks waiting in a jam will not get their turn: refunded and told now.
        await self.jam_flow.close()
        left = await self.compose_flow.drain(grace)
        if left:
            log.warning("%d compose(s) left running; the next start reports them", left)
        else:
            log.info("every running compose finished")

    async def close(self) -> None:
        self.housekeeping.cancel()
        await self.jam_flow.close()
        await self.health.stop()
        await self.composer.stop()
        await super().close()
        await self.music.aclose()
        await self.downloads.aclose()
        await self.database.close()
        if self.instance is not None:
            self.instance.release()


def _process_name(instance: Instance | None) -> str:
    """Who owns a job row: unique per process, readable in the database, and starting with
    the bot's lasting instance id ("-" without one)."""
    lasting = instance.id if instance is not None else "-"
    return f"{lasting}:{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def use_discord_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at a REST/gateway proxy or a local Discord (it has no public option)."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def build_bot(
    settings: Settings, music: MusicClient, *, instance: Instance | None = None, **options: Any
) -> MusicBot:
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
        pcm_channels=settings.music_pcm_channels,
        jam_idle_seconds=settings.jam_idle_seconds,
        metrics_address=(
            (settings.metrics_host, settings.metrics_port)
            if settings.metrics_port is not None
            else None
        ),
        instance=instance,
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
    instance = await asyncio.to_thread(claim_instance, settings.data_dir)
    bot = build_bot(settings, music, instance=instance)
    try:
        async with bot:
            await _run_until_stopped(bot, token, settings.shutdown_grace_seconds)
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN was refused by Discord") from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError("Discord refused the bot's intents") from None
    except StoreUnavailable as exc:
        raise ConfigError(str(exc)) from None
    except (aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
        raise _unreachable(exc) from None
    finally:
        if runner is not None:
            await runner.cleanup()
    return 0


async def _run_until_stopped(bot: MusicBot, token: str, grace: float) -> None:
    """Run until SIGTERM or SIGINT, then drain: no new composes, `grace` seconds for the
    running ones to deliver. A second signal stops at once."""
    loop = asyncio.get_running_loop()
    stopping, stop_now = asyncio.Event(), asyncio.Event()

    def on_signal(received: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("%s again: stopping now", received.name)
            stop_now.set()
        else:
            log.warning("%s: stopping (send it again to stop at once)", received.name)
            stopping.set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for received in signals:
        loop.add_signal_handler(received, on_signal, received)
    running = asyncio.create_task(bot.start(token))
    try:
        await _first(running, stopping.wait())
        if not running.done():
            await _first(running, bot.drain(grace), stop_now.wait())
            await bot.close()
        await running
    finally:
        for received in signals:
            loop.remove_signal_handler(received)


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of `waits` ends; cancel the others (tasks given are left alone)."""
    tasks = [w if isinstance(w, asyncio.Task) else asyncio.ensure_future(w) for w in waits]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task, wait in zip(tasks, waits, strict=True):
        if task is not wait:
            task.cancel()


def _unreachable(exc: BaseException) -> ConfigError:
    """One line for a Discord that cannot be reached (the reason names a host, never a token)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ConfigError(f"cannot reach Discord ({discord.http.Route.BASE}): {reason}")


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
    except (aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
        raise _unreachable(exc) from None
    names = ", ".join(sorted(f"/{c.name}" for c in synced))
    print(f"registered {len(synced)} command(s) in {where}: {names}")
    return 0
