"""Running the production Application in webhook mode against the emulator (tests only)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from telegram import Update

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
    """An instance as `python -m bot` runs it with WEBHOOK_URL set: PTB's webhook server on a
    free port (it registers itself with setWebhook), plus the health endpoint if asked for."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    settings = make_settings(
        emulator,
        db.url,
        webhook_url=url,
        webhook_secret_token=SECRET,
        webhook_port=port,
        health_port=free_port() if health else 0,  # 0: off
        **overrides,
    )
    app = build_application(settings, db=db, clock=clock)
    await app.initialize()
    await on_startup(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="telegram",
        webhook_url=url,
        secret_token=SECRET,
        allowed_updates=Update.ALL_TYPES,
    )
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await on_stop(app)  # what run_webhook does next (post_stop)
        await operations.stop(app)  # what post_shutdown does, minus disposing the shared db
        await app.shutdown()


def webhook_url(app: NotebookApplication) -> str:
    url = app.notebook.settings.webhook_url
    assert url is not None
    return url
