"""`/healthz` and `/metrics` on their own port, for container health checks and Prometheus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import metrics

log = logging.getLogger(__name__)
_CHECK_TIMEOUT = 3.0


class HealthServer:
    """Healthy means: logged in to Discord, and the database answers."""

    def __init__(
        self,
        *,
        connected: Callable[[], bool],
        database_ok: Callable[[], Awaitable[bool]],
        job_counts: Callable[[], Awaitable[dict[str, int]]],
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._connected = connected
        self._database_ok = database_ok
        self._job_counts = job_counts
        # Reads what else /metrics shows from the database (the budgets), on each scrape.
        self._refresh = refresh
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        log.info("health and metrics on http://%s:%d (/healthz, /metrics)", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        try:
            database = await asyncio.wait_for(self._database_ok(), _CHECK_TIMEOUT)
        except TimeoutError:
            database = False
        checks = {"discord": self._connected(), "database": database}
        healthy = all(checks.values())
        return web.json_response(
            {"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            counts = await asyncio.wait_for(self._job_counts(), _CHECK_TIMEOUT)
        except Exception:
            log.warning("could not count jobs for /metrics", exc_info=True)
        else:
            for state in ("queued", "running", "done", "failed", "interrupted"):
                metrics.jobs.labels(state).set(counts.get(state, 0))
        if self._refresh is not None:
            try:
                await asyncio.wait_for(self._refresh(), _CHECK_TIMEOUT)
            except Exception:
                log.warning("could not read the budgets for /metrics", exc_info=True)
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
