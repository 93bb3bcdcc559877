"""Two `python -m bot run` processes on one token and one PostgreSQL database, as deployed
with DISCORD_SHARD_IDS: each answers its own shard's guilds, quotas and the API's concurrency
hold across both, a misconfiguration answers everyone once, and a killed process's member is
told in their own reply by the survivor."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.server import Sandbox, serve
from tests.conftest import RunningSandbox
from tests.databases import database_url, open_database
from tests.e2e.test_process import bot_env, start_process
from tests.fakes.discord_server import (
    ALICE,
    APP_ID,
    GUILD_ID,
    OTHER_GUILD_ID,
    FakeDiscord,
    Interaction,
    Member,
)

WARNING = "another process answered interaction"


@dataclass
class BotProcess:
    """A bot process whose log lines are read as they come (so its pipe never fills)."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode())

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def stop(self, how: signal.Signals = signal.SIGINT) -> None:
        if self.process.returncode is None:
            self.process.send_signal(how)
        await asyncio.wait_for(self.process.wait(), 30)
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 5)


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[str]:
    async with database_url("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
async def fast_sandbox() -> AsyncIterator[RunningSandbox]:
    state = Sandbox(api_key="test-key", retry_after=0.05, fast_render=True)
    runner, url = await serve(state, "127.0.0.1", 0)
    try:
        yield RunningSandbox(state, url)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def local_discord(**options: Any) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(**options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def processes(
    fake: FakeDiscord,
    sandbox: RunningSandbox,
    root: Path,
    shard_envs: list[dict[str, str]],
    **common: str,
) -> AsyncIterator[list[BotProcess]]:
    """One bot process per env, each in its own folder (its own lasting instance id)."""
    started: list[BotProcess] = []
    try:
        for index, shard_env in enumerate(shard_envs):
            folder = root / f"process{index}"
            folder.mkdir()
            env = bot_env(fake, sandbox, **common, **shard_env)
            process = BotProcess(await start_process(env, folder))
            process.reader = asyncio.create_task(process._read())
            started.append(process)
        yield started
    finally:
        for process in started:
            await process.stop()


async def identified(fake: FakeDiscord, bots: list[BotProcess], shards: set[int]) -> None:
    """Both shards identified; on a timeout, what the processes logged says why."""
    try:
        await fake.wait_for(lambda: fake.identified_shards() == shards, timeout=60)
    except TimeoutError:
        logs = "\n".join(f"--- process {i}:\n{bot.log[-3000:]}" for i, bot in enumerate(bots))
        pytest.fail(f"shards {fake.identified_shards()} of {shards} identified\n{logs}")


async def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    async with open_database(url) as database:
        found = await database.read(lambda connection: connection.exec_driver_sql(query).all())
        return [tuple(row) for row in found]


def members(count: int) -> list[Member]:
    return [Member(1100000000000002000 + i, f"member{i}") for i in range(count)]


async def compose_all(
    fake: FakeDiscord, people: list[Member], guilds: tuple[int, ...]
) -> list[Interaction]:
    sent = await asyncio.gather(
        *(
            fake.slash(
                member,
                "music",
                "compose",
                {"prompt": "lofi fault:slow:0.2", "length": 3},
                guild_id=guilds[index % len(guilds)],
            )
            for index, member in enumerate(people)
        )
    )
    await fake.wait_for(
        lambda: all((m := fake.original(i)) and m["attachments"] for i in sent), timeout=120
    )
    return sent


def callbacks(fake: FakeDiscord, interaction: Interaction) -> int:
    return len(fake.sent("POST", rf"/interactions/{interaction.id}/"))


async def test_two_processes_one_shard_each_answer_everyone_once(
    postgres: str, fast_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    guilds = (GUILD_ID, OTHER_GUILD_ID)
    async with (
        local_discord(guilds=guilds, shards=2, max_concurrency=1) as fake,
        processes(
            fake,
            fast_sandbox,
            tmp_path,
            [{"DISCORD_SHARD_IDS": "0"}, {"DISCORD_SHARD_IDS": "1"}],
            DATABASE_URL=postgres,
            DISCORD_SHARD_COUNT="2",
            MUSIC_CONCURRENCY="2",
            DEFAULT_QUOTA_TRACKS="1",
        ) as bots,
    ):
        await identified(fake, bots, {0, 1})
        first, second = sorted(fake.identifies, key=lambda i: i.at)
        assert {(first.shard_id, first.shard_count), (second.shard_id, second.shard_count)} == {
            (0, 2),
            (1, 2),
        }
        assert second.at - first.at >= 4.5, "one identify per 5 s with max_concurrency 1"

        sent = await compose_all(fake, members(50), guilds)
        assert [callbacks(fake, i) for i in sent] == [1] * 50
        assert sum(i.refused_callbacks for i in sent) == 0
        assert len(fast_sandbox.sandbox.compose_requests()) == 50
        assert fast_sandbox.sandbox.peak_in_flight == 2, "MUSIC_CONCURRENCY across processes"
        usage = await rows(postgres, "SELECT user_id, state FROM quota_usage")
        assert sorted(usage) == sorted((m.id, "committed") for m in members(50))
        owners = await rows(postgres, "SELECT DISTINCT split_part(owner, ':', 1) FROM jobs")
        assert len(owners) == 2, "each process composed for its own shard's guild"
    for bot in bots:
        assert "Traceback" not in bot.log and "ERROR" not in bot.log, bot.log
        assert WARNING not in bot.log


async def test_two_processes_on_one_shard_answer_each_member_once_and_warn_once(
    postgres: str, fast_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """No shard settings in either process: both identify as shard 0 of 1 and Discord gives
    every interaction to both."""
    async with (
        local_discord(max_concurrency=1) as fake,
        processes(
            fake,
            fast_sandbox,
            tmp_path,
            [{}, {}],
            DATABASE_URL=postgres,
            MUSIC_CONCURRENCY="2",
            DEFAULT_QUOTA_TRACKS="1",
        ) as bots,
    ):
        await fake.wait_for(lambda: len(fake.identifies) == 2, timeout=30)
        sent = await compose_all(fake, members(20), (GUILD_ID,))
        assert [callbacks(fake, i) for i in sent] == [1] * 20, "nobody answered twice"
        assert sum(i.refused_callbacks for i in sent) == 0
        assert len(fast_sandbox.sandbox.compose_requests()) == 20
        usage = await rows(postgres, "SELECT user_id, state FROM quota_usage")
        assert sorted(usage) == sorted((m.id, "committed") for m in members(20)), "not refused"
    logs = "".join(bot.log for bot in bots)
    assert logs.count(WARNING) == 1, logs
    assert "DISCORD_SHARD_IDS" in logs
    assert "Traceback" not in logs and "ERROR" not in logs, logs


async def test_a_killed_process_is_taken_over_and_its_member_told_in_their_reply(
    postgres: str, fast_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    async with (
        local_discord(guilds=(GUILD_ID, OTHER_GUILD_ID), shards=2, max_concurrency=2) as fake,
        processes(
            fake,
            fast_sandbox,
            tmp_path,
            [{"DISCORD_SHARD_IDS": "0"}, {"DISCORD_SHARD_IDS": "1"}],
            DATABASE_URL=postgres,
            DISCORD_SHARD_COUNT="2",
            JOB_LEASE_SECONDS="2",
        ) as bots,
    ):
        await identified(fake, bots, {0, 1})
        # GUILD_ID is on shard 1: the second process composes it.
        sent = await fake.slash(
            ALICE, "music", "compose", {"prompt": "lofi fault:slow:60", "length": 3}
        )
        await asyncio.wait_for(fast_sandbox.sandbox.generation_started.wait(), 20)
        await bots[1].stop(signal.SIGKILL)

        reply = await fake.wait_for(
            lambda: (m := fake.original(sent)) and "took over" in m["content"] and m, timeout=30
        )
        assert "restarted" not in reply["content"]
        assert fake.custom_id(reply, "music:retry:")
        edits = fake.sent("PATCH", rf"/webhooks/{APP_ID}/{sent.token}/messages/")
        assert edits and edits[-1].status == 200
        assert not fake.sent("POST", r"/channels/\d+/messages$"), "told in the reply, not posted"
        assert await rows(postgres, "SELECT state FROM jobs") == [("interrupted",)]
        assert await rows(postgres, "SELECT state FROM quota_usage") == [("refunded",)]
    assert sent.token not in bots[0].log, "the reply token is never logged"
    assert "Traceback" not in bots[0].log, bots[0].log
