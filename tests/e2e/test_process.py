"""`python -m bot run` as deployed: a separate process, configured only by environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
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
    assert "registered 2 command(s)" in out.decode()
    (put,) = discord_fake.sent("PUT", rf"/guilds/{GUILD_ID}/commands$")
    commands = {c["name"]: c for c in put.payload}
    compose = next(o for o in commands["music"]["options"] if o["name"] == "compose")
    options = {o["name"]: o for o in compose["options"]}
    assert (options["prompt"]["min_length"], options["prompt"]["max_length"]) == (1, 4100)
    assert (options["length"]["min_value"], options["length"]["max_value"]) == (3, 600)
    assert commands["music"]["contexts"] == [0], "servers only"
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
