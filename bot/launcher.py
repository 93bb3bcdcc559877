"""Process concerns: build the bot from settings, run it until a signal and drain it, or
register its commands (`sync`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord
import yarl

from bot.app import MusicBot
from bot.config import ConfigError, Settings
from bot.instance import Instance, claim_instance
from bot.music import MusicClient
from bot.sandbox import DEFAULT_API_KEY
from bot.services import build_services
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)


def use_discord_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at a REST/gateway proxy or a local Discord (it has no public option)."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def build_bot(
    settings: Settings, music: MusicClient, *, instance: Instance | None = None, **options: Any
) -> MusicBot:
    """The bot over freshly built services (opened when it logs in)."""
    use_discord_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
    return MusicBot(
        build_services(settings, music, instance=instance),
        metrics_address=(
            (settings.metrics_host, settings.metrics_port)
            if settings.metrics_port is not None
            else None
        ),
        shard_ids=settings.shard_ids(),
        shard_count=settings.discord_shard_count,
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
