"""The HTTP health endpoint: `GET /healthz` answers the report of storage/health.py as JSON.

python-telegram-bot's webhook server (tornado) is its own; rather than reach into it, the
notebook runs this tiny aiohttp server on HEALTH_PORT beside it (on by default in webhook mode,
see `Settings.health_server_port`), started after start-up and stopped at shutdown. It answers
200 with status "ok", or 503 with status "degraded" and `reasons`, one plain line each (this
process's update fetcher not running, updates waiting in the inbox, the outbox overdue, the
database not answering within 2 s, a staff group refusing the bot): a load balancer or monitor
can act on the code alone. It answers within about 2 s even while the database hangs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from storage.db import Database
from storage.health import UpdatesCheck, health_report

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
    ) -> None:
        self.db, self.clock = db, clock
        self.host, self.port = host, port
        # This process's update fetcher; without one (a test's bare server) the instances'
        # presence rows are read, as `python -m bot status` does.
        self.updates = updates
        self.extra = extra
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
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

    async def healthz(self, request: web.Request) -> web.Response:
        report = await health_report(self.db, now=self.clock(), updates=self.updates)
        body = report.as_json()
        if self.extra is not None:
            body.update(await self.extra())
        return web.json_response(body, status=200 if report.status == "ok" else 503)
