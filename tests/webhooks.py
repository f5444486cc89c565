"""Running the production Application in webhook mode against the emulator (tests only)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from bot import operations
from bot.app import NotebookApplication, build_application, on_startup, on_stop
from storage.db import Database
from tests.factories import FakeClock, make_settings

if TYPE_CHECKING:
    from emulator import BotApiEmulator

SECRET = "webhook-s3cret-long-enough-for-the-rule"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running_webhook_bot(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    *,
    health: bool = False,
    **overrides: Any,
) -> AsyncIterator[NotebookApplication]:
    """An instance as `python -m bot` runs it with WEBHOOK_URL set (bot/app.py: serve_webhook):
    its HTTP server on a free port is the webhook (it registers itself with setWebhook) and
    serves /healthz beside it. `health`: kept for the callers' sake; the server always runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    settings = make_settings(
        emulator,
        db.url,
        webhook_url=url,
        webhook_secret_token=SECRET,
        webhook_listen="127.0.0.1",
        webhook_port=port,
        **overrides,
    )
    app = build_application(settings, db=db, clock=clock)
    await app.initialize()
    await on_startup(app)  # the server starts, then takes updates once start-up is done
    await app.start()
    try:
        yield app
    finally:
        await app.stop()  # no new update first, as a stop does
        await on_stop(app)  # post_stop
        await operations.stop(app)  # what post_shutdown does, minus disposing the shared db
        await app.shutdown()


def webhook_url(app: NotebookApplication) -> str:
    url = app.notebook.settings.webhook_url
    assert url is not None
    return url
