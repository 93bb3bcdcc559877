"""When a music request may be sent again, and how long to wait first.

A generation is billed once the API starts working on it, so a compose is retried only when the
answer proves nothing was done: a "busy" status (429, 503), or a connection that never reached
the server. Never after a read timeout, and never once audio bytes have arrived.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .errors import Busy, MusicError, RateLimited


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A server asking for a longer wait than this is better reported to the member.
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when it must not be retried."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if 0 <= retry_after <= self.max_retry_after else None
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Full jitter: many bot processes hitting the same busy account must not retry in step.
        return random.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)


def is_retryable_error(error: MusicError) -> bool:
    """Answers that prove the request was not processed."""
    return isinstance(error, RateLimited | Busy)


def is_retryable_transport_error(exc: httpx.TransportError) -> bool:
    """Failures before the request reached the server; a read timeout is not one of them."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """`retry-after-ms`, then `Retry-After` in seconds or as an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
