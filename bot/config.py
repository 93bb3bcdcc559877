"""Settings from the environment and `.env`: the only place the bot reads its configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.music import PUBLIC_API_URL
from bot.music.models import DEFAULT_MODEL, ModelId
from bot.store.quotas import Budgets

DEFAULT_DATABASE_URL = "sqlite:///data/bot.db"
# The REST API version discord.py speaks; DISCORD_API_BASE_URL must name it.
DISCORD_API_SUFFIX = "/api/v10"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `NAME=` (as .env.example has them) means "not set", not an empty value.
        env_ignore_empty=True,
        # Secrets must not leak through a validation error that echoes the raw input.
        hide_input_in_errors=True,
    )

    discord_token: SecretStr | None = None
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = PUBLIC_API_URL
    music_model_id: ModelId = DEFAULT_MODEL
    music_concurrency: int = Field(default=2, ge=1, le=1000)
    # Store songs for inpainting (an ElevenLabs enterprise feature): enables Extend and Redo.
    music_inpainting: bool = False
    plans_per_minute: int = Field(default=5, ge=1, le=600)
    # A jam starts the next track's stream this long before the playing one is due to end
    # (longer than the API's time to first byte); 0 asks for it only once voice is free.
    jam_prefetch_seconds: float = Field(default=15, ge=0, le=25)
    # A jam leaves its voice channel after this long with nobody listening.
    jam_idle_seconds: float = Field(default=120, ge=1, le=24 * 3600)
    # The servers the bot may work in (ids, comma-separated); empty: every server.
    allowed_guilds: Annotated[frozenset[int], NoDecode] = frozenset()
    database_url: str = DEFAULT_DATABASE_URL
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    # Sharding: how many shards the bot has, and which this process runs (`0,2-3`). Unset: one
    # process runs every shard Discord recommends. Several processes: the same count in each,
    # and each shard in exactly one process.
    discord_shard_count: int | None = Field(default=None, ge=1, le=65536)
    discord_shard_ids: str | None = None
    default_quota_tracks: int = Field(default=5, ge=0)
    default_quota_seconds: int = Field(default=600, ge=0)
    quota_window_hours: int = Field(default=24, ge=1, le=24 * 31)
    # The operator's ceilings, in seconds of music per rolling 24 h, above any server's quota
    # settings (exempt members included); unset or empty: no limit. The bot's budget counts
    # every server and process: it is what the one ElevenLabs key may be billed for a day.
    music_budget_seconds_per_day: int | None = Field(default=None, ge=0)
    guild_max_seconds_per_day: int | None = Field(default=None, ge=0)
    # A job whose process stops renewing it for this long is interrupted and refunded.
    job_lease_seconds: float = Field(default=60, ge=1, le=3600)
    # Where the bot keeps what lasts across restarts (its SQLite file by default, its id).
    data_dir: Path = Path("data")
    # On SIGTERM/SIGINT, how long composes already running may take to deliver. Under
    # `docker stop`'s default 10 s before SIGKILL.
    shutdown_grace_seconds: float = Field(default=8, ge=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # /healthz and /metrics (Prometheus) on this port; off when unset.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("elevenlabs_base_url", "discord_api_base_url", "discord_gateway_url")
    @classmethod
    def _url_without_trailing_slash(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return PUBLIC_API_URL if info.field_name == "elevenlabs_base_url" else None
        if not value.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("must be an http(s):// or ws(s):// URL")
        return value.rstrip("/")

    @field_validator("discord_api_base_url")
    @classmethod
    def _discord_api_version(cls, value: str | None) -> str | None:
        # discord.py appends paths like /users/@me to this base; without the version every
        # request is a 404. Appending it silently would hide a typo in a proxy's address.
        if value is not None and not value.endswith(DISCORD_API_SUFFIX):
            raise ValueError(
                f"must end in {DISCORD_API_SUFFIX}, e.g. http://127.0.0.1:8080{DISCORD_API_SUFFIX}"
            )
        return value

    @field_validator("allowed_guilds", mode="before")
    @classmethod
    def _guild_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        ids = [part for part in value.replace(",", " ").split() if part]
        if not all(part.isdigit() for part in ids):
            raise ValueError("must be server ids separated by commas, like 123,456")
        return frozenset(int(part) for part in ids)

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        count = info.data.get("discord_shard_count")
        if count is None:
            raise ValueError("needs DISCORD_SHARD_COUNT (the same number in every process)")
        parse_shard_ids(value, count)
        return value

    def shard_ids(self) -> list[int] | None:
        """This process's shards; None when Discord's recommendation decides (all of them)."""
        if self.discord_shard_count is None:
            return None
        if self.discord_shard_ids is None:
            return list(range(self.discord_shard_count))
        return parse_shard_ids(self.discord_shard_ids, self.discord_shard_count)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return database_url(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    def budgets(self) -> Budgets:
        """The ceilings for `QuotaLedger(..., budgets=settings.budgets())`."""
        return Budgets(
            bot_seconds_per_day=self.music_budget_seconds_per_day,
            guild_seconds_per_day=self.guild_max_seconds_per_day,
        )

    def require_discord_token(self) -> SecretStr:
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise ConfigError(
                "DISCORD_TOKEN is not set: put the bot token in the environment or .env"
            )
        return self.discord_token


def parse_shard_ids(value: str, count: int) -> list[int]:
    """`0,2-4` -> [0, 2, 3, 4]: ids and inclusive ranges, each below `count`, each once."""
    ids: list[int] = []
    for part in (p.strip() for p in value.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise ValueError(f"{part!r} is not an id or a range a-b")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        for shard in range(first, last + 1):
            if shard >= count:
                raise ValueError(f"shard {shard} is not below DISCORD_SHARD_COUNT ({count})")
            if shard in ids:
                raise ValueError(f"shard {shard} is listed twice")
            ids.append(shard)
    return sorted(ids)


def database_url(value: str) -> str:
    """The URL the store opens: SQLite, or PostgreSQL through asyncpg (`postgres://` and
    `postgresql://`, as hosting providers print them, mean that too). Errors never echo the
    value: it may hold a password."""
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "is not a database URL: use sqlite:///data/bot.db or "
            "postgresql://user:password@host/database"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return value
    if backend not in ("postgresql", "postgres"):
        raise ValueError(
            f"{backend} is not supported: use SQLite (sqlite:///…) or PostgreSQL (postgresql://…)"
        )
    if url.drivername.partition("+")[2] not in ("", "asyncpg"):
        raise ValueError("PostgreSQL is reached through asyncpg: use postgresql+asyncpg://…")
    if not url.host or not url.database:
        raise ValueError("a PostgreSQL URL needs a host and a database: postgresql://…@host/db")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def load_settings() -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
