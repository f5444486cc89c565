"""What a running bot does for its operators, beside answering people.

- The phone encryption key (`resolve_phone_key`): PHONE_ENCRYPTION_KEY when set. Without it, an
  SQLite notebook generates one once into `phone-encryption.key` next to the database (mode
  0600, with a warning to back it up apart from the database); PostgreSQL refuses to start,
  because every instance must use the same key. At start the key must open the phones already
  stored, or the bot stops with one line (a wrong key would otherwise fail on first use).
- Liveness (storage/health.py): the time the last update was taken up, written at most every
  `UPDATE_BEAT_EVERY` from `NotebookApplication.process_update`; this process's presence every
  30 s (restore refuses while it is fresh), saying whether its update fetcher runs
  (`updates_problem`), which `python -m bot status` reads; the health endpoint (bot/health.py),
  which asks `updates_problem` directly.
- Periodic work as thin JobQueue wrappers around plain functions: the retention sweep
  (storage/privacy.py; sent outbox rows, storage/outbox.py: `prune`) and the optional daily
  SQLite backup (storage/backup.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.ext import ContextTypes

from bot.health import HealthServer
from runtime.settings import Settings, SettingsError
from storage import backup, crypto, health, outbox
from storage.files import write_private
from storage.privacy import anonymise_expired
from storage.schedule import parse_clock

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)

KEY_FILE_NAME = "phone-encryption.key"
UPDATE_BEAT_EVERY = 5.0  # seconds between writes of the last-update heartbeat
RETENTION_EVERY = timedelta(hours=6)
# Failed outbox rows are kept this long (or until a person deletes them), for a person to see
# why a message never went out; sent and cancelled ones OUTBOX_RETENTION_DAYS.
OUTBOX_FAILED_KEPT = timedelta(days=365)
CHECKPOINT_EVERY = timedelta(seconds=1)  # SQLite: the write-ahead log copied into the file
CATCH_UP = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


def _instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Operations:
    """Per-process operational state, held by the Application."""

    instance: str = field(default_factory=_instance_name)
    last_update_beat: float = -math.inf
    health_server: HealthServer | None = None


# --- the phone key ---------------------------------------------------------------------------


def resolve_phone_key(settings: Settings, *, create: bool) -> str | None:
    """The key(s) to encrypt phones with (see the module doc); None when there is none and
    `create` is False (commands that never touch phones)."""
    if settings.phone_encryption_key is not None:
        return settings.phone_encryption_key.get_secret_value()
    path = settings.sqlite_path
    if path is None:
        if not create:
            return None
        raise SettingsError(
            "PHONE_ENCRYPTION_KEY is not set: with PostgreSQL every instance needs the same key "
            "(make one with `python -m bot keygen`)"
        )
    key_file = path.parent / KEY_FILE_NAME
    if key_file.exists():
        return key_file.read_text().strip()
    if not create:
        return None
    key = crypto.new_key()
    write_private(key_file, key + "\n")
    log.warning(
        "PHONE_ENCRYPTION_KEY is not set: generated %s. Back it up apart from the database: "
        "without it the stored phone numbers cannot be read.",
        key_file,
    )
    return key


async def check_phone_key(app: NotebookApplication) -> None:
    """Stop with one line unless the key opens the stored phones; seal any left in clear."""
    db = app.notebook.db
    try:
        async with db.session() as session:
            await crypto.check_key(session, db.phone_cipher)
            if db.phone_cipher is not None:
                sealed = await crypto.reseal_phones(session, db.phone_cipher)
                if sealed:
                    log.info("encrypted %d phone numbers with the current key", sealed)
    except crypto.PhoneKeyError as exc:
        raise SettingsError(str(exc)) from None


# --- liveness --------------------------------------------------------------------------------


async def update_seen(app: NotebookApplication) -> None:
    """Record that an update is being processed (throttled; any instance may write it).

    Written as the update is taken up, before its handler replies, so whoever sees the reply
    also sees the heartbeat."""
    ops = app.operations
    if time.monotonic() - ops.last_update_beat < UPDATE_BEAT_EVERY:
        return
    ops.last_update_beat = time.monotonic()
    try:
        async with app.notebook.db.session() as session:
            await health.beat(
                session, health.LAST_UPDATE, now=app.notebook.clock(), instance=ops.instance
            )
    except SQLAlchemyError as exc:
        log.warning("could not record the last processed update: %s", type(exc).__name__)


def _mode(settings: Settings) -> str:
    return "webhook" if settings.webhook_url else "polling"


def updates_problem(app: NotebookApplication) -> str | None:
    """Why this process receives no updates now, in one line; None while it does.

    python-telegram-bot keeps the tasks private: the Application's update fetcher (it hands
    each update to `process_update`; an exception escaping that ends it for good) and the
    Updater's polling loop or webhook server (they bring updates in)."""
    if not app.running:
        return "the bot is not running (starting or stopping): updates are not handled"
    fetcher: asyncio.Task[Any] | None = getattr(app, "_Application__update_fetcher_task", None)
    if fetcher is None or fetcher.done():
        return "the update fetcher has stopped: no update is handled"
    updater = app.updater
    if updater is None:
        return None
    if not updater.running:
        return f"{_mode(app.notebook.settings)} is not running: no update arrives"
    polling: asyncio.Task[Any] | None = getattr(updater, "_Updater__polling_task", None)
    if polling is not None and polling.done():
        return "polling has stopped: no update arrives"
    server = getattr(updater, "_httpd", None)
    if app.notebook.settings.webhook_url and server is not None and not server.is_running:
        return "the webhook server has stopped: no update arrives"
    return None


async def beat_presence(app: NotebookApplication, *, problem: str | None = None) -> None:
    """This process is here; `problem`: why it receives no updates (None: it does, or it is
    starting and the next beats will say)."""
    nb = app.notebook
    async with nb.db.session() as session:
        await health.beat(
            session,
            health.INSTANCE_PREFIX + app.operations.instance,
            now=nb.clock(),
            mode=_mode(nb.settings),
            updates_problem=problem,
        )


async def presence_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    try:  # the JobQueue runs while the Application does: the fetcher must be running too
        await beat_presence(app, problem=updates_problem(app))
    except SQLAlchemyError as exc:
        log.warning("could not record this instance's presence: %s", type(exc).__name__)


# --- periodic work ---------------------------------------------------------------------------


async def run_retention(app: NotebookApplication) -> int:
    """Anonymise every closed issue past the retention period, and forget outbox rows past
    theirs (`prune_outbox`); returns how many issues were anonymised."""
    nb = app.notebook
    retention = timedelta(days=nb.settings.retention_days)
    total = 0
    while True:
        async with nb.db.session() as session:
            done = await anonymise_expired(session, now=nb.clock(), retention=retention)
        total += done
        if done == 0:
            break
    if total:
        log.info("retention: anonymised %d closed issues", total)
    await prune_outbox(app)
    return total


async def prune_outbox(app: NotebookApplication) -> int:
    """Delete sent and cancelled outbox rows older than OUTBOX_RETENTION_DAYS, failed ones
    older than OUTBOX_FAILED_KEPT (rows about open issues stay: storage/outbox.py)."""
    nb = app.notebook
    now = nb.clock()
    async with nb.db.session() as session:
        pruned = await outbox.prune(
            session,
            sent_before=now - timedelta(days=nb.settings.outbox_retention_days),
            failed_before=now - OUTBOX_FAILED_KEPT,
        )
    if pruned:
        log.info("retention: forgot %d outbox rows", pruned)
    return pruned


async def checkpoint_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """SQLite: copy the write-ahead log into the database file, off the event loop's thread
    (storage/db.py: `Database.checkpoint`), so that no commit stops the bot to do it."""
    app: NotebookApplication = context.application  # type: ignore[assignment]
    try:
        await app.notebook.db.checkpoint()
    except sqlite3.Error as exc:  # the next run tries again; commits take over if it never does
        log.warning("checkpoint of the SQLite log failed: %s", exc)


async def retention_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await run_retention(app)


async def run_daily_backup(app: NotebookApplication) -> Path | None:
    settings = app.notebook.settings
    database, directory = settings.sqlite_path, settings.backup_dir
    if database is None or directory is None:
        return None
    try:
        info, removed = await asyncio.to_thread(
            backup.daily_backup,
            database,
            directory,
            keep=settings.backup_keep,
            now=app.notebook.clock(),
        )
    except (backup.BackupError, OSError) as exc:
        log.error("daily backup failed: %s", exc)
        return None
    log.info("daily backup: %s; %d older ones removed", info.summary(), len(removed))
    return info.path


async def backup_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await run_daily_backup(app)


def schedule(app: NotebookApplication) -> None:
    assert app.job_queue is not None
    settings = app.notebook.settings
    queue = app.job_queue
    every = health.PRESENCE_EVERY.total_seconds()
    queue.run_repeating(presence_job, interval=every, first=every, name="presence")
    if app.notebook.db.sqlite_path is not None:
        every = CHECKPOINT_EVERY.total_seconds()
        queue.run_repeating(
            checkpoint_job,
            interval=every,
            first=every,
            name="checkpoint",
            job_kwargs=CATCH_UP,
        )
    queue.run_repeating(
        retention_job,
        interval=RETENTION_EVERY.total_seconds(),
        first=120,
        name="retention",
        job_kwargs=CATCH_UP,
    )
    if settings.backup_dir is None:
        return
    if settings.sqlite_path is None:
        log.warning(
            "BACKUP_DIR is for SQLite; back PostgreSQL up with pg_dump (docs/operations.md)"
        )
        return
    at = parse_clock(settings.backup_time).replace(tzinfo=settings.tz)
    queue.run_daily(backup_job, time=at, name="backup", job_kwargs=CATCH_UP)


# --- start and stop --------------------------------------------------------------------------


async def _instance_info(app: NotebookApplication) -> dict[str, Any]:
    return {"instance": app.operations.instance, "mode": _mode(app.notebook.settings)}


async def start(app: NotebookApplication) -> None:
    """post_init: key check, presence, the health endpoint, the periodic jobs."""
    nb = app.notebook
    await check_phone_key(app)
    await beat_presence(app)
    port = nb.settings.health_server_port
    if port is not None:
        server = HealthServer(
            nb.db,
            nb.clock,
            host=nb.settings.health_listen,
            port=port,
            updates=lambda: updates_problem(app),
            extra=lambda: _instance_info(app),
        )
        try:
            await server.start()
        except OSError as exc:  # residents come first: serve them, and let monitoring notice
            log.error("health endpoint not started on port %s: %s", port, exc.strerror)
        else:
            app.operations.health_server = server
    schedule(app)


async def stop(app: NotebookApplication) -> None:
    """post_shutdown: stop serving health, and say this instance is gone (restore may run)."""
    server, app.operations.health_server = app.operations.health_server, None
    if server is not None:
        await server.stop()
    try:
        async with app.notebook.db.session() as session:
            await health.forget_beat(session, health.INSTANCE_PREFIX + app.operations.instance)
    except SQLAlchemyError as exc:
        log.warning("could not clear this instance's presence: %s", type(exc).__name__)
