"""The container image, checked without a Docker engine: its build stage is replayed on a copy
of exactly the files it copies, and the result must run the bot with runtime dependencies only.
(hadolint lints the Dockerfile in .ci/run.)"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest

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
    assert runs == ["./scripts/install --deps-only", "./scripts/install --no-deps"]
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


def docker_env_file(text: str, *, uncommented: bool) -> dict[str, str]:
    """What `docker run --env-file` reads: KEY=VALUE taken verbatim, `#` lines ignored. With
    `uncommented`, also the `# KEY=VALUE` examples, as a user uncommenting them would."""
    found = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        example = re.fullmatch(r"#\s?([A-Z][A-Z0-9_]*=.*)", stripped)
        if example and uncommented:
            stripped = example.group(1)
        if not stripped or stripped.startswith("#"):
            continue
        key, _, value = stripped.partition("=")
        found[key] = value
    return found


def test_env_example_works_with_docker_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings

    text = (ROOT / ".env.example").read_text()
    assert docker_env_file(text, uncommented=False).keys() >= {
        "DISCORD_TOKEN",
        "ELEVENLABS_API_KEY",
    }
    values = docker_env_file(text, uncommented=True)
    assert len(values) >= 20
    for key in list(os.environ):
        if key in Settings.model_fields or key.lower() in Settings.model_fields:
            monkeypatch.delenv(key)
    # Read by compose.yaml (the PostgreSQL service), not by the bot.
    compose_only = {"POSTGRES_PASSWORD"}
    for key, value in values.items():
        if key in compose_only:
            continue
        assert key.lower() in Settings.model_fields, f"{key} is not a setting"
        assert value == value.strip() and "#" not in value, f"{key}={value!r}"
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == Path("data")
    assert settings.metrics_host == "127.0.0.1"


def test_the_build_copies_the_code_only_after_installing_the_dependencies() -> None:
    (build, _) = stages((ROOT / "Dockerfile").read_text())
    copies = [i for i, (word, args) in enumerate(build) if word == "COPY"]
    code = next(i for i in copies if shlex.split(build[i][1])[0] == "bot")
    deps = next(i for i, (word, args) in enumerate(build) if word == "RUN")
    assert deps < code, "the dependency layer must not depend on bot/"
    assert all("bot" not in shlex.split(build[i][1])[:-1] for i in copies if i < deps)
    assert build[deps] == ("RUN", "./scripts/install --deps-only")
    assert build[code + 1] == ("RUN", "./scripts/install --no-deps")


def test_metrics_stay_on_loopback_unless_asked() -> None:
    (_, runtime) = stages((ROOT / "Dockerfile").read_text())
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert "METRICS_PORT=9100" in env, "the HEALTHCHECK asks /healthz over loopback"
    assert "METRICS_HOST" not in env
    readme = (ROOT / "README.md").read_text()
    run = next(line for line in readme.splitlines() if "docker run -d" in line)
    assert "--restart unless-stopped" in run
    assert "-p 9100:9100" not in readme and "-p 127.0.0.1:9100:9100" in readme


def test_the_licence_is_declared() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "2026" in licence
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
