"""The bot's one HTTP server: `GET /healthz` answers the report of storage/health.py as JSON,
`GET /metrics` the Prometheus metrics (runtime/metrics.py), the routes of bot/feeds.py
(calendar feeds, Open311), and in webhook mode Telegram's `POST /<WEBHOOK_PATH>`.

In webhook mode it listens on WEBHOOK_LISTEN:WEBHOOK_PORT and is the webhook
(python-telegram-bot's "custom webhook" pattern: the Application runs without its Updater and
its tornado server; `webhook` below checks the secret token and hands each update to the
durable queue, which commits it before the 200). When polling it listens on HEALTH_PORT if set
(`Settings.health_server_port`). It is started in post_init and stopped at shutdown, so it
answers while the bot starts and stops; Telegram's updates are taken only between
`accept_updates(True)` (the end of start-up, after the inbox's replay) and the stop, and get
503 otherwise, which Telegram tries again.

/healthz answers 200 with status "ok", or 503 with status "degraded" and `reasons`, one plain
line each (this process's update fetcher or webhook not running, updates waiting in the inbox,
the outbox overdue, the database not answering within 2 s, a staff group refusing the bot): a
load balancer or monitor can act on the code alone. It answers within about 2 s even while the
database hangs. The reverse proxy publishes only the webhook and the public feeds
(deploy/nginx.conf); /healthz and /metrics stay on the private network.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from runtime import metrics
from storage.db import Database
from storage.health import UpdatesCheck, health_report, read_queues

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]
METRICS_READ_WITHIN = 2.0  # seconds: a hanging database leaves the database gauges as they were

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Webhook:
    """Telegram's route: its path, the secret token Telegram sends back, how an update is read
    from its JSON (raises for what is not one), and what takes it (raises when it could not be
    stored: Telegram then tries again)."""

    path: str
    secret: str | None
    parse: Callable[[dict[str, Any]], Any]
    accept: Callable[[Any], Awaitable[None]]


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
        webhook: Webhook | None = None,
    ) -> None:
        self.db, self.clock = db, clock
        self.host, self.port = host, port
        # This process's update fetcher; without one (a test's bare server) the instances'
        # presence rows are read, as `python -m bot status` does.
        self.updates = updates
        self.extra = extra
        self.routes = routes or []
        self.webhook_route = webhook
        self.accepting = False  # Telegram's updates: taken between start-up and the stop
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        for method, path, handler in self.routes:
            app.router.add_route(method, path, handler)
        if self.webhook_route is not None:
            app.router.add_post(self.webhook_route.path, self.webhook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real one when asked for port 0
        log.info("HTTP server on http://%s:%s (/healthz, /metrics)", self.host, self.port)

    def accept_updates(self, accepting: bool) -> None:
        self.accepting = accepting

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def stop(self) -> None:
        self.accepting = False
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

    async def webhook(self, request: web.Request) -> web.Response:
        """Telegram's POST, as python-telegram-bot's own webhook server answers it: 403
        without JSON or the secret token, 400 for what is not an update, 200 once the update
        is stored; 503 while starting or stopping and 500 when it could not be stored (the
        database down), which Telegram tries again."""
        hook = self.webhook_route
        assert hook is not None
        if request.content_type != "application/json":
            return web.Response(status=403)
        if hook.secret is not None and request.headers.get(SECRET_HEADER) != hook.secret:
            return web.Response(status=403, reason="Request had no or the wrong secret token")
        if not self.accepting:
            return web.Response(status=503, reason="Not taking updates now")
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400, reason="Not an update")
        try:
            update = hook.parse(data)
        except Exception:
            log.warning("webhook: update %s could not be read", data["update_id"])
            return web.Response(status=400, reason="Update could not be processed")
        try:
            await hook.accept(update)
        except Exception as exc:
            log.error("webhook: update %s not stored (%s)", data["update_id"], type(exc).__name__)
            return web.Response(status=500)
        return web.Response(status=200)
