"""Memory and time of one detailed compose: our MusicClient against the official SDK.

    .venv/bin/python -m bench.client_memory [--lengths 60 600] [--runs 3]

Prints the peak Python heap (tracemalloc) and the wall time per call. The SDK's
compose_detailed buffers the whole multipart answer (and returns it as bytes); ours streams
the audio into a spooled file that moves to disk past 256 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable

from elevenlabs.client import AsyncElevenLabs

from bench._support import API_KEY, sandbox_process
from bot.music import MusicClient, build_request


async def measure(call: Callable[[], Awaitable[int]], runs: int) -> tuple[float, float, int]:
    peaks, times, size = [], [], 0
    for _ in range(runs):
        tracemalloc.start()
        started = time.perf_counter()
        size = await call()
        times.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(peaks) / 2**20, statistics.median(times), size


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", type=int, nargs="+", default=[60, 600])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    async with sandbox_process() as url:
        ours = MusicClient(API_KEY, base_url=url)
        sdk = AsyncElevenLabs(api_key=API_KEY, base_url=url)

        print(f"{'length':>7} {'client':<28} {'peak heap':>10} {'time':>8} {'audio':>10}")
        for seconds in args.lengths:
            request = build_request(prompt=f"bench {seconds}", length_s=seconds)

            async def with_ours(request=request) -> int:
                with await ours.compose_detailed(request) as track:
                    return track.size

            async def with_sdk(seconds=seconds) -> int:
                result = await sdk.music.compose_detailed(
                    prompt=f"bench {seconds}",
                    music_length_ms=seconds * 1000,
                    output_format="mp3_44100_128",
                )
                return len(result.audio)

            await with_ours()  # warm the sandbox's render cache: both read the same bytes
            for name, call in (("elevenlabs SDK (baseline)", with_sdk), ("MusicClient", with_ours)):
                peak, wall, size = await measure(call, args.runs)
                print(
                    f"{seconds:>6}s {name:<28} {peak:>7.2f} MiB {wall:>7.3f}s "
                    f"{size / 2**20:>7.2f} MiB"
                )
        await ours.aclose()


if __name__ == "__main__":
    asyncio.run(main())
