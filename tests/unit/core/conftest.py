"""The core's services on a real SQLite file and the real MusicClient (over the sandbox, or an
httpx.MockTransport where a test needs one exact answer); fakes only for the ports."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.core.compose import ComposeService
from bot.core.composer import ComposeJob, Composer
from bot.core.jam import Jam, JamEntry
from bot.core.jams import Jams
from bot.core.outcomes import Composed
from bot.core.plans import PlanService
from bot.core.requester import Requester
from bot.core.track_orders import TrackOrders
from bot.music import MusicClient, build_request
from bot.music.pcm import PcmFifo
from bot.store import Database, SuggestionStore
from bot.store.jobs import JobStore
from bot.store.plans import PlanStore, TrackStore
from bot.store.quotas import QuotaDefaults, QuotaLedger
from bot.store.schema import quota_usage
from tests.conftest import FAST_RETRY, RunningSandbox
from tests.databases import open_database

G = 1
OTHER_GUILD = 2
CHANNEL = 5
ALICE = Requester(guild_id=G, channel_id=CHANNEL, user_id=100)
BOB = Requester(guild_id=G, channel_id=CHANNEL, user_id=200)
CAROL = Requester(guild_id=G, channel_id=CHANNEL, user_id=300)
MOD = Requester(guild_id=G, channel_id=CHANNEL, user_id=900, moderator=True)
UPLOAD_LIMIT = 25 * 1024 * 1024
QUOTA = QuotaDefaults(tracks=5, seconds=600)


@dataclass(eq=False)
class Core:
    """Every store and service of `bot.services`, on one SQLite file."""

    database: Database
    music: MusicClient
    quotas: QuotaLedger
    jobs: JobStore
    tracks: TrackStore
    suggestions: SuggestionStore
    plan_store: PlanStore
    composer: Composer
    plans: PlanService
    compose: ComposeService
    track_orders: TrackOrders
    jams: Jams

    async def used(self, requester: Requester = ALICE) -> tuple[int, int]:
        """The member's quota use: (tracks, seconds), reserved or committed."""
        status = await self.quotas.status(requester.guild_id, requester.user_id, [])
        return status.tracks_used, status.seconds_used

    async def usage_states(self) -> list[str]:
        """Every quota row's state, sorted: one row per reservation."""
        rows = await self.database.read(
            lambda connection: connection.execute(select(quota_usage.c.state)).all()
        )
        return sorted(row.state for row in rows)


@asynccontextmanager
async def open_core(path: Path, music: MusicClient) -> AsyncIterator[Core]:
    async with open_database(f"sqlite:///{path}/store.db") as database:
        jobs = JobStore(database, owner=f"-:test:{uuid.uuid4().hex[:6]}", lease_seconds=30)
        quotas = QuotaLedger(database, QUOTA)
        tracks = TrackStore(database)
        suggestions = SuggestionStore(database)
        plan_store = PlanStore(database)
        composer = Composer(music, jobs, concurrency=2, poll_interval=0.05)
        async with httpx.AsyncClient() as downloads:
            plans = PlanService(music, plan_store, tracks, downloads, plans_per_minute=3)
            service = ComposeService(composer, quotas, jobs, tracks, suggestions, plans)
            await composer.start()
            try:
                yield Core(
                    database=database,
                    music=music,
                    quotas=quotas,
                    jobs=jobs,
                    tracks=tracks,
                    suggestions=suggestions,
                    plan_store=plan_store,
                    composer=composer,
                    plans=plans,
                    compose=service,
                    track_orders=TrackOrders(tracks, suggestions, jobs),
                    jams=Jams(composer),
                )
            finally:
                await stop(composer)


async def stop(composer: Composer) -> None:
    """Composer.stop, failing instead of hanging (see test_composer.py for why it can)."""
    try:
        async with asyncio.timeout(10):
            await composer.stop()
    except TimeoutError:
        pytest.fail("Composer.stop() hung: its dispatcher swallowed the cancellation")


@pytest.fixture
async def core(tmp_path: Path, sandbox: RunningSandbox) -> AsyncIterator[Core]:
    client = MusicClient("test-key", base_url=sandbox.url, retry_policy=FAST_RETRY)
    async with client as music, open_core(tmp_path, music) as opened:
        yield opened


@asynccontextmanager
async def mocked_core(
    path: Path, handler: Callable[[httpx.Request], httpx.Response]
) -> AsyncIterator[Core]:
    """The core over a MusicClient whose every request `handler` answers."""
    client = MusicClient(
        "test-key",
        base_url="https://music.invalid",
        retry_policy=FAST_RETRY,
        transport=httpx.MockTransport(handler),
    )
    async with client as music, open_core(path, music) as opened:
        yield opened


# -- ports ---------------------------------------------------------------------------------------


@dataclass(eq=False)
class Listener:
    """A JobListener that records what it hears."""

    positions: list[int] = field(default_factory=list)
    starts: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def queued(self, position: int) -> None:
        self.positions.append(position)
        self.changed.set()

    async def started(self) -> None:
        self.starts += 1
        self.changed.set()

    async def hears(self, position: int) -> None:
        """Until the listener has been told `position`."""
        async with asyncio.timeout(10):
            while position not in self.positions:
                self.changed.clear()
                await self.changed.wait()


@dataclass(eq=False)
class Deliver:
    """The deliver callback: records what it was given, answers `answer`."""

    answer: bool = True
    given: list[Composed] = field(default_factory=list)
    audio_bytes: list[int] = field(default_factory=list)

    async def __call__(self, composed: Composed) -> bool:
        self.given.append(composed)
        self.audio_bytes.append(len(await composed.track.audio.read()))
        return self.answer


@dataclass(eq=False)
class FakeSpeaker:
    """Voice: plays nothing by itself; a track holds voice until `finish` (or `stop`)."""

    bitrate_kbps: int = 64
    connected: bool = True
    plays: asyncio.Queue[PcmFifo] = field(default_factory=asyncio.Queue)
    stops: int = 0
    disconnects: int = 0
    _after: Callable[[Exception | None], None] | None = None

    def is_connected(self) -> bool:
        return self.connected

    def is_playing(self) -> bool:
        return self._after is not None

    def play(
        self, fifo: PcmFifo, *, bitrate_kbps: int, after: Callable[[Exception | None], None]
    ) -> None:
        assert self._after is None, "a second track played over the first"
        self._after = after
        self.plays.put_nowait(fifo)

    def stop(self) -> None:
        self.stops += 1
        self.finish()

    def finish(self) -> None:
        """The track played out: the player calls `after`."""
        after, self._after = self._after, None
        if after is not None:
            after(None)

    async def disconnect(self) -> None:
        self.connected = False
        self.disconnects += 1

    async def next_play(self) -> PcmFifo:
        async with asyncio.timeout(10):
            return await self.plays.get()


@dataclass(eq=False)
class FakeScreen:
    """The now-playing message: records what was shown."""

    shown: list[JamEntry] = field(default_factory=list)

    async def now_playing(self, jam: Jam, entry: JamEntry) -> None:
        self.shown.append(entry)
        await entry.played


def compose_job(user_id: int, prompt: str = "lofi", length_s: int = 3) -> ComposeJob:
    return ComposeJob(
        id=uuid.uuid4().hex,
        guild_id=G,
        user_id=user_id,
        channel_id=CHANNEL,
        prompt=prompt,
        length_s=length_s,
        instrumental=False,
        request=build_request(prompt=prompt, length_s=length_s),
        output_format="pcm_48000",
    )
