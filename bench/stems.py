"""What stem separation adds in the sandbox: the time of `POST /v1/music/stem-separation`
for songs of a few lengths, two and six stems, through the bot's MusicClient.

    .venv/bin/python -m bench.stems [--lengths 30,120] [--runs 3]

The sandbox runs in this process; each song is composed first (not timed), then separated
`--runs` times; the median is printed. The real API "might have high latency": this measures
only what the bot and the sandbox add (upload, render of each voice, ZIP, reading it back).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bot.music import MusicClient, build_request
from bot.music.models import StemVariation
from bot.sandbox.server import Sandbox, serve


async def main(lengths: list[int], runs: int) -> None:
    sandbox = Sandbox(api_key="bench")
    runner, url = await serve(sandbox, "127.0.0.1", 0)
    try:
        async with MusicClient("bench", base_url=url) as music:
            for length in lengths:
                request = build_request(prompt="rock piano", length_s=length)
                with await music.compose(request) as track:
                    song = await track.audio.read()
                variations: tuple[StemVariation, ...] = ("two_stems_v1", "six_stems_v1")
                for variation in variations:
                    times = []
                    for _ in range(runs):
                        started = time.perf_counter()
                        await music.separate_stems(song, variation=variation)
                        times.append(time.perf_counter() - started)
                    print(
                        f"{length:4d} s song, {variation}: median {statistics.median(times):.2f} s"
                        f" (min {min(times):.2f}, max {max(times):.2f}, {runs} runs)"
                    )
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", default="30,120")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main([int(n) for n in args.lengths.split(",")], args.runs))
