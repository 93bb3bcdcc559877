from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from bot.music.retry import RetryPolicy, is_retryable_transport_error, parse_retry_after


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "Wed, 25 Nov 2026 12:00:10 GMT"}, now=now) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_bounded_jittered_and_finite() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0)
    delays = [policy.delay(attempt) for attempt in (1, 2, 3)]
    assert all(d is not None for d in delays)
    assert 0.5 <= delays[0] <= 1.0  # type: ignore[operator]
    assert 1.5 <= delays[2] <= 3.0  # type: ignore[operator]
    assert policy.delay(4) is None


def test_server_wait_is_honoured_only_up_to_the_cap() -> None:
    policy = RetryPolicy(max_retry_after=10)
    assert policy.delay(1, retry_after=4) == 4
    assert policy.delay(1, retry_after=60) is None


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ConnectTimeout("slow"), True),
        (httpx.PoolTimeout("full"), True),
        (httpx.ReadTimeout("waiting"), False),
        (httpx.RemoteProtocolError("closed"), False),
        (httpx.WriteError("broken"), False),
    ],
)
def test_only_failures_before_the_server_are_retryable(
    exc: httpx.TransportError, retryable: bool
) -> None:
    assert is_retryable_transport_error(exc) is retryable
