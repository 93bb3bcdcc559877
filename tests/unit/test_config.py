"""Settings read the way a server admin writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings


def test_empty_lines_copied_from_env_example_mean_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DISCORD_TOKEN", "ELEVENLABS_API_KEY", "METRICS_PORT", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    env.write_text("DISCORD_TOKEN=\nELEVENLABS_API_KEY=\nMETRICS_PORT=\nLOG_FORMAT=JSON\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.discord_token is None and settings.elevenlabs_api_key is None
    assert settings.metrics_port is None
    assert settings.log_format == "json"


def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "ninety")
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token-value")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "METRICS_PORT" in str(raised.value)
    assert "secret-token-value" not in str(raised.value) and "ninety" not in str(raised.value)


def test_budgets_parse_from_the_environment_and_empty_means_no_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MUSIC_BUDGET_SECONDS_PER_DAY", "3600")
    monkeypatch.setenv("GUILD_MAX_SECONDS_PER_DAY", "900")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.music_budget_seconds_per_day == 3600
    assert settings.guild_max_seconds_per_day == 900
    budgets = settings.budgets()
    assert (budgets.bot_seconds_per_day, budgets.guild_seconds_per_day) == (3600, 900)

    monkeypatch.setenv("MUSIC_BUDGET_SECONDS_PER_DAY", "")
    monkeypatch.delenv("GUILD_MAX_SECONDS_PER_DAY")
    unset = Settings(_env_file=None)  # type: ignore[call-arg]
    assert unset.music_budget_seconds_per_day is None
    assert unset.guild_max_seconds_per_day is None
    assert unset.budgets().bot_seconds_per_day is None


def test_a_negative_budget_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUILD_MAX_SECONDS_PER_DAY", "-5")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "GUILD_MAX_SECONDS_PER_DAY" in str(raised.value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("http://127.0.0.1:8080/api/v10", "http://127.0.0.1:8080/api/v10"),
        ("https://proxy.example/api/v10/", "https://proxy.example/api/v10"),
    ],
)
def test_discord_api_base_url_with_its_version_is_kept(
    monkeypatch: pytest.MonkeyPatch, given: str, kept: str
) -> None:
    monkeypatch.setenv("DISCORD_API_BASE_URL", given)
    assert load_settings().discord_api_base_url == kept


@pytest.mark.parametrize(
    "given", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/", "https://proxy.example/api/v9"]
)
def test_discord_api_base_url_without_api_v10_is_one_line_saying_so(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("DISCORD_API_BASE_URL", given)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: DISCORD_API_BASE_URL:")
    assert "must end in /api/v10" in message


def test_allowed_guilds_parse_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_GUILDS", "123, 456,789")
    assert load_settings().allowed_guilds == frozenset({123, 456, 789})
    monkeypatch.setenv("ALLOWED_GUILDS", "")
    assert load_settings().allowed_guilds == frozenset()
    monkeypatch.setenv("ALLOWED_GUILDS", "123,my-server")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "ALLOWED_GUILDS" in str(raised.value) and "\n" not in str(raised.value)


def test_shards_are_ids_and_ranges_out_of_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "8")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0, 2-4,7")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_shard_count == 8
    assert settings.shard_ids() == [0, 2, 3, 4, 7]


def test_without_shard_settings_one_process_runs_every_recommended_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_shard_count is None and settings.shard_ids() is None
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "3")
    assert Settings(_env_file=None).shard_ids() == [0, 1, 2]  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("count", "ids", "says"),
    [
        (None, "0", "DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT"),
        ("2", "2", "DISCORD_SHARD_IDS: shard 2 is not below DISCORD_SHARD_COUNT (2)"),
        ("4", "1,1", "DISCORD_SHARD_IDS: shard 1 is listed twice"),
        ("4", "3-1", "DISCORD_SHARD_IDS: '3-1' is not an id or a range a-b"),
        ("4", "one", "DISCORD_SHARD_IDS: 'one' is not an id or a range a-b"),
        ("0", None, "DISCORD_SHARD_COUNT"),
    ],
)
def test_bad_shard_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, says: str
) -> None:
    for name, value in (("DISCORD_SHARD_COUNT", count), ("DISCORD_SHARD_IDS", ids)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert says in str(raised.value)


def test_the_current_model_is_the_default_and_v1_stays_a_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MUSIC_MODEL_ID", raising=False)
    assert Settings(_env_file=None).music_model_id == "music_v2_5"  # type: ignore[call-arg]
    monkeypatch.setenv("MUSIC_MODEL_ID", "music_v1")
    assert Settings(_env_file=None).music_model_id == "music_v1"  # type: ignore[call-arg]
