"""`python -m bot ...` as a user runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


def sandbox_env(sandbox: RunningSandbox) -> dict[str, str]:
    return {"ELEVENLABS_API_KEY": "test-key", "ELEVENLABS_BASE_URL": sandbox.url}


async def test_compose_writes_a_playable_mp3(sandbox: RunningSandbox, workdir: Path) -> None:
    code, out, err = await run_cli(
        "compose",
        "lofi beat",
        "--length",
        "5",
        "--out",
        "x.mp3",
        env=sandbox_env(sandbox),
        cwd=workdir,
    )
    assert code == 0, err
    assert mp3_seconds((workdir / "x.mp3").read_bytes()) == pytest.approx(5.0, abs=0.1)
    assert "wrote x.mp3" in out


async def test_compose_prints_the_suggestion(sandbox: RunningSandbox, workdir: Path) -> None:
    code, _, err = await run_cli(
        "compose",
        "a song like daft punk",
        "--length",
        "5",
        "--out",
        "x.mp3",
        env=sandbox_env(sandbox),
        cwd=workdir,
    )
    assert code == 3
    assert "Suggested prompt: An original a song" in err
    assert not (workdir / "x.mp3").exists()


async def test_compose_with_plan_and_detailed(sandbox: RunningSandbox, workdir: Path) -> None:
    (workdir / "plan.json").write_text(
        '{"positiveGlobalStyles": ["jazz"], "sections": ['
        '{"sectionName": "A", "durationMs": 4000}, {"sectionName": "B", "durationMs": 3000}]}'
    )
    code, out, err = await run_cli(
        "compose",
        "--plan",
        "plan.json",
        "--detailed",
        "--out",
        "p.mp3",
        env=sandbox_env(sandbox),
        cwd=workdir,
    )
    assert code == 0, err
    assert '"title": "Jazz"' in out
    assert mp3_seconds((workdir / "p.mp3").read_bytes()) == pytest.approx(7.0, abs=0.1)


async def test_cut_stream_leaves_no_file(sandbox: RunningSandbox, workdir: Path) -> None:
    code, _, err = await run_cli(
        "compose",
        "lofi fault:cut",
        "--length",
        "10",
        "--out",
        "x.mp3",
        env=sandbox_env(sandbox),
        cwd=workdir,
    )
    assert code == 2
    assert "stopped before the end" in err
    assert not (workdir / "x.mp3").exists()


async def test_bad_input_is_one_line_and_sends_nothing(
    sandbox: RunningSandbox, workdir: Path
) -> None:
    code, _, err = await run_cli(
        "compose", "lofi", "--length", "601", env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 2
    assert err.count("\n") == 1 and "music_length_ms" in err
    assert not sandbox.sandbox.requests


async def test_malformed_setting_names_the_variable_not_the_value(workdir: Path) -> None:
    code, _, err = await run_cli(
        "compose", "lofi", env={"MUSIC_CONCURRENCY": "lots-secret-ish"}, cwd=workdir
    )
    assert code != 0
    assert "MUSIC_CONCURRENCY" in err
    assert "lots-secret-ish" not in err
    assert "Traceback" not in err


async def test_run_without_discord_token_is_one_clear_line(workdir: Path) -> None:
    code, _out, err = await run_cli("run", env={}, cwd=workdir)
    assert code != 0
    assert err.strip().count("\n") == 0
    assert "DISCORD_TOKEN" in err and "Traceback" not in err


async def test_unwritable_output_is_one_line(sandbox: RunningSandbox, workdir: Path) -> None:
    code, _, err = await run_cli(
        "compose",
        "lofi",
        "--length",
        "3",
        "--out",
        "missing/dir/x.mp3",
        env=sandbox_env(sandbox),
        cwd=workdir,
    )
    assert code == 2
    assert err.startswith("error: cannot write missing/dir/x.mp3") and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["lofi", "--seed", "5"], "a seed only goes with a composition plan"),
        (["lofi", "--length", "0"], "music_length_ms"),
        (["lofi\x07beat"], "U+0007"),
    ],
)
async def test_compose_refuses_what_the_api_would_refuse_and_sends_nothing(
    sandbox: RunningSandbox, workdir: Path, args: list[str], says: str
) -> None:
    code, _, err = await run_cli("compose", *args, env=sandbox_env(sandbox), cwd=workdir)
    assert code == 2
    assert says in err and "Traceback" not in err
    assert not sandbox.sandbox.requests


@pytest.mark.parametrize("verb", ["run", "sync"])
async def test_discord_api_base_url_without_api_v10_is_one_line(workdir: Path, verb: str) -> None:
    code, out, err = await run_cli(
        verb,
        env={"DISCORD_TOKEN": "not-a-real-token", "DISCORD_API_BASE_URL": "http://127.0.0.1:1"},
        cwd=workdir,
    )
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: invalid configuration: DISCORD_API_BASE_URL")
    assert "/api/v10" in err and "not-a-real-token" not in err + out
