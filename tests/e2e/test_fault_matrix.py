"""Every fault a compose can meet, and what it leaves behind.

For each one: what the member reads, what the quota ledger holds (charged only for a delivered
track, nothing left reserved), the job row, and that the track was delivered exactly once or
not at all, with the API called only as often as the retry rules allow.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import MusicBot
from bot.store.schema import jobs, quota_usage
from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import finished
from tests.e2e.test_process import bot_env, database_rows, start_process
from tests.fakes.discord_server import ALICE, FakeDiscord


@dataclass(frozen=True)
class Fault:
    prompt: str
    says: str
    delivered: bool
    api_calls: int
    setup: Callable[[FakeDiscord], None] = field(default=lambda fake: None)
    read_timeout: float | None = None
    # Where the member reads the outcome: the interaction's message, or a channel post.
    in_channel: bool = False


def expire_tokens(fake: FakeDiscord) -> None:
    fake.token_lifetime = 0.6


def expire_tokens_and_deny_posts(fake: FakeDiscord) -> None:
    fake.token_lifetime = 0.6
    fake.deny_channel_posts = True


FAULTS = {
    "api_401": Fault("lofi fault:unauthorized", "API key was refused", False, 1),
    "api_402": Fault("lofi fault:payment", "paid plan", False, 1),
    "api_quota": Fault("lofi fault:quota", "out of credits", False, 1),
    "api_422": Fault("lofi fault:invalid", "could not accept this request", False, 1),
    "api_429_then_ok": Fault("lofi fault:rate_limit:1", "", True, 2),
    "api_429_persists": Fault(
        "lofi fault:rate_limit", "busy right now. Try again in 1 s", False, 3
    ),
    "api_500": Fault("lofi fault:server_error", "had an error", False, 1),
    "api_503_then_ok": Fault("lofi fault:unavailable:1", "", True, 2),
    "api_503_persists": Fault("lofi fault:unavailable", "busy right now", False, 3),
    "api_read_timeout": Fault(
        "lofi fault:slow:3", "could not be reached", False, 1, read_timeout=0.5
    ),
    "api_stream_cut": Fault("lofi fault:cut", "cut off before it finished", False, 1),
    "api_200_not_mp3": Fault("lofi fault:html", "audio that can't be played", False, 1),
    "api_200_too_short": Fault("lofi fault:short", "audio that can't be played", False, 1),
    "discord_429_on_upload": Fault(
        "lofi", "", True, 1, setup=lambda fake: fake.fail_once("PATCH", r"/messages/@original$")
    ),
    "discord_413_on_upload": Fault(
        "lofi",
        "Discord refused the upload",
        False,
        1,
        setup=lambda fake: setattr(fake, "upload_cap", 10_000),
    ),
    "expired_token": Fault(
        "lofi fault:slow:1", "your track is ready", True, 1, setup=expire_tokens, in_channel=True
    ),
    "expired_token_and_50013": Fault(
        "lofi fault:slow:1", "", False, 1, setup=expire_tokens_and_deny_posts, in_channel=True
    ),
}


async def ledger(bot: MusicBot) -> list[str]:
    return await bot.services.database.read(
        lambda connection: list(connection.execute(select(quota_usage.c.state)).scalars())
    )


async def job_states(bot: MusicBot) -> list[str]:
    return await bot.services.database.read(
        lambda connection: list(connection.execute(select(jobs.c.state)).scalars())
    )


def audio_messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.messages.values() if m["attachments"]]


@pytest.mark.parametrize("name", list(FAULTS))
async def test_fault(
    name: str, start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    fault = FAULTS[name]
    bot = await start_bot(read_timeout=fault.read_timeout)
    settled = watch_settling(bot)
    fault.setup(discord_fake)
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": fault.prompt, "length": 4}
    )

    await asyncio.wait_for(settled.wait(), 20)
    states = await job_states(bot)
    assert states == ["done" if fault.delivered else "failed"]
    assert await ledger(bot) == ["committed" if fault.delivered else "refunded"]

    if fault.in_channel:
        posts = [m for m in discord_fake.messages.values() if m["type"] == 0]
        if fault.says:
            (post,) = posts
            assert post["content"].startswith(f"<@{ALICE.id}> {fault.says}")
        else:
            assert posts == [], "nothing could be posted"
            assert all(
                r.status == 403 for r in discord_fake.sent("POST", r"/channels/\d+/messages$")
            )
    else:
        message = await finished(discord_fake, interaction)
        if fault.says:
            assert fault.says in message["content"]
            assert "Nothing was taken from your quota" in message["content"]
            assert "fault:" not in message["content"]

    delivered = audio_messages(discord_fake)
    assert len(delivered) == (1 if fault.delivered else 0), "exactly once, or not at all"
    if fault.delivered:
        (message,) = delivered
        audio = discord_fake.attachments[int(message["attachments"][0]["id"])]
        assert mp3_seconds(audio) == pytest.approx(4, abs=0.15)
    assert len(sandbox.sandbox.compose_requests()) == fault.api_calls


def watch_settling(bot: MusicBot) -> asyncio.Event:
    """An event set once the bot has settled a job (its row and its quota, together)."""
    settled = asyncio.Event()
    finish = bot.services.composer.finish

    async def finish_and_tell(job_id: str, *, delivered: bool, error: str | None = None) -> None:
        await finish(job_id, delivered=delivered, error=error)
        settled.set()

    bot.services.composer.finish = finish_and_tell  # type: ignore[method-assign]
    return settled


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "stopped"])
async def test_process_stopped_mid_job(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path, stop: signal.Signals
) -> None:
    """The last row of the matrix: the process dies while the API composes."""
    env = bot_env(
        discord_fake,
        sandbox,
        JOB_LEASE_SECONDS="1",
        DEFAULT_QUOTA_TRACKS="1",
        SHUTDOWN_GRACE_SECONDS="0.5",
    )
    first = await start_process(env, workdir)
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        await discord_fake.slash(
            ALICE, "music", "compose", {"prompt": "lofi fault:slow:30", "length": 3}
        )
        await asyncio.wait_for(sandbox.sandbox.generation_started.wait(), 20)
    finally:
        first.send_signal(stop)  # SIGKILL: no clean-up of any kind; SIGINT: a clean shutdown
        await first.wait()

    discord_fake.identified.clear()
    second = await start_process(env, workdir)
    try:
        notice = await discord_fake.wait_for(
            lambda: discord_fake.message_with_custom_id("music:retry:"), timeout=20
        )
        assert notice["content"].startswith(f"<@{ALICE.id}>")
        assert "interrupted" in notice["content"]
        assert "Nothing was taken from your quota" in notice["content"]
        assert notice["allowed_mentions"] == {"parse": [], "users": [ALICE.id]}
        assert database_rows(workdir, "SELECT state FROM jobs") == [("interrupted",)]
        assert database_rows(workdir, "SELECT state FROM quota_usage") == [("refunded",)]
        assert audio_messages(discord_fake) == []
        notices = [m for m in discord_fake.messages.values() if "interrupted" in m["content"]]
        assert len(notices) == 1, "told once, not once per process"

        # The quota was given back, so the retry (1 track allowed) composes again.
        await discord_fake.wait_for(discord_fake.identified.is_set, timeout=20)
        sandbox.sandbox.generation_started.clear()
        custom_id = notice["components"][0]["components"][0]["custom_id"]
        await discord_fake.click(ALICE, notice, custom_id)
        await asyncio.wait_for(sandbox.sandbox.generation_started.wait(), 20)
        assert [r.body["prompt"] for r in sandbox.sandbox.compose_requests()] == [
            "lofi fault:slow:30"
        ] * 2
    finally:
        second.send_signal(signal.SIGINT)
        await asyncio.wait_for(second.communicate(), 20)


async def test_process_killed_after_discord_stored_the_track(
    discord_fake: FakeDiscord, sandbox: RunningSandbox, workdir: Path
) -> None:
    """The process dies after Discord stored the upload but before the bot recorded it: the
    restart finds the track in the channel, charges it once and says nothing of a failure."""
    env = bot_env(discord_fake, sandbox)
    first = await start_process(env, workdir)
    try:
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        discord_fake.on_upload = first.kill
        await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
        await asyncio.wait_for(first.wait(), 20)
    finally:
        discord_fake.on_upload = None
        if first.returncode is None:
            first.kill()
    (track,) = audio_messages(discord_fake)

    discord_fake.identified.clear()
    second = await start_process(env, workdir)
    try:
        # Recovery runs before the bot connects to the gateway.
        await asyncio.wait_for(discord_fake.identified.wait(), 20)
        assert database_rows(workdir, "SELECT state FROM jobs") == [("done",)]
        assert database_rows(workdir, "SELECT state FROM quota_usage") == [("committed",)]
        assert not [m for m in discord_fake.messages.values() if "interrupted" in m["content"]]
        assert audio_messages(discord_fake) == [track]
        assert len(sandbox.sandbox.compose_requests()) == 1
    finally:
        second.send_signal(signal.SIGINT)
        await asyncio.wait_for(second.communicate(), 20)
