"""The operator's HTTP server: `GET /healthz` answers the report of storage/health.py as JSON,
`GET /metrics` the Prometheus metrics (runtime/metrics.py), and the routes of bot/feeds.py
(calendar feeds, Open311) when the composition adds them.

python-telegram-bot's webhook server (tornado) is its own; rather than reach into it, the
notebook runs this tiny aiohttp server on HEALTH_PORT beside it (on by default in webhook mode,
see `Settings.health_server_port`), started after start-up and stopped at shutdown. It answers
200 with status "ok", or 503 with status "degraded" and `reasons`, one plain line each (this
process's update fetcher not running, updates waiting in the inbox, the outbox overdue, the
database not answering within 2 s, a staff group refusing the bot): a load balancer or monitor
can act on the code alone. It answers within about 2 s even while the database hangs.

Why a second server rather than one for the webhook too: python-telegram-bot's `run_webhook`
owns its tornado server's start and stop (setWebhook, then taking updates, and on SIGTERM no
new update before the Application stops), which the inbox's stop rules rely on
(docs/architecture.md, "Stopping"); and this server must keep answering while that one is
down or starting, to say so. The reverse proxy publishes only the webhook and the public feeds
(deploy/nginx.conf); /healthz and /metrics stay on the private network.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from runtime import metrics
from storage.db import Database
from storage.health import UpdatesCheck, health_report, read_queues

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
METRICS_READ_WITHIN = 2.0  # seconds: a hanging database leaves the database gauges as they were

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        host: str,
        port: int,
        updates: UpdatesCheck | None = None,
        extra: Callable[[], Awaitable[dict[str, Any]]] | None = None,
        routes: list[Route] | None = None,
    ) -> None:
        self.db, self.clock = db, clock
        self.host, self.port = host, port
        # This process's update fetcher; without one (a test's bare server) the instances'
        # presence rows are read, as `python -m bot status` does.
        self.updates = updates
        self.extra = extra
        self.routes = routes or []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real one when asked for port 0
        log.info("health endpoint on http://%s:%s/healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/healthz"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def healthz(self, request: web.Request) -> web.Response:
        report = await health_report(self.db, now=self.clock(), updates=self.updates)
        body = report.as_json()
        if self.extra is not None:
            body.update(await self.extra())
        return web.json_response(body, status=200 if report.status == "ok" else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """The metrics page; the inbox and outbox gauges read from the database first (if it
        does not answer within METRICS_READ_WITHIN they keep their last values: the page
        still answers, and /healthz says what is wrong)."""
        found = await read_queues(self.db, now=self.clock(), within=METRICS_READ_WITHIN)
        if found is not None:
            metrics.observe_queues(
                inbox_pending=found.inbox_pending,
                inbox_oldest_age=found.inbox_oldest_age,
                outbox_queued=found.outbox_queued,
            )
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE}
        )
