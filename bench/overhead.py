"""What the bot adds on top of the music API, side by side with the naive SDK bot.

    .venv/bin/python -m bench.overhead [--generation 5] [--length 10] [--counts 1,100]
                                       [--probes 100] [--database-url URL]

For each bot (`python -m bot run`, and `bench/naive_bot.py` on the official SDK), against the
same local Discord and the sandbox in its own process:

- overhead = time from the slash command to the end of the track's upload, minus the time the
  sandbox spent generating and sending that track; p50/p99 with 1 and with 100 composes at once
  (rounds of 1 are repeated to `--samples`; MUSIC_CONCURRENCY leaves every track a slot);
- one unmeasured compose first warms each bot up (connections, caches);
- defer latency (slash command to the first answer, Discord's 3 s deadline) of `--probes`
  commands sent one every 20 ms while 100 tracks stream (`fault:pace`).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bench._support import (
    bot_process,
    compose_all,
    delivered,
    first_answer,
    generation_times,
    local_discord,
    percentile,
    sandbox_process,
    sandbox_stats,
    summary,
    wait_delivered,
)
from tests.fakes.discord_server import FakeDiscord


async def overhead(
    fake: FakeDiscord, url: str, kind: str, count: int, args: argparse.Namespace
) -> dict[str, list[float]]:
    """`count` composes at once, repeated until there are `--samples` (at least one round)."""
    result: dict[str, list[float]] = {"overhead": [], "generation": [], "defer": []}
    for round_ in range(max(1, args.samples // count)):
        prompts = [
            f"bench {kind} {count} {round_} {i} lofi fault:slow:{args.generation}"
            for i in range(count)
        ]
        offset = count * 1000 + round_ * count
        interactions = await compose_all(fake, prompts, args.length, offset=offset)
        await wait_delivered(fake, interactions)
        generated = generation_times(await sandbox_stats(url))
        for prompt, interaction in zip(prompts, interactions, strict=True):
            end_to_end = delivered(fake, interaction)
            assert end_to_end is not None
            result["generation"].append(generated[prompt])
            result["overhead"].append(end_to_end - generated[prompt])
            result["defer"].append(first_answer(fake, interaction) or 0.0)
    return result


async def defer_under_load(
    fake: FakeDiscord, url: str, kind: str, args: argparse.Namespace
) -> list[float]:
    """First-answer times of commands sent while `--load` tracks stream in."""
    load = [f"bench {kind} load {i} lofi fault:pace:{args.stream}" for i in range(args.load)]
    streaming = await compose_all(fake, load, args.length, offset=500_000)
    # Probes start once every track of the load is streaming from the sandbox.
    while sum(1 for r in (await sandbox_stats(url))["requests"] if r["prompt"] in load) < len(load):
        await asyncio.sleep(0.05)
    probes = []
    for index in range(args.probes):
        (probe,) = await compose_all(
            fake, [f"bench {kind} probe {index} jazz"], 3, offset=600_000 + index
        )
        probes.append(probe)
        await asyncio.sleep(0.02)
    streaming_at_end = (await sandbox_stats(url))["in_flight"]
    await wait_delivered(fake, streaming + probes)
    if streaming_at_end < len(load):
        print(f"  ({kind}: only {streaming_at_end} tracks still streaming after the probes)")
    return [first_answer(fake, p) or 0.0 for p in probes]


async def run(kind: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    settings = {"MUSIC_CONCURRENCY": str(max(max(args.counts), args.load + args.probes))}
    if args.database_url:
        settings["DATABASE_URL"] = args.database_url
    async with local_discord() as fake, bot_process(kind, fake, url, **settings):
        # One compose first, not measured: the first one opens connections and warms caches
        # in both bots, which a running bot has long done.
        warm = await compose_all(fake, [f"bench {kind} warm-up lofi"], args.length, offset=900)
        await wait_delivered(fake, warm)
        found: dict[str, Any] = {}
        for count in args.counts:
            found[count] = await overhead(fake, url, kind, count, args)
        found["defer"] = await defer_under_load(fake, url, kind, args)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generation", type=float, default=5.0, help="seconds per generation")
    parser.add_argument("--length", type=int, default=10, help="track length in seconds")
    parser.add_argument("--counts", default="1,100", help="concurrent composes to measure")
    parser.add_argument(
        "--samples", type=int, default=20, help="composes measured per count (in rounds)"
    )
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--load", type=int, default=100, help="tracks streaming during probes")
    parser.add_argument(
        "--stream", type=float, default=10.0, help="seconds each load track streams"
    )
    parser.add_argument("--bots", default="bot,naive")
    parser.add_argument("--database-url", help="the bot's database (default: a SQLite file)")
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]
    print(
        f"overhead: {args.length} s tracks, {args.generation:g} s generation; "
        f"defer latency: {args.probes} commands while {args.load} tracks stream over "
        f"{args.stream:g} s"
    )
    async with sandbox_process() as url:
        for kind in args.bots.split(","):
            found = await run(kind, url, args)
            print(f"\n[{kind}]")
            for count in args.counts:
                row = found[count]
                p99 = percentile(row["overhead"], 0.99)
                share = p99 / (sum(row["generation"]) / len(row["generation"])) * 100
                print(
                    f"  {count:3d} at once  overhead   {summary(row['overhead'])}  "
                    f"(p99 = {share:.2f} % of generation)"
                )
                print(f"  {count:3d} at once  defer      {summary(row['defer'])}")
            print(f"  while streaming  defer      {summary(found['defer'])}")


if __name__ == "__main__":
    asyncio.run(main())
