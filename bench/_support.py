"""Shared parts of the benchmark scripts: the sandbox and the bots as separate processes, a
local Discord in this process, and the timings read off both.

Clocks: the sandbox records `time.monotonic()`, which on Linux is one system-wide clock, so
its generation times line up with the local Discord's request times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.discord_server import ALICE, GUILD_ID, FakeDiscord, Interaction, Member

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def sandbox_process(
    *, fast_render: bool = True, first_byte_delay: float = 0.0
) -> AsyncIterator[str]:
    """The music sandbox in a separate process, so its CPU and memory are not measured."""
    port = free_port()
    extra = ["--fast-render"] if fast_render else []
    if first_byte_delay:
        extra += ["--first-byte-delay", str(first_byte_delay)]
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "sandbox", "--port", str(port), "--api-key", API_KEY),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 30)  # "listening on ..."
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


async def sandbox_stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{url}/sandbox/stats")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


@contextlib.asynccontextmanager
async def local_discord(**options: Any) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(keep_uploads=False, **options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


BOTS = {
    "bot": ["-m", "bot", "run"],
    "naive": ["-m", "bench.naive_bot"],
    "naive-voice": ["-m", "bench.naive_voice_bot"],
}


@contextlib.asynccontextmanager
async def bot_process(
    kind: str, fake: FakeDiscord, music_url: str, **settings: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot run` ("bot") or the SDK baseline ("naive"), logged in to `fake`."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": fake.token,
        "ELEVENLABS_API_KEY": API_KEY,
        "ELEVENLABS_BASE_URL": music_url,
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "DEFAULT_QUOTA_TRACKS": "100000",
        "DEFAULT_QUOTA_SECONDS": "100000000",
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    fake.identified.clear()
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as workdir:
        errors = Path(workdir) / "stderr.log"
        with errors.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *BOTS[kind],
                env=env,
                cwd=workdir,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            identified = asyncio.ensure_future(fake.identified.wait())
            exited = asyncio.ensure_future(process.wait())
            await asyncio.wait({identified, exited}, timeout=60, return_when="FIRST_COMPLETED")
            if not identified.done():
                identified.cancel()
                raise RuntimeError(f"the {kind} bot did not log in: {errors.read_text()[-2000:]}")
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                await process.wait()


def members(count: int, offset: int = 0) -> list[Member]:
    return [Member(ALICE.id + 10_000 + offset + i, f"member{offset + i}") for i in range(count)]


async def compose_all(
    fake: FakeDiscord,
    prompts: Sequence[str],
    length: int,
    offset: int = 0,
    guilds: Sequence[int] = (GUILD_ID,),
) -> list[Interaction]:
    """Every prompt sent at once by a different member (spread over `guilds` in turn)."""
    crowd = members(len(prompts), offset)
    fake.members.extend(crowd)
    return list(
        await asyncio.gather(
            *(
                fake.slash(
                    member,
                    "music",
                    "compose",
                    {"prompt": prompt, "length": length},
                    guild_id=guilds[index % len(guilds)],
                )
                for index, (member, prompt) in enumerate(zip(crowd, prompts, strict=True))
            )
        )
    )


def first_answer(fake: FakeDiscord, interaction: Interaction) -> float | None:
    """Seconds from the interaction to its first callback (Discord's 3 s deadline)."""
    calls = fake.sent("POST", rf"/interactions/{interaction.id}/")
    return calls[0].at - interaction.created if calls else None


def delivered(fake: FakeDiscord, interaction: Interaction) -> float | None:
    """Seconds from the interaction to the end of the upload that delivered its track."""
    for record in fake.requests:
        if record.files and interaction.token in record.path and record.status == 200:
            return record.at - interaction.created
    return None


async def wait_delivered(fake: FakeDiscord, interactions: Sequence[Interaction]) -> None:
    await fake.wait_for(
        lambda: all(delivered(fake, i) is not None for i in interactions), timeout=1800
    )


def generation_times(stats: dict[str, Any]) -> dict[str, float]:
    """Seconds the sandbox spent on each prompt's generation, request to last byte."""
    return {
        r["prompt"]: r["finished"] - r["started"]
        for r in stats["requests"]
        if r["prompt"] and r["finished"] is not None
    }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000) -> str:
    if not values:
        return "-"
    ordered = [v * scale for v in values]
    return (
        f"p50 {statistics.median(ordered):8.1f} {unit}  p99 {percentile(ordered, 0.99):8.1f} "
        f"{unit}  max {max(ordered):8.1f} {unit}"
    )


def rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
