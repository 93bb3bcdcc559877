"""A jam: many members compose at once in one channel, more than the API's concurrency allows.
The real bot process, a local Discord, and the music sandbox (its own process) with a
simulated generation time.

    .venv/bin/python -m bench.jam [--members 30] [--length 10] [--generation 1.0]
                                  [--concurrency 2] [--database-url URL] [--processes 1 2]

With `--processes 1 2` (PostgreSQL only) the bot runs as one process, then as two processes
with a shard each (DISCORD_SHARD_IDS), the members spread over a server on each shard.

Prints, for the bot: time to the first answer (the 3 s deadline), time to delivery, throughput,
and the bot's peak RSS; and, as the baseline, the same generations made straight through
MusicClient with the same concurrency (no Discord, no database, no queue).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

from bench._support import (
    API_KEY,
    bot_process,
    compose_all,
    delivered,
    first_answer,
    local_discord,
    rss_peak_kib,
    sandbox_process,
    summary,
    wait_delivered,
)
from bot.music import MusicClient, build_request
from tests.fakes.discord_server import GUILD_ID, OTHER_GUILD_ID


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


async def through_bot(url: str, args: argparse.Namespace, processes: int = 1) -> dict[str, Any]:
    settings = {"MUSIC_CONCURRENCY": str(args.concurrency)}
    if args.database_url:
        settings["DATABASE_URL"] = args.database_url
    guilds = (GUILD_ID, OTHER_GUILD_ID)[:processes]
    async with (
        local_discord(guilds=guilds, shards=processes, max_concurrency=processes) as fake,
        contextlib.AsyncExitStack() as stack,
    ):
        started_bots = []
        for shard in range(processes):
            sharding = (
                {"DISCORD_SHARD_COUNT": str(processes), "DISCORD_SHARD_IDS": str(shard)}
                if processes > 1
                else {}
            )
            started_bots.append(
                await stack.enter_async_context(
                    bot_process("bot", fake, url, **settings, **sharding)
                )
            )
        await fake.wait_for(lambda: len(fake.identified_shards()) == processes, timeout=60)
        started = time.perf_counter()
        prompts = [prompt(i, args.generation) for i in range(args.members)]
        interactions = await compose_all(
            fake, prompts, args.length, offset=processes * 100_000, guilds=guilds
        )
        await wait_delivered(fake, interactions)
        return {
            "total": time.perf_counter() - started,
            "first": [first_answer(fake, i) or 0.0 for i in interactions],
            "done": [delivered(fake, i) or 0.0 for i in interactions],
            "rss": max(rss_peak_kib(p.pid) for p in started_bots),
            "requests": len(fake.requests),
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--generation", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database-url", help="e.g. postgresql+asyncpg://...; default SQLite")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        choices=(1, 2),
        default=[1],
        help="bot processes (2: one shard each; needs --database-url to PostgreSQL)",
    )
    args = parser.parse_args()
    if max(args.processes) > 1 and not (args.database_url or "").startswith("postgres"):
        parser.error("several processes share one PostgreSQL database: give --database-url")
    print(
        f"{args.members} members, {args.length} s tracks, {args.generation} s per generation, "
        f"concurrency {args.concurrency}"
    )
    async with sandbox_process() as url:
        base_total, base_done = await baseline(url, args)
        runs = [(count, await through_bot(url, args, count)) for count in args.processes]
    ideal = args.members * args.generation / args.concurrency
    print(f"ideal (generation time only) : {ideal:6.2f} s")
    print(
        f"baseline MusicClient         : {base_total:6.2f} s total, "
        f"{args.members / base_total * 60:6.1f} tracks/min; done {summary(base_done, 's', 1)}"
    )
    for count, bot in runs:
        label = "through the bot" if count == 1 else f"through {count} bot processes"
        print(
            f"{label:<29}: {bot['total']:6.2f} s total, "
            f"{args.members / bot['total'] * 60:6.1f} tracks/min; "
            f"done {summary(bot['done'], 's', 1)}"
        )
        print(f"  first answer (deadline 3 s): {summary(bot['first'])}")
        print(
            f"  bot process peak RSS       : {bot['rss'] / 1024:6.1f} MiB; "
            f"Discord requests: {bot['requests']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
