"""A jam: many members compose at once in one channel. The real bot process, a local Discord,
and the music sandbox (in its own process) with a simulated generation time.

    .venv/bin/python -m bench.jam [--members 30] [--length 10] [--generation 1.0]
                                  [--concurrency 2] [--database-url URL]

Prints, for the bot: time to the first answer (the 3 s deadline), time to delivery, throughput,
peak generations in flight and the bot's peak RSS; and, as the baseline, the same generations
made straight through MusicClient with the same concurrency (no Discord, no database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._support import API_KEY, ROOT, rss_peak_kib, sandbox_process, summary
from bot.music import MusicClient, build_request
from tests.fakes.discord_server import ALICE, FakeDiscord, Member


def prompt(index: int, generation: float) -> str:
    return f"jam {index} lofi fault:slow:{generation}"


async def baseline(url: str, args: argparse.Namespace) -> tuple[float, list[float]]:
    gate = asyncio.Semaphore(args.concurrency)
    done: list[float] = []
    started = time.perf_counter()
    async with MusicClient(API_KEY, base_url=url) as music:

        async def one(index: int) -> None:
            request = build_request(
                prompt=prompt(1000 + index, args.generation), length_s=args.length
            )
            async with gate:
                with await music.compose_detailed(request, output_format="mp3_44100_128"):
                    done.append(time.perf_counter() - started)

        await asyncio.gather(*(one(i) for i in range(args.members)))
    return time.perf_counter() - started, done


async def through_bot(url: str, args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeDiscord()
    await fake.start()
    workdir = Path(tempfile.mkdtemp(prefix="jam-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": fake.token,
        "ELEVENLABS_API_KEY": API_KEY,
        "ELEVENLABS_BASE_URL": url,
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "MUSIC_CONCURRENCY": str(args.concurrency),
        "DEFAULT_QUOTA_TRACKS": "100",
        "DEFAULT_QUOTA_SECONDS": "100000",
        "LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=workdir,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(fake.identified.wait(), 30)
        members = [Member(ALICE.id + 1000 + i, f"member{i}") for i in range(args.members)]
        fake.members.extend(members)
        started = time.perf_counter()
        interactions = await asyncio.gather(
            *(
                fake.slash(
                    member,
                    "music",
                    "compose",
                    {"prompt": prompt(i, args.generation), "length": args.length},
                )
                for i, member in enumerate(members)
            )
        )

        def first_answer(interaction: Any) -> float | None:
            calls = fake.sent("POST", rf"/interactions/{interaction.id}/")
            return calls[0].at - interaction.created if calls else None

        def delivered(interaction: Any) -> float | None:
            message = fake.original(interaction)
            if not message or not message["attachments"]:
                return None
            for record in fake.requests:
                if record.method == "PATCH" and record.files and interaction.token in record.path:
                    return record.at - interaction.created
            return None

        await fake.wait_for(
            lambda: all(delivered(i) is not None for i in interactions), timeout=600
        )
        total = time.perf_counter() - started
        return {
            "total": total,
            "first": [first_answer(i) or 0.0 for i in interactions],
            "done": [delivered(i) or 0.0 for i in interactions],
            "rss": rss_peak_kib(bot.pid),
            "requests": len(fake.requests),
        }
    finally:
        bot.terminate()
        await bot.wait()
        await fake.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--generation", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://...; default SQLite")
    args = parser.parse_args()
    print(
        f"{args.members} members, {args.length} s tracks, {args.generation} s per generation, "
        f"concurrency {args.concurrency}"
    )
    async with sandbox_process() as url:
        base_total, base_done = await baseline(url, args)
        bot = await through_bot(url, args)
    ideal = args.members * args.generation / args.concurrency
    print(f"ideal (generation time only) : {ideal:6.2f} s")
    print(
        f"baseline MusicClient         : {base_total:6.2f} s total, "
        f"{args.members / base_total * 60:6.1f} tracks/min; done {summary(base_done, 's', 1)}"
    )
    print(
        f"through the bot              : {bot['total']:6.2f} s total, "
        f"{args.members / bot['total'] * 60:6.1f} tracks/min; done {summary(bot['done'], 's', 1)}"
    )
    print(f"  first answer (deadline 3 s): {summary(bot['first'])}")
    print(
        f"  bot process peak RSS       : {bot['rss'] / 1024:6.1f} MiB; "
        f"Discord requests: {bot['requests']}"
    )


if __name__ == "__main__":
    asyncio.run(main())
