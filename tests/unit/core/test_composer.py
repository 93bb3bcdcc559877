"""The Composer's own shutdown: stop() must end its background tasks."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.core.composer import ComposeJob, Composer
from bot.music import MusicClient, build_request
from bot.store.jobs import JobStore
from tests.databases import open_database
from tests.unit.core.conftest import Listener


def _awaits_wait_for(task: asyncio.Task[None]) -> bool:
    """Whether the dispatcher is polling: waiting for a wake-up with a timeout."""
    coro: Any = task.get_coro()
    while coro is not None:
        if getattr(coro, "__name__", "") in ("wait_for", "wait"):
            return True
        coro = getattr(coro, "cr_await", None)
    return False


async def test_stop_ends_the_dispatcher_even_just_after_a_wake(tmp_path: Path) -> None:
    async with (
        open_database(f"sqlite:///{tmp_path}/store.db") as database,
        MusicClient("test-key", base_url="http://127.0.0.1:9") as music,
    ):
        jobs = JobStore(database, owner="-:test", lease_seconds=30)
        # No API slot at all: the job waits, so the dispatcher polls in wait_for.
        composer = Composer(music, jobs, concurrency=0, poll_interval=30)
        await composer.start()
        job = ComposeJob(
            id=uuid.uuid4().hex,
            guild_id=1,
            user_id=2,
            channel_id=3,
            prompt="lofi",
            length_s=3,
            instrumental=False,
            request=build_request(prompt="lofi", length_s=3),
            output_format="mp3_44100_128",
        )
        listener = Listener()
        waiting = asyncio.create_task(composer.run(job, listener))
        # Told its place right before the dispatcher goes back to waiting.
        await listener.hears(1)
        dispatcher = composer._tasks[0]
        if not _awaits_wait_for(dispatcher):
            pytest.fail("the dispatcher is not polling: this test no longer sets up the race")

        # A slot is freed (as _free_slot does), and the bot stops in the same moment.
        composer._wake.set()
        await asyncio.sleep(0)
        stopping = asyncio.create_task(composer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=2)
        stopped = stopping in done
        if not stopped:
            # Clean up what the bug leaves running.
            stopping.cancel()
            for task in composer._tasks:
                task.cancel()
            await asyncio.wait(composer._tasks, timeout=2)
        waiting.cancel()
        assert stopped, "Composer.stop() did not return"
