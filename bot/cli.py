"""`python -m bot …`: run the bot, migrate the database, set up a community, operate it.

Every command reads the settings once; a bad setting is one line on stderr and exit status 2.
Any other refusal (a backup that cannot be made, a restore that must not go ahead) is one line
on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Bot, Update

from runtime.settings import Settings, SettingsError, load_settings
from sandbox import SandboxError

if TYPE_CHECKING:
    from bot.app import NotebookApplication
    from storage.db import Database

log = logging.getLogger(__name__)
EXIT_BAD_SETTINGS = 2


class CommandRefused(Exception):
    """The command cannot do what was asked; the message is one line for the operator."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="社区民情本 · Community Notebook"
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "run",
        help="run the bot: polling, or webhook if WEBHOOK_URL (the default when a token is set; "
        "without one, the default is the sandbox)",
    )
    sandbox = sub.add_parser(
        "sandbox", help="try the notebook in a browser: emulator + bot + demo community"
    )
    sandbox.add_argument("--port", type=int, help="web page port (default SANDBOX_PORT, 8080)")
    sandbox.add_argument(
        "--keep", action="store_true", help="keep the sandbox database instead of a fresh demo"
    )
    sandbox.add_argument(
        "--database",
        type=Path,
        default=None,
        help="the sandbox's own SQLite file (default data/sandbox.db)",
    )
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command")
    db.add_parser("upgrade", help="apply all migrations")
    downgrade = db.add_parser("downgrade", help="roll the schema back (rollback after an upgrade)")
    downgrade.add_argument("revision", help="a revision id, -1 for one step, or base")
    revision = db.add_parser("revision", help="(developers) write a migration from the models")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--rev-id", help="a readable revision id, e.g. 0005_council")
    community = sub.add_parser("community", help="communities").add_subparsers(
        dest="community_command"
    )
    create = community.add_parser("create", help="create a community; prints the secretary link")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--building",
        action="append",
        default=[],
        help="a building name (repeatable); its units after '=': --building '1栋=1单元,2单元'",
    )
    link = community.add_parser(
        "secretary-link",
        help="a new secretary link for a community (the older unused ones stop working)",
    )
    link.add_argument("community_id", type=int, help="the number `community create` printed")
    backup = sub.add_parser("backup", help="copy the SQLite notebook, safely while it runs")
    backup.add_argument("path", type=Path, help="a file to write, or a directory for a dated one")
    restore = sub.add_parser("restore", help="put an SQLite backup back (the bot must be stopped)")
    restore.add_argument("path", type=Path)
    status = sub.add_parser("status", help="database, last update, outbox backlog, instances")
    status.add_argument("--json", action="store_true", help="the health endpoint's JSON")
    sub.add_parser("keygen", help="print a new PHONE_ENCRYPTION_KEY")
    return parser


def configure_logging(settings: Settings) -> None:
    from bot.logs import configure_logging as configure

    configure(settings)


NO_TOKEN_SANDBOX = (
    "No TELEGRAM_BOT_TOKEN is set, so this is the sandbox (it never talks to Telegram): "
    "open {url} in your browser. Ctrl+C stops it."
)
SANDBOX = "Sandbox (it never talks to Telegram): open {url} in your browser. Ctrl+C stops it."


def run_sandbox(
    settings: Settings,
    *,
    banner: str,
    port: int | None = None,
    keep: bool = False,
    database: Path | None = None,
) -> None:
    from sandbox.serve import DEFAULT_DATABASE, serve

    if settings.log_level == "INFO":
        # The terminal should show the sandbox's one line, not the scheduler's every 30 s.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    asyncio.run(
        serve(
            settings,
            port=settings.sandbox_port if port is None else port,
            keep=keep,
            database=database or DEFAULT_DATABASE,
            banner=banner,
        )
    )


def install_event_loop() -> None:
    """uvloop where it is installed (everywhere but Windows): under load about a fifth of the
    bot's CPU is the event loop and its sockets, and uvloop's are cheaper. PTB's run_polling
    and run_webhook take the loop set here (bench/echo_bot.py's mirror bot does the same)."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop(uvloop.new_event_loop())


SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005

# A stop (SIGTERM, SIGINT) ends the process within this many seconds, whatever hangs: the
# database down, the Bot API down, a 429 being waited out. Nothing is lost by ending there:
# every update is in the inbox and every message in the outbox or owed, for the next start.
# The promise to operators is 10 s; the timer leaves 3 s for a loaded machine to deliver the
# signal and tear the process down.
STOP_DEADLINE = 7.0


def run_bot(settings: Settings) -> None:
    from bot.app import build_application

    install_event_loop()
    # A worker thread busy in Python (an XLSX export, a chart) holds the GIL for up to the switch
    # interval each time the loop's thread lets it go, which it does at every SQLite statement
    # and socket call: at the default 5 ms every chat's answers slowed tenfold meanwhile
    # (bench/busy.py). A shorter interval hands the GIL back sooner.
    sys.setswitchinterval(SWITCH_INTERVAL)
    app = build_application(settings)
    _stop_on_signals(app)
    if settings.webhook_url:
        secret = settings.webhook_secret_token
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.webhook_path,
            webhook_url=settings.webhook_url,
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=Update.ALL_TYPES,
            stop_signals=None,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=None)


def _stop_on_signals(app: NotebookApplication) -> None:
    """SIGTERM and SIGINT stop the bot: from that moment nothing new is taken up and nothing
    waits (bot/app.py: `stopping`), python-telegram-bot stops in its own order, and a timer
    ends the process at STOP_DEADLINE if some step still hangs."""
    loop = asyncio.get_event_loop()

    def stop(signum: int) -> None:
        if app.notebook.stopping.is_set():
            return
        log.info("stopping (%s)", signal.Signals(signum).name)
        app.notebook.stopping.set()
        timer = threading.Timer(STOP_DEADLINE, _exit_now)
        timer.daemon = True
        timer.start()
        app.stop_running()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)


def _exit_now() -> None:
    log.warning(
        "the stop took more than %.0f s; ending now (what was not finished is kept for the "
        "next start)",
        STOP_DEADLINE,
    )
    logging.shutdown()
    os._exit(0)


def _database(settings: Settings) -> Database:
    """The database, with the phone key when there is one (never generating one here)."""
    from bot.operations import resolve_phone_key
    from storage.db import Database

    db = Database(settings.database_url)
    db.set_phone_key(resolve_phone_key(settings, create=False))
    return db


async def db_upgrade(settings: Settings) -> None:
    from storage import migrate

    db = _database(settings)  # with the key, the migrations encrypt phones as they go
    try:
        await migrate.upgrade(db)
        print(f"database at revision {await migrate.current_revision(db)}")
    finally:
        await db.dispose()


async def db_downgrade(settings: Settings, revision: str) -> None:
    from storage import migrate

    db = _database(settings)
    try:
        await migrate.downgrade(db, revision)
        print(f"database at revision {await migrate.current_revision(db) or 'base (empty)'}")
    except RuntimeError as exc:  # a migration that cannot go back without something
        raise CommandRefused(str(exc)) from None
    finally:
        await db.dispose()


def _now() -> datetime:
    from storage.types import utcnow

    return utcnow()


def _pg_dump_recipe(settings: Settings, target: str) -> str:
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(settings.database_url)
    # without the password: pg_dump takes it from ~/.pgpass or PGPASSWORD
    url = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    )
    return (
        "PostgreSQL is backed up with pg_dump, not with this command: "
        f"pg_dump --format=custom --file={target} '{url.render_as_string()}' "
        "(restore: pg_restore --clean --if-exists -d <database> FILE; see docs/operations.md)"
    )


def backup(settings: Settings, target: Path) -> None:
    from storage.backup import BackupError, backup_sqlite

    database = settings.sqlite_path
    if database is None:
        raise CommandRefused(_pg_dump_recipe(settings, str(target)))
    try:
        info = backup_sqlite(database, target, now=_now())
    except BackupError as exc:
        raise CommandRefused(str(exc)) from None
    print(f"backup written: {info.summary()}")
    print("The phone numbers in it are encrypted: keep the key (PHONE_ENCRYPTION_KEY) apart.")


def restore(settings: Settings, source: Path) -> None:
    from storage import migrate
    from storage.backup import BackupError, restore_sqlite
    from storage.health import PRESENCE_FRESH

    database = settings.sqlite_path
    if database is None:
        raise CommandRefused(
            "restore is for SQLite; a PostgreSQL dump goes back with "
            "pg_restore --clean --if-exists -d <database> FILE (docs/operations.md)"
        )
    try:
        result = restore_sqlite(
            source,
            database,
            now=_now(),
            known_revisions=migrate.known_revisions(),
            fresh=PRESENCE_FRESH,
        )
    except BackupError as exc:
        raise CommandRefused(str(exc)) from None
    print(f"restored: {result.restored.summary()}")
    if result.previous is not None:
        print(f"the database it replaced is kept at {result.previous}")
    if result.restored.revision not in migrate.head_revisions():
        print(
            "it is at an older revision: the bot upgrades it at start "
            "(or: python -m bot db upgrade)"
        )


CLI_ANSWER_WITHIN = 10.0  # seconds: a command may start cold; the endpoint allows 2


async def status(settings: Settings, as_json: bool, *, now: datetime | None = None) -> int:
    """Print the health report: exit status 0 when ok, 1 when degraded, each reason on its own
    line (`degraded: …`). `now`: tests pass their clock."""
    from storage.health import health_report

    db = _database(settings)
    try:
        report = await health_report(db, now=now or _now(), answer_within=CLI_ANSWER_WITHIN)
    finally:
        await db.dispose()
    code = 0 if report.status == "ok" else 1
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return code
    print(f"status: {report.status}")
    for reason in report.reasons:
        print(f"degraded: {reason}")
    if report.database == "unreachable":
        print(f"database: {report.database_error}")
        return code
    print(f"database: reachable, revision {report.revision}")
    if report.database_error:  # reachable, but not the schema this version expects
        return code
    if report.last_update_at is None:
        print("last update processed: never")
    else:
        print(
            f"last update processed: {report.last_update_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({report.last_update_age_seconds:.0f} s ago)"
        )
    line = f"outbox: {report.outbox_pending} waiting"
    if report.outbox_oldest_due_at is not None:
        line += (
            f", oldest due {report.outbox_oldest_due_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({report.outbox_oldest_due_age_seconds:.0f} s ago)"
        )
    print(line + f"; {report.outbox_failed_last_day} failed in the last 24 h")
    for item in report.attention:
        print(f"attention: {item}")
    if not report.instances:
        print("instances: none running")
    for instance in report.instances:
        print(
            f"instance: {instance['name']} ({instance.get('mode', '?')}), "
            f"seen {instance['seen_at']}"
        )
    return code


async def db_revision(settings: Settings, message: str, rev_id: str | None) -> None:
    from storage import migrate
    from storage.db import Database

    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        await migrate.autogenerate(db, message, rev_id)
    finally:
        await db.dispose()


async def bot_username(settings: Settings) -> str:
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    async with Bot(
        settings.token(), base_url=settings.telegram_api_base_url, base_file_url=settings.file_url
    ) as bot:
        return bot.username


async def community_create(settings: Settings, name: str, buildings: Sequence[str]) -> None:
    # The link needs the bot's username: without a token (and no TELEGRAM_BOT_USERNAME) stop
    # here with the one settings line, before anything else is loaded or logged.
    username = await bot_username(settings)

    from handlers.shared.common import deep_link
    from storage import migrate
    from storage.communities import add_building, create_community, new_secretary_link
    from storage.db import Database
    from storage.residents import add_unit
    from storage.types import utcnow

    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        async with db.session() as session:
            now = utcnow()
            community = await create_community(
                session,
                name=name,
                timezone=settings.timezone,
                default_locale=settings.default_locale,
                now=now,
            )
            assert community.id is not None
            for order, spec in enumerate(b for b in buildings if b.strip()):
                building_name, _sep, units = spec.partition("=")
                building = await add_building(
                    session, community_id=community.id, name=building_name, sort_order=order
                )
                assert building.id is not None
                for unit_order, unit in enumerate(u for u in units.split(",") if u.strip()):
                    await add_unit(
                        session, building_id=building.id, name=unit, sort_order=unit_order
                    )
            link, _revoked = await new_secretary_link(
                session, community_id=community.id, now=now, ttl=_secretary_ttl(settings)
            )
    finally:
        await db.dispose()
    print(f"community {community.id}: {community.name}")
    _print_secretary_link(settings, deep_link(username, link.token), link.expires_at)


def _secretary_ttl(settings: Settings) -> timedelta:
    return timedelta(hours=settings.secretary_link_ttl_hours)


def _print_secretary_link(settings: Settings, url: str, expires_at: datetime | None) -> None:
    assert expires_at is not None
    until = expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z")
    print(f"Open this link in Telegram to become its secretary (it works once, until {until}):")
    print(url)
    print(
        "A new link, if this one is lost or has expired: "
        "python -m bot community secretary-link <community number>"
    )


async def community_secretary_link(settings: Settings, community_id: int) -> None:
    """A new secretary link for an existing community; the older unused ones are revoked."""
    username = await bot_username(settings)

    from handlers.shared.common import deep_link
    from storage import migrate
    from storage.communities import new_secretary_link
    from storage.db import Database
    from storage.models import Community
    from storage.types import utcnow

    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
        async with db.session() as session:
            community = await session.get(Community, community_id)
            if community is None:
                raise CommandRefused(f"there is no community {community_id}")
            link, revoked = await new_secretary_link(
                session, community_id=community_id, now=utcnow(), ttl=_secretary_ttl(settings)
            )
    finally:
        await db.dispose()
    print(f"community {community_id}: {community.name}")
    if revoked:
        print(f"{revoked} older secretary link(s) no longer work.")
    _print_secretary_link(settings, deep_link(username, link.token), link.expires_at)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        if args.command is None and settings.telegram_bot_token is None:
            run_sandbox(settings, banner=NO_TOKEN_SANDBOX)
        elif args.command in (None, "run"):
            settings.token()
            run_bot(settings)
        elif args.command == "sandbox":
            run_sandbox(
                settings,
                banner=SANDBOX,
                port=args.port,
                keep=args.keep,
                database=args.database,
            )
        elif args.command == "db" and args.db_command == "upgrade":
            asyncio.run(db_upgrade(settings))
        elif args.command == "db" and args.db_command == "downgrade":
            asyncio.run(db_downgrade(settings, args.revision))
        elif args.command == "db" and args.db_command == "revision":
            asyncio.run(db_revision(settings, args.message, args.rev_id))
        elif args.command == "community" and args.community_command == "create":
            asyncio.run(community_create(settings, args.name, args.building))
        elif args.command == "community" and args.community_command == "secretary-link":
            asyncio.run(community_secretary_link(settings, args.community_id))
        elif args.command == "backup":
            backup(settings, args.path)
        elif args.command == "restore":
            restore(settings, args.path)
        elif args.command == "status":
            return asyncio.run(status(settings, args.json))
        elif args.command == "keygen":
            from storage.crypto import new_key

            print(new_key())
        else:
            _parser().print_help()
            return 1
    except SettingsError as exc:
        print(f"community-notebook: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except (ValueError, CommandRefused) as exc:
        print(f"community-notebook: {exc}", file=sys.stderr)
        return 1
    except SandboxError as exc:
        print(f"community-notebook: {exc}", file=sys.stderr)
        return 1
    return 0
