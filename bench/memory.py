"""Peak memory of a bot process with many long tracks in flight, beside the naive SDK bot.

    .venv/bin/python -m bench.memory [--tracks 100] [--length 600] [--stream 20]

Each bot (`python -m bot run` with MUSIC_CONCURRENCY=--tracks, and `bench/naive_bot.py`) gets
`--tracks` composes at once of `--length` s each; the sandbox (its own process) sends every
track spread over `--stream` s, so all of them are in flight together. Printed: the bot
process's peak resident memory (VmHWM) once every track has been uploaded to the local Discord,
and how long that took.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench._support import (
    bot_process,
    compose_all,
    local_discord,
    rss_peak_kib,
    sandbox_process,
    sandbox_stats,
    wait_delivered,
)


async def measure(kind: str, url: str, args: argparse.Namespace) -> tuple[float, float, int, float]:
    settings = {"MUSIC_CONCURRENCY": str(args.tracks)}
    async with local_discord() as fake, bot_process(kind, fake, url, **settings) as process:
        idle = rss_peak_kib(process.pid)
        prompts = [
            f"memory {kind} {i} ambient fault:pace:{args.stream}" for i in range(args.tracks)
        ]
        started = time.perf_counter()
        interactions = await compose_all(fake, prompts, args.length)
        await wait_delivered(fake, interactions)
        elapsed = time.perf_counter() - started
        peak = rss_peak_kib(process.pid)
    stats = await sandbox_stats(url)
    return idle / 1024, peak / 1024, min(stats["peak_in_flight"], args.tracks), elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--length", type=int, default=600, help="seconds per track")
    parser.add_argument("--stream", type=float, default=20.0, help="seconds each track streams")
    parser.add_argument("--bots", default="bot,naive")
    args = parser.parse_args()
    print(f"{args.tracks} tracks of {args.length} s at once, each streamed over {args.stream:g} s")
    found = {}
    for kind in args.bots.split(","):
        # A fresh sandbox per bot, so "in flight together" is each bot's own figure.
        async with sandbox_process() as url:
            found[kind] = await measure(kind, url, args)
        idle, peak, together, elapsed = found[kind]
        print(
            f"  {kind:6s} peak RSS {peak:8.1f} MiB (idle {idle:6.1f} MiB); "
            f"{together} generations in flight together; all delivered in {elapsed:.1f} s"
        )
    if "bot" in found and "naive" in found:
        print(f"  bot / naive: {found['bot'][1] / found['naive'][1]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
