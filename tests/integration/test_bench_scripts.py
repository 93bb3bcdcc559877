"""Every benchmark script, run small, so none of them rots. Figures are printed, never judged
here: timings belong in bench/RESULTS.md, not in assertions."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.databases import database_url
from tests.e2e.test_process import ROOT

RUNS = {
    "overhead": [
        *("--generation", "0.2", "--length", "3", "--counts", "1,3", "--samples", "2"),
        *("--probes", "2", "--load", "3", "--stream", "0.5"),
    ],
    "memory": ["--tracks", "3", "--length", "5", "--stream", "0.5"],
    "quota_rate": ["--reservations", "60", "--members", "6", "--tasks", "4"],
    "jam": ["--members", "4", "--generation", "0.1", "--length", "3"],
    "client_memory": ["--lengths", "5", "--runs", "1"],
    "voice": ["--length", "3", "--generation", "1", "--runs", "1"],
    "jams": ["--counts", "2", "--length", "8"],
}
EXPECTED = {
    "overhead": ["[bot]", "[naive]", "overhead", "while streaming"],
    "memory": ["bot    peak RSS", "naive  peak RSS", "bot / naive"],
    "quota_rate": ["sqlite", "reservations/s"],
    "jam": ["through the bot", "first answer"],
    "client_memory": ["MusicClient"],
    "voice": ["[bot  ] command -> first audio", "[naive] API first byte -> first audio"],
    "jams": ["2 jams: CPU", "underrun frames", "late packets"],
}


@pytest.mark.parametrize("script", list(RUNS))
async def test_benchmark_runs(script: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", f"bench.{script}", *RUNS[script]),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()[-3000:]
    for label in EXPECTED[script]:
        assert label in out.decode(), out.decode()
    if script == "quota_rate" and os.environ.get("TEST_POSTGRES_URL"):
        assert "postgresql" in out.decode()


async def test_the_jam_benchmark_runs_across_two_processes(tmp_path: Path) -> None:
    async with database_url("postgresql", tmp_path) as url:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.jam", *RUNS["jam"]),
            *("--database-url", url, "--processes", "1", "2"),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()[-3000:]
    assert "through the bot" in out.decode() and "through 2 bot processes" in out.decode()
