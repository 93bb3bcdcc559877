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


GOOD_PLAN = '{"sections": [{"sectionName": "A", "durationMs": 4000}]}'
API_FIELD_NAMES = ("music_length_ms", "output_format", "force_instrumental", "composition_plan")


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
    assert "Suggested prompt: An original French house song\n" in err
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
    assert err == "error: --length 601: a track lasts 3 to 600 seconds\n"
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
        (["lofi", "--length", "0"], "--length 0: a track lasts 3 to 600 seconds"),
        (["lofi", "--length", "2.5"], "--length 2.5: a track lasts 3 to 600 seconds"),
        (["--plan", "plan.json", "--seed", "-1"], "--seed must be 0 to 2147483647"),
        (["lofi", "--format", "mp3_44100_999"], "--format mp3_44100_999 is not an output format"),
        (["lofi", "--length", "abc"], "--length: 'abc' is not a number of seconds"),
        (["--plan", "plan.json", "--length", "20"], "a plan sets its own length"),
        (["lofi", "--plan", "plan.json"], "give a prompt or --plan, not both"),
        (["--plan", "plan.json", "--instrumental"], "--instrumental only goes with a prompt"),
        ([], "give a prompt to compose, or --plan FILE"),
        (["lofi\x07beat"], "U+0007"),
    ],
)
async def test_compose_refuses_what_the_api_would_refuse_and_sends_nothing(
    sandbox: RunningSandbox, workdir: Path, args: list[str], says: str
) -> None:
    (workdir / "plan.json").write_text(GOOD_PLAN)
    code, _, err = await run_cli("compose", *args, env=sandbox_env(sandbox), cwd=workdir)
    assert code == 2
    assert says in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    assert not any(name in err for name in API_FIELD_NAMES), err
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


async def test_unknown_format_lists_the_valid_formats(
    sandbox: RunningSandbox, workdir: Path
) -> None:
    code, _, err = await run_cli(
        "compose", "lofi", "--format", "mp3_9", env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 2 and err.count("\n") == 1, err
    assert "mp3_44100_128" in err and "pcm_48000" in err and "opus_48000_192" in err
    assert not sandbox.sandbox.requests


async def test_help_lists_formats_and_says_what_happens_to_an_existing_track(
    workdir: Path,
) -> None:
    code, out, _ = await run_cli("compose", "--help", env={}, cwd=workdir)
    assert code == 0
    text = " ".join(out.split())
    assert "mp3_44100_128" in text and "pcm_48000" in text and "opus_48000_192" in text
    assert "track-2.mp3" in text
    assert "a plan sets its own length" in text


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (
            '{"sections": [\n  {"sectionName": "A",\n    "durationMs": 4000,}\n]}',
            "bad.json: not valid JSON (line 3, column 24)",
        ),
        (
            '[{"sectionName": "A", "durationMs": 4000}]',
            "bad.json: a plan is a JSON object with `sections` (music_v1) or `chunks` (music_v2)",
        ),
        ('{"sections": []}', "bad.json: the plan has no sections; it needs at least 1"),
        (
            '{"sections": [{"sectionName": "A", "durationMs": 1000}]}',
            "bad.json: section 1: duration 1 s is shorter than 3 s",
        ),
        (
            '{"chunks": [{"text": "[Intro]", "durationMs": 130000}]}',
            "bad.json: chunk 1: duration 130 s is longer than 120 s",
        ),
        (
            '{"sections": [{"durationMs": 5000}]}',
            "bad.json: section 1: name (sectionName) is missing",
        ),
    ],
)
async def test_a_bad_plan_names_the_place_and_the_reason(
    sandbox: RunningSandbox, workdir: Path, content: str, says: str
) -> None:
    (workdir / "bad.json").write_text(content)
    code, _, err = await run_cli(
        "compose", "--plan", "bad.json", env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 2
    assert err.startswith(f"error: {says}"), err
    assert err.count("\n") == 1 and "tagged-union" not in err and "Traceback" not in err
    assert not sandbox.sandbox.requests


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("missing/x.mp3", "cannot write missing/x.mp3: there is no folder missing"),
        ("a-file/x.mp3", "cannot write a-file/x.mp3: a-file is not a folder"),
        ("a-folder", "cannot write a-folder: it is a folder"),
    ],
)
async def test_out_is_checked_before_anything_is_spent(
    sandbox: RunningSandbox, workdir: Path, out: str, says: str
) -> None:
    (workdir / "a-file").write_text("x")
    (workdir / "a-folder").mkdir()
    code, _, err = await run_cli(
        "compose", "lofi", "--length", "3", "--out", out, env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 2
    assert err == f"error: {says}\n"
    assert not sandbox.sandbox.requests


async def test_the_default_track_is_never_overwritten(
    sandbox: RunningSandbox, workdir: Path
) -> None:
    (workdir / "track.mp3").write_bytes(b"my earlier track")
    (workdir / "track-2.mp3").write_bytes(b"and another")
    code, out, err = await run_cli(
        "compose", "lofi", "--length", "3", env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 0, err
    assert (workdir / "track.mp3").read_bytes() == b"my earlier track"
    assert (workdir / "track-2.mp3").read_bytes() == b"and another"
    assert mp3_seconds((workdir / "track-3.mp3").read_bytes()) == pytest.approx(3.0, abs=0.1)
    assert "wrote track-3.mp3" in out


async def test_a_plan_picks_the_model_of_its_shape(sandbox: RunningSandbox, workdir: Path) -> None:
    (workdir / "v2.json").write_text('{"chunks": [{"text": "[Intro]", "durationMs": 3000}]}')
    code, _, err = await run_cli(
        "compose", "--plan", "v2.json", "--out", "v2.mp3", env=sandbox_env(sandbox), cwd=workdir
    )
    assert code == 0, err
    assert sandbox.sandbox.requests[-1].body["model_id"] == "music_v2_5"
