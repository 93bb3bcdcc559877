"""The real bot, logged in to a local Discord over real sockets, composing with the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from bot.app import MusicBot
from bot.config import Settings
from bot.launcher import build_bot
from bot.music import MusicClient
from tests.conftest import FAST_RETRY, RunningSandbox
from tests.fakes.discord_server import GUILD_ID, FakeDiscord
from tests.fakes.tls import LocalCA, make_test_ca
from tests.fakes.voice_server import VoiceServer

BotFactory = Callable[..., Awaitable[MusicBot]]


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def voice_server(local_ca: LocalCA, discord_fake: FakeDiscord) -> AsyncIterator[VoiceServer]:
    """A local voice server, where the local Discord sends a bot that joins voice."""
    server = VoiceServer(local_ca)
    await server.start()
    discord_fake.voice_server = server
    try:
        yield server
    finally:
        await server.stop()


def bot_settings(fake: FakeDiscord, sandbox: RunningSandbox, data: Path, **extra: Any) -> Settings:
    return Settings(
        discord_token=fake.token,
        elevenlabs_api_key="test-key",
        elevenlabs_base_url=sandbox.url,
        database_url=f"sqlite:///{data}/bot.db",
        discord_api_base_url=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        **extra,
    )


@pytest.fixture
async def start_bot(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, local_ca: LocalCA
) -> AsyncIterator[BotFactory]:
    started: list[tuple[MusicBot, asyncio.Task[None]]] = []

    async def start(
        *, read_timeout: float | None = None, options: dict[str, Any] | None = None, **extra: Any
    ) -> MusicBot:
        """A bot logged in to the local Discord; `extra` are settings, `options` go to the
        bot itself."""
        options = options or {}
        settings = bot_settings(discord_fake, sandbox, workdir, **extra)
        timeout = {"timeout": httpx.Timeout(5.0, read=read_timeout)} if read_timeout else {}
        music = MusicClient("test-key", base_url=sandbox.url, retry_policy=FAST_RETRY, **timeout)
        bot = build_bot(
            settings,
            music,
            guild_ready_timeout=0.1,
            progress_interval=0.5,
            # Voice is wss://, to the local voice server: trust its test CA.
            connector=aiohttp.TCPConnector(ssl=local_ca.client_context()),
            **options,
        )
        task = asyncio.create_task(bot.start(discord_fake.token))
        started.append((bot, task))
        # IDENTIFY comes after login, so the client is initialised once the fake has seen it.
        identified = asyncio.create_task(discord_fake.identified.wait())
        await asyncio.wait({identified, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        assert bot.get_guild(GUILD_ID) is not None
        return bot

    yield start
    for bot, task in started:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(start_bot: BotFactory) -> MusicBot:
    return await start_bot()
