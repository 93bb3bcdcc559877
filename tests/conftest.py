from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.music import MusicClient, RetryPolicy
from bot.sandbox.server import Sandbox, serve
from bot.store import Database

# Tests never read a developer's .env or real keys.
for _name in list(os.environ):
    if _name.startswith(("DISCORD_", "ELEVENLABS_", "MUSIC_", "DATABASE_", "DEFAULT_QUOTA")):
        del os.environ[_name]

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    url: str


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    state = Sandbox(api_key="test-key", retry_after=0.05)
    runner, url = await serve(state, "127.0.0.1", 0)
    try:
        yield RunningSandbox(state, url)
    finally:
        await runner.cleanup()


@pytest.fixture
async def music(sandbox: RunningSandbox) -> AsyncIterator[MusicClient]:
    async with MusicClient("test-key", base_url=sandbox.url, retry_policy=FAST_RETRY) as client:
        yield client


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    from tests.databases import database_url

    async with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    from tests.databases import open_database

    async with open_database(db_url) as opened:
        yield opened
