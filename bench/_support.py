"""Shared helpers for the benchmark scripts: a sandbox in its own process, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[str]:
    """The music sandbox in a separate process, so its CPU and memory are not measured."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        "--api-key",
        API_KEY,
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


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000) -> str:
    if not values:
        return "-"
    ordered = sorted(v * scale for v in values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):7.1f} {unit}  p95 {p95:7.1f} {unit}  "
        f"max {ordered[-1]:7.1f} {unit}"
    )


def rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
