"""What the bot counts, in Prometheus' terms. Served by `bot.health` when METRICS_PORT is set.

Counters and histograms are this process's; the job gauges are read from the database at each
scrape, so they are the same whichever process is asked. So are the budget gauges: the scrape
calls `await refresh_budget(quotas)` (one indexed query) before rendering the registry.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from bot.store.quotas import BudgetUse, QuotaLedger

registry = CollectorRegistry(auto_describe=True)

jobs = Gauge(
    "music_jobs",
    "Compose jobs in the database by state (queued, running, done, failed, interrupted)",
    ["state"],
    registry=registry,
)
jobs_finished = Counter(
    "music_jobs_finished",
    "Compose jobs this process settled, by outcome (delivered or failed)",
    ["outcome"],
    registry=registry,
)
api_seconds = Histogram(
    "music_api_seconds",
    "Time for one music API call, from sending to the last audio byte, by call and outcome",
    ["call", "outcome"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
    registry=registry,
)
quota_rejections = Counter(
    "music_quota_rejections",
    "Composes refused by a member's quota, by reason",
    ["reason"],
    registry=registry,
)
budget_seconds_used = Gauge(
    "music_budget_seconds_used",
    "Seconds of music the whole bot reserved or delivered in the last 24 h (every server and "
    "process; refunds excluded)",
    registry=registry,
)
budget_seconds_limit = Gauge(
    "music_budget_seconds_limit",
    "MUSIC_BUDGET_SECONDS_PER_DAY: seconds the whole bot may compose per rolling 24 h "
    "(+Inf: no limit)",
    registry=registry,
)
upload_failures = Counter(
    "music_discord_upload_failures",
    "Composed tracks that Discord would not take (the member was not charged)",
    registry=registry,
)
duplicate_interactions = Counter(
    "discord_duplicate_interactions",
    "Interactions another process had already claimed (two processes on one shard)",
    registry=registry,
)


@contextlib.contextmanager
def api_call(call: str) -> Iterator[None]:
    """Time the music API call inside, labelled with how it ended (ok, or the error's class)."""
    started = time.monotonic()
    outcome = "ok"
    try:
        yield
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        api_seconds.labels(call, outcome).observe(time.monotonic() - started)


def observe_budget(use: BudgetUse) -> None:
    """Set the budget gauges from `QuotaLedger.bot_budget()` (or `budget_status(...).bot`)."""
    budget_seconds_used.set(use.used)
    budget_seconds_limit.set(math.inf if use.limit is None else use.limit)


async def refresh_budget(quotas: QuotaLedger) -> None:
    """Read the bot's budget use from the database into the gauges; call it on each scrape."""
    observe_budget(await quotas.bot_budget())
