"""The registered commands' digest, written by processes that start together."""

from __future__ import annotations

import asyncio
import contextlib

from bot.store.commands import CommandRegistry
from tests.databases import open_database


async def test_processes_starting_together_both_record_the_registration(db_url: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # One database handle each, as separate processes have.
        registries = [
            CommandRegistry(await stack.enter_async_context(open_database(db_url)))
            for _ in range(4)
        ]
        for digest in ("digest-1", "digest-2"):
            await asyncio.gather(*(r.registered(digest) for r in registries))
        assert await registries[0].digest() == "digest-2"
