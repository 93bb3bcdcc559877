"""The composition root: the database, the stores, the Composer and the core services, built
in order and closed in reverse. Discord-free: the bot receives them ready-made."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

import httpx

from bot.config import Settings
from bot.core.compose import ComposeService
from bot.core.composer import Composer
from bot.core.formats import UploadBudget
from bot.core.intake import Intake
from bot.core.jams import Jams
from bot.core.plans import PlanService
from bot.core.shards import IdentifyGate, InteractionGate
from bot.core.track_orders import TrackOrders
from bot.instance import Instance
from bot.music import MusicClient
from bot.store import Database, SuggestionStore
from bot.store.audio import TrackAudioStore
from bot.store.audit import AuditLog
from bot.store.commands import CommandRegistry
from bot.store.jobs import JobStore
from bot.store.plans import PlanStore, TrackStore
from bot.store.quotas import QuotaDefaults, QuotaLedger
from bot.store.shards import IdentifySlots, InteractionClaims

log = logging.getLogger(__name__)

# Longer than the longest quota window (744 h), so pruning never changes a quota.
RETENTION_SECONDS = 32 * 24 * 3600
# Discord redelivers nothing older than an interaction token's 15 minutes.
CLAIM_RETENTION_SECONDS = 3600


@dataclass(eq=False)
class Services:
    """Everything the bot's cogs use, Discord-free. `open` before use, `close` after."""

    settings: Settings
    music: MusicClient
    database: Database
    jobs: JobStore
    quotas: QuotaLedger
    suggestions: SuggestionStore
    plan_store: PlanStore
    tracks: TrackStore
    track_audio: TrackAudioStore
    audit: AuditLog
    commands: CommandRegistry
    composer: Composer
    plans: PlanService
    track_orders: TrackOrders
    compose: ComposeService
    jams: Jams
    # Processes sharing the token: who answers an interaction, when a shard identifies.
    interactions: InteractionGate
    identify: IdentifyGate
    # Member attachments (plan files): a client of its own, never the music API key's.
    downloads: httpx.AsyncClient
    # Bytes of tracks and stems uploading to Discord at once, across the process.
    uploads: UploadBudget
    instance: Instance | None = None

    async def open(self) -> None:
        """Open the database; the Composer starts later (`start`), once its hooks are set."""
        await self.database.open()

    async def start(self) -> None:
        """Settle what a stopped process left, then schedule jobs."""
        await self.composer.start()

    async def drain(self, grace: float) -> None:
        """Stop taking composes; give the running ones `grace` seconds to deliver."""
        log.warning(
            "shutting down: no new composes; waiting up to %g s for the %d running",
            grace,
            self.compose.running,
        )
        # Tracks waiting in a jam will not get their turn: refunded and told now.
        await self.jams.close()
        left = await self.compose.drain(grace)
        if left:
            log.warning("%d compose(s) left running; the next start reports them", left)
        else:
            log.info("every running compose finished")

    async def prune(self) -> dict[str, int]:
        """Forget what no one can use any more (the quota window is at most 31 days)."""
        before = time.time() - RETENTION_SECONDS
        return {
            "jobs": await self.jobs.prune(before),
            "suggestions": await self.suggestions.prune(before),
            "plans": await self.plan_store.prune(before),
            "tracks": await self.tracks.prune(before),
            "interaction_claims": await self.interactions.prune(
                time.time() - CLAIM_RETENTION_SECONDS
            ),
            # The MP3s kept for Stems go with their track rows.
            "track audio": await self.track_audio.prune(before),
        }

    async def close(self) -> None:
        """In reverse: jams, the Composer, the clients, the database, the instance lock."""
        await self.jams.close()
        await self.composer.stop()
        await self.music.aclose()
        await self.downloads.aclose()
        await self.database.close()
        if self.instance is not None:
            self.instance.release()


def build_services(
    settings: Settings, music: MusicClient, *, instance: Instance | None = None
) -> Services:
    """Every service, wired in order; nothing is opened yet."""
    database = Database(settings.database_url)
    jobs = JobStore(
        database,
        owner=_process_name(instance),
        lease_seconds=settings.job_lease_seconds,
        predecessors=f"{instance.id}:" if instance is not None else None,
    )
    quotas = QuotaLedger(
        database,
        QuotaDefaults(
            tracks=settings.default_quota_tracks,
            seconds=settings.default_quota_seconds,
            window_hours=settings.quota_window_hours,
        ),
        budgets=settings.budgets(),
    )
    suggestions = SuggestionStore(database)
    plan_store = PlanStore(database)
    tracks = TrackStore(database)
    track_audio = TrackAudioStore(settings.data_dir / "tracks")
    composer = Composer(music, jobs, concurrency=settings.music_concurrency)
    downloads = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=True)
    intake = Intake()
    plans = PlanService(
        music,
        plan_store,
        tracks,
        downloads,
        model_id=settings.music_model_id,
        plans_per_minute=settings.plans_per_minute,
        intake=intake,
    )
    compose = ComposeService(
        composer,
        quotas,
        jobs,
        tracks,
        suggestions,
        plans,
        model_id=settings.music_model_id,
        intake=intake,
        inpainting=settings.music_inpainting,
        audio=track_audio,
        music=music,
    )
    return Services(
        settings=settings,
        music=music,
        database=database,
        jobs=jobs,
        quotas=quotas,
        suggestions=suggestions,
        plan_store=plan_store,
        tracks=tracks,
        track_audio=track_audio,
        audit=AuditLog(database),
        commands=CommandRegistry(database),
        composer=composer,
        plans=plans,
        track_orders=TrackOrders(
            tracks, suggestions, jobs, inpainting=settings.music_inpainting, audio=track_audio
        ),
        compose=compose,
        jams=Jams(
            composer,
            idle_seconds=settings.jam_idle_seconds,
            prefetch_seconds=settings.jam_prefetch_seconds,
        ),
        downloads=downloads,
        uploads=UploadBudget(),
        instance=instance,
        interactions=InteractionGate(InteractionClaims(database, owner=jobs.owner)),
        identify=IdentifyGate(IdentifySlots(database)),
    )


def _process_name(instance: Instance | None) -> str:
    """Who owns a job row: unique per process, readable in the database, and starting with
    the bot's lasting instance id ("-" without one)."""
    lasting = instance.id if instance is not None else "-"
    return f"{lasting}:{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
