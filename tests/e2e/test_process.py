"""`python -m bot run` as deployed: a separate process, configured only by environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.test_compose import ephemeral_reply
from tests.fakes.discord_server import ALICE, GUILD_ID, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


def bot_env(discord_fake: FakeDiscord, sandbox: RunningSandbox, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": discord_fake.token,
        "ELEVENLABS_API_KEY": "test-key",
        "ELEVENLABS_BASE_URL": sandbox.url,
        "DISCORD_API_BASE_URL": discord_fake.api_base,
        "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
        # Warnings only: nobody drains the pipes until the process ends.
        "LOG_LEVEL": "WARNING",
        **extra,
    }


async def start_process(
    env: dict[str, str], cwd: Path, *args: str, verb: str = "run"
) -> asyncio.subprocess.Process:
    """`python -m bot run` (or another verb) as its own process."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        verb,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_bot_process_composes_and_shuts_down_cleanly(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    process = await start_process(bot_env(discord_fake, sandbox), workdir)
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        interaction = await discord_fake.slash(
            ALICE, "music", "compose", {"prompt": "chill piano", "length": 4}
        )
        message = await discord_fake.wait_for(
            lambda: (m := discord_fake.original(interaction)) and m["attachments"] and m,
            timeout=30,
        )
        audio = discord_fake.attachments[int(message["attachments"][0]["id"])]
        assert mp3_seconds(audio) == pytest.approx(4, abs=0.15)
        assert (workdir / "data" / "bot.db").exists(), "SQLite file created on first start"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert "test-key" not in err.decode()
    assert discord_fake.token not in err.decode()


async def test_sync_registers_the_commands_with_their_limits(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    process = await start_process(
        bot_env(discord_fake, sandbox), workdir, "--guild", str(GUILD_ID), verb="sync"
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert "registered 3 command(s)" in out.decode()
    (put,) = discord_fake.sent("PUT", rf"/guilds/{GUILD_ID}/commands$")
    commands = {c["name"]: c for c in put.payload}
    compose = next(o for o in commands["music"]["options"] if o["name"] == "compose")
    options = {o["name"]: o for o in compose["options"]}
    assert (options["prompt"]["min_length"], options["prompt"]["max_length"]) == (1, 4100)
    assert (options["length"]["min_value"], options["length"]["max_value"]) == (3, 600)
    assert commands["music"]["contexts"] == [0], "servers only"
    assert commands["jam"]["contexts"] == [0]
    assert {o["name"] for o in commands["jam"]["options"]} == {"start", "stop", "skip", "queue"}
    assert not discord_fake.identified.is_set(), "sync does not connect to the gateway"


async def test_run_with_the_built_in_sandbox_needs_no_music_key(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = bot_env(discord_fake, sandbox)
    del env["ELEVENLABS_API_KEY"], env["ELEVENLABS_BASE_URL"]
    process = await start_process(env, workdir, "--sandbox")
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        interaction = await discord_fake.slash(
            ALICE, "music", "compose", {"prompt": "synth pop", "length": 3}
        )
        message = await discord_fake.wait_for(
            lambda: (m := discord_fake.original(interaction)) and m["attachments"] and m,
            timeout=30,
        )
        audio = discord_fake.attachments[int(message["attachments"][0]["id"])]
        assert mp3_seconds(audio) == pytest.approx(3, abs=0.15)
        assert not sandbox.sandbox.requests, "the bot used its own sandbox"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert "built-in sandbox" in err.decode()


async def test_run_without_music_key_or_sandbox_is_one_clear_line(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = bot_env(discord_fake, sandbox)
    del env["ELEVENLABS_API_KEY"]
    process = await start_process(env, workdir)
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode != 0
    assert err.decode().strip().splitlines() == [
        "error: ELEVENLABS_API_KEY is not set: set it, or start with --sandbox to try the bot "
        "with synthesised music"
    ]


async def test_unreachable_database_is_one_line_without_the_password(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = bot_env(
        discord_fake, sandbox, DATABASE_URL="postgresql+asyncpg://bot:s3cret-pw@127.0.0.1:1/db"
    )
    process = await start_process(env, workdir)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert process.returncode != 0
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot open the database postgresql+asyncpg://bot:***@")
    assert "s3cret-pw" not in err.decode() and "Traceback" not in err.decode()


def database_rows(workdir: Path, query: str) -> list[tuple[object, ...]]:
    database = sqlite3.connect(workdir / "data" / "bot.db")
    try:
        return database.execute(query).fetchall()
    finally:
        database.close()


async def read_until(stream: asyncio.StreamReader | None, needle: str) -> str:
    """Lines of a process's output up to the first that holds `needle`."""
    assert stream is not None
    seen = ""
    while needle not in seen:
        line = await asyncio.wait_for(stream.readline(), 20)
        assert line, f"the output ended before {needle!r}: {seen}"
        seen += line.decode()
    return seen


async def test_sigterm_lets_a_running_track_finish_and_refuses_new_ones(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = bot_env(discord_fake, sandbox, SHUTDOWN_GRACE_SECONDS="30")
    process = await start_process(env, workdir)
    await asyncio.wait_for(discord_fake.identified.wait(), 20)
    running = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi fault:slow:2", "length": 3}
    )
    await asyncio.wait_for(sandbox.sandbox.generation_started.wait(), 20)

    process.send_signal(signal.SIGTERM)
    said = await read_until(process.stderr, "shutting down")
    late = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "jazz", "length": 3})
    refusal = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, late))
    assert "restarting" in refusal.payload["data"]["content"]

    message = await discord_fake.wait_for(
        lambda: (m := discord_fake.original(running)) and m["attachments"] and m, timeout=30
    )
    audio = discord_fake.attachments[int(message["attachments"][0]["id"])]
    assert mp3_seconds(audio) == pytest.approx(3, abs=0.15)
    _, rest = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert "SIGTERM" in said and "Traceback" not in said + rest.decode()
    assert database_rows(workdir, "SELECT state FROM jobs") == [("done",)]
    assert database_rows(workdir, "SELECT state FROM quota_usage") == [("committed",)]
    assert len(sandbox.sandbox.compose_requests()) == 1, "the late compose was not sent"


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "drained"])
async def test_a_restarted_bot_recovers_its_own_jobs_at_once(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, stop: signal.Signals
) -> None:
    """With the default 60 s lease: a restart does not wait out its own dead jobs' leases."""
    env = bot_env(discord_fake, sandbox, SHUTDOWN_GRACE_SECONDS="0.5")
    first = await start_process(env, workdir)
    await asyncio.wait_for(discord_fake.identified.wait(), 20)
    await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi fault:slow:60", "length": 3}
    )
    await asyncio.wait_for(sandbox.sandbox.generation_started.wait(), 20)
    first.send_signal(stop)
    await asyncio.wait_for(first.communicate(), 20)

    discord_fake.identified.clear()
    second = await start_process(env, workdir)
    try:
        notice = await discord_fake.wait_for(
            lambda: discord_fake.message_with_custom_id("music:retry:"), timeout=15
        )
        assert "interrupted" in notice["content"]
        assert database_rows(workdir, "SELECT state FROM jobs") == [("interrupted",)]
        assert database_rows(workdir, "SELECT state FROM quota_usage") == [("refunded",)]
    finally:
        second.send_signal(signal.SIGINT)
        await asyncio.wait_for(second.communicate(), 20)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "DATABASE_URL: is not a database URL"),
        ("postgres://", "DATABASE_URL: a PostgreSQL URL needs a host and a database"),
        ("mysql://bot:s3cret-pw@127.0.0.1/db", "DATABASE_URL: mysql is not supported"),
        ("postgresql+psycopg2://bot:s3cret-pw@127.0.0.1/db", "reached through asyncpg"),
        (
            "postgresql://bot:s3cret-pw@127.0.0.1:1/db",
            "cannot open the database postgresql+asyncpg://bot:***@127.0.0.1:1/db",
        ),
    ],
)
async def test_a_malformed_database_url_is_one_clear_line(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, url: str, says: str
) -> None:
    process = await start_process(bot_env(discord_fake, sandbox, DATABASE_URL=url), workdir)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert process.returncode != 0
    assert len(lines) == 1 and says in lines[0], lines
    assert "s3cret-pw" not in err.decode()


@pytest.mark.parametrize("verb", ["run", "sync"])
async def test_an_unreachable_discord_is_one_clear_line(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, verb: str
) -> None:
    env = bot_env(discord_fake, sandbox, DISCORD_API_BASE_URL="http://127.0.0.1:1/api/v10")
    process = await start_process(env, workdir, verb=verb)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    lines = err.decode().strip().splitlines()
    assert process.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Discord"), lines
    assert discord_fake.token not in err.decode()
