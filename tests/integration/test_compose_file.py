"""compose.yaml, checked without a Docker engine: PostgreSQL and one process per shard, each
configured the way the bot reads it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolate(value: str) -> str:
    """Compose's `${NAME}` / `${NAME:?message}` with a sample password."""
    return re.sub(r"\$\{POSTGRES_PASSWORD(:\?[^}]*)?\}", "pw", value)


def shard_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "DISCORD_SHARD_IDS" in (service.get("environment") or {})
    }


def test_postgres_and_one_process_per_shard(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"]
    shards = shard_services(compose)
    assert len(shards) == 2
    covered: list[int] = []
    for service in shards.values():
        env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
        assert env["DISCORD_SHARD_COUNT"] == "2"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discord_shard_count=env["DISCORD_SHARD_COUNT"],
            discord_shard_ids=env["DISCORD_SHARD_IDS"],
            database_url=env["DATABASE_URL"],
        )
        ids = settings.shard_ids()
        assert ids is not None
        covered += ids
        assert make_url(settings.database_url).host == "postgres", "the postgres service"
        assert service["restart"] == "unless-stopped"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert sorted(covered) == [0, 1], "every shard in exactly one process"


def test_each_process_keeps_its_own_data_and_metrics_stay_on_loopback(
    compose: dict[str, Any],
) -> None:
    shards = shard_services(compose)
    volumes = [tuple(s["volumes"]) for s in shards.values()]
    assert len(set(volumes)) == len(volumes), "its own DATA_DIR: its own lasting id"
    ports = [port for s in shards.values() for port in s.get("ports", [])]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)
    assert compose["services"]["postgres"].get("ports") is None, "the database stays inside"
