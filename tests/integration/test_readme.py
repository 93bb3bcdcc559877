"""The README as a new operator reads it: commands that work as written, the invite URL with
the bot's real permissions, every slash command listed, retention, troubleshooting, licence."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot.cogs.guilds import PERMISSIONS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_bot_command_outside_the_image_runs_from_the_virtualenv() -> None:
    # On the host the bot lives in .venv, so a bare `python -m bot` ends in
    # ModuleNotFoundError (inside the image, `docker run … music-bot VERB` needs no python).
    spans = re.findall(r"`([^`\n]+)`", README)
    block_lines = [
        line.strip()
        for block in re.findall(r"```sh\n([\s\S]*?)```", README)
        for line in block.splitlines()
    ]
    bare = [c for c in spans + block_lines if re.match(r"python3? -m bot\b", c)]
    assert bare == [], "commands a new operator would run outside .venv"
    verbs = set(re.findall(r"\.venv/bin/python -m bot (\w+)", README))
    assert {"run", "sync", "compose", "sandbox"} <= verbs
    for verb in sorted(verbs):
        done = subprocess.run(
            [sys.executable, "-m", "bot", verb, "--help"], capture_output=True, cwd=ROOT
        )
        assert done.returncode == 0, verb


def test_the_invite_url_has_the_permissions_the_bot_asks_for() -> None:
    (url,) = re.findall(r"https://discord\.com/oauth2/authorize\?\S+", README)
    assert f"permissions={PERMISSIONS.value}" in url
    assert "scope=bot+applications.commands" in url


async def test_every_slash_command_is_in_the_command_list() -> None:
    from bot.cogs.compose import ComposeCog
    from bot.cogs.jam import JamCog
    from bot.cogs.quota import QuotaCog

    section = README.split("## Every command", 1)[1].split("\n## ", 1)[0]
    for cog in (ComposeCog, JamCog, QuotaCog):
        group = cog.__cog_group_name__  # type: ignore[attr-defined]
        for command in cog.__cog_app_commands__:  # type: ignore[attr-defined]
            assert f"/{group} {command.name}" in section or f"`{command.name}`" in section, (
                f"/{group} {command.name}"
            )


def test_the_readme_says_what_is_kept_how_to_delete_it_and_what_to_do_when_stuck() -> None:
    assert "## What is kept, and deleting it" in README
    assert "32 days" in README and "audit log" in README and "/music forget" in README
    assert "## Troubleshooting" in README
    for symptom in ("no `/music`", "ModuleNotFoundError", "busy", "Music Generation"):
        assert symptom in README, symptom
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
