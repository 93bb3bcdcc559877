"""/healthz, /metrics and the structured logs, read the way an operator's tools read them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.health import HealthServer
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import ephemeral_reply, finished
from tests.e2e.test_process import ROOT, bot_env, start_process
from tests.fakes.discord_server import ALICE, FakeDiscord


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_health_and_metrics_follow_what_happens(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    bot = await start_bot(metrics_port=0, default_quota_tracks=1)
    assert bot.health.port is not None
    port = bot.health.port
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "discord": True, "database": True}

    before = await scrape(port)
    delivered = ("music_jobs_finished_total", (("outcome", "delivered"),))
    calls = ("music_api_seconds_count", (("call", "compose"), ("outcome", "ok")))
    refused = ("music_quota_rejections_total", (("reason", "tracks"),))

    first = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    await finished(discord_fake, first)
    second = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, second))

    after = await scrape(port)
    assert after[delivered] - before.get(delivered, 0) == 1
    assert after[calls] - before.get(calls, 0) == 1
    assert after[refused] - before.get(refused, 0) == 1
    assert after[("music_jobs", (("state", "done"),))] == 1
    assert after[("music_jobs", (("state", "queued"),))] == 0


async def test_health_is_503_when_the_database_does_not_answer() -> None:
    async def database_ok() -> bool:
        return False

    async def job_counts() -> dict[str, int]:
        raise OSError("database gone")

    server = HealthServer(connected=lambda: True, database_ok=database_ok, job_counts=job_counts)
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{server.port}/healthz")
            metrics = await client.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.stop()
    assert health.status_code == 503
    assert health.json() == {"status": "unhealthy", "discord": True, "database": False}
    assert metrics.status_code == 200, "metrics still answer without the job counts"


async def test_json_logs_carry_the_job_id_and_no_secret(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    env = bot_env(discord_fake, sandbox, LOG_FORMAT="json", LOG_LEVEL="INFO", METRICS_PORT="0")
    process = await start_process(env, workdir)
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        interaction = await discord_fake.slash(
            ALICE, "music", "compose", {"prompt": "chill piano", "length": 3}
        )
        await discord_fake.wait_for(
            lambda: (m := discord_fake.original(interaction)) and m["attachments"], timeout=30
        )
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 20)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert lines and all(
        {"time", "level", "logger", "message", "job_id"} <= set(line) for line in lines
    )
    job_lines = [line for line in lines if line["job_id"] != "-"]
    assert any("delivered" in line["message"] for line in job_lines)
    assert len({line["job_id"] for line in job_lines}) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", job_lines[0]["job_id"])
    text = err.decode()
    assert "test-key" not in text and discord_fake.token not in text


async def test_health_command_reports_an_unreachable_bot(workdir: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "health"),
        env={**os.environ, "PYTHONPATH": str(ROOT), "METRICS_PORT": "1"},
        cwd=workdir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode != 0
    assert "ConnectError" in err.decode()
