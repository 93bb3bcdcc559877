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
from tests.fakes.discord_server import ALICE, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


async def test_bot_process_composes_and_shuts_down_cleanly(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": discord_fake.token,
        "ELEVENLABS_API_KEY": "test-key",
        "ELEVENLABS_BASE_URL": sandbox.url,
        "DISCORD_API_BASE_URL": discord_fake.api_base,
        "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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
