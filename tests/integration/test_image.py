"""The container image, checked without a Docker engine: its build stage is replayed on a copy
of exactly the files it copies, and the result must run the bot with runtime dependencies only.
(hadolint lints the Dockerfile in .ci/run.)"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def test_runtime_stage_is_slim_non_root_with_data_volume_and_healthcheck() -> None:
    build, runtime = stages((ROOT / "Dockerfile").read_text())
    assert build[0] == ("FROM", "python:3.11-slim AS build")
    assert runtime[0][1].startswith("python:3.11-slim")
    found = dict(runtime)
    assert found["USER"] == "10001:10001"
    assert found["VOLUME"] == '["/app/data"]'
    assert found["ENTRYPOINT"] == '["python", "-m", "bot"]' and found["CMD"] == '["run"]'
    assert found["HEALTHCHECK"].endswith('CMD ["python", "-m", "bot", "health"]')
    assert found["COPY"] == "--from=build /app /app"


def test_the_image_installs_the_way_the_readme_does() -> None:
    (build, _) = stages((ROOT / "Dockerfile").read_text())
    runs = [args for word, args in build if word == "RUN"]
    assert runs == ["./scripts/install"]
    start = (ROOT / "scripts" / "start").read_text()
    assert '"$(dirname "$0")/install"' in start, "./scripts/start installs the same way"


async def test_replaying_the_build_stage_gives_a_bot_with_runtime_dependencies_only(
    tmp_path: Path,
) -> None:
    (build, _) = stages((ROOT / "Dockerfile").read_text())
    context = tmp_path / "app"
    context.mkdir()
    env = dict(os.environ)
    for word, args in build:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
        elif word == "COPY":
            *sources, target = shlex.split(args)
            for source in sources:
                origin = ROOT / source
                destination = context / target / (origin.name if target.endswith("/") else "")
                if origin.is_dir():
                    shutil.copytree(
                        origin, destination, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, destination)
        elif word == "RUN":
            process = await asyncio.create_subprocess_shell(
                args,
                cwd=context,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), 300)
            assert process.returncode == 0, output.decode()[-2000:]

    python = context / ".venv" / "bin" / "python"
    process = await asyncio.create_subprocess_exec(
        str(python),
        "-c",
        "import importlib.util as u, bot.app, bot.__main__; "
        "print([m for m in ('pytest', 'mypy', 'ruff', 'elevenlabs') if u.find_spec(m)])",
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "[]", "no development packages in the image"
