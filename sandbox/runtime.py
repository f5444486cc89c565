"""Running the sandbox: the project's Bot API emulator, the real bot (the same
`build_application` as production) polling it over HTTP, and the demo community, in one process
on 127.0.0.1. Nothing here ever talks to the real Telegram: the settings are pointed at the
emulator and checked (`ensure_local`) before the bot is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import col, select
from telegram import Update

from bot.app import NotebookApplication, build_application, on_startup, on_stop
from bot.jobs import run_reminders
from delivery import dispatch
from emulator import BotApiEmulator, GroupDriver, UserDriver
from runtime.settings import Settings, load_settings
from sandbox import demo
from sandbox.clock import Jump, SandboxClock
from storage import migrate
from storage.communities import list_communities
from storage.db import Database
from storage.models import STAFF_ROLES, Membership, Person, Role
from storage.staff import bind_staff_group

# A token only the emulator knows; it has the shape PTB and the settings expect.
SANDBOX_TOKEN = "1000000001:sandbox-local-only"
SANDBOX_BOT_USERNAME = "notebook_sandbox_bot"
SANDBOX_BOT_NAME = "社区民情本"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class NotLocal(RuntimeError):
    """The sandbox was about to talk to something other than its own emulator."""


def ensure_local(url: str) -> None:
    """Refuse any Bot API address that is not this machine (above all api.telegram.org)."""
    host = (urlsplit(url).hostname or "").lower()
    if host not in LOCAL_HOSTS or "telegram.org" in url.lower():
        raise NotLocal(f"the sandbox only talks to its own emulator on 127.0.0.1, not {url!r}")


# Demo data only, never a real notebook's key: the made-up phones need one too.
SANDBOX_PHONE_KEY = "fhqNTY5osfirmtuWK2F8np_oaDdOX4yZekBc7XCEovM="


def sandbox_settings(emulator: BotApiEmulator, database_url: str, **overrides: Any) -> Settings:
    """The settings the bot runs with in the sandbox: everything from the environment (time
    zone, reminder times…) except where it talks to, what it stores in, and its identity."""
    values: dict[str, Any] = {
        # the sandbox's made-up phones need a key too; one fixed key keeps --keep readable
        "phone_encryption_key": SANDBOX_PHONE_KEY,
        **overrides,
        "telegram_bot_token": emulator.token,
        "telegram_api_base_url": emulator.base_url,
        "telegram_api_file_url": emulator.base_file_url,
        "telegram_bot_username": emulator.bot_username,
        "database_url": database_url,
        "webhook_url": None,
        "webhook_secret_token": None,
    }
    settings = load_settings(**values)
    ensure_local(settings.telegram_api_base_url)
    ensure_local(settings.file_url)
    return settings


@dataclass
class Sandbox:
    """A running sandbox; the web page (sandbox/web.py) acts through it."""

    emulator: BotApiEmulator
    app: NotebookApplication
    clock: SandboxClock
    db: Database
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def settings(self) -> Settings:
        return self.app.notebook.settings

    def user(self, telegram_user_id: int) -> UserDriver:
        record = self.emulator.users[telegram_user_id]
        return UserDriver(self.emulator, record, self.emulator.chats[telegram_user_id])

    def group(self, chat_id: int) -> GroupDriver:
        chat = self.emulator.chats[chat_id]
        if chat.type not in ("group", "supergroup"):
            raise KeyError(chat_id)
        return GroupDriver(self.emulator, chat)

    async def jump(self, jump: Jump) -> tuple[datetime, int]:
        """Move the clock forward, then plan and send the reminders now due, at once."""
        settings = self.settings
        now = self.clock.jump(jump, tz=settings.tz, policy=settings.reminder_policy)
        self.emulator.signal.fire()  # the page shows the new time before the reminders arrive
        queued = await run_reminders(self.app)
        return now, queued


async def _populate_emulator(emulator: BotApiEmulator, db: Database, clock: SandboxClock) -> None:
    """Every person in the notebook with a Telegram id becomes an emulated user who has
    talked to the bot before; each community gets a staff group with the bot, the secretary
    and the workers in it, bound to the community through the domain function."""
    async with db.session() as session:
        people = (
            await session.exec(
                select(Person)
                .where(col(Person.telegram_user_id).is_not(None))
                .order_by(col(Person.id))
            )
        ).all()
        drivers: dict[int, UserDriver] = {}
        for person in people:
            assert person.telegram_user_id is not None and person.id is not None
            drivers[person.id] = emulator.user(
                first_name=person.full_name or str(person.telegram_user_id),
                username=person.username,
                language_code=person.telegram_language_code,
                user_id=person.telegram_user_id,
                started=True,
            )
        for community in await list_communities(session):
            staff = (
                await session.exec(
                    select(Membership).where(
                        Membership.community_id == community.id,
                        col(Membership.active).is_(True),
                        col(Membership.role).in_([str(r) for r in STAFF_ROLES]),
                    )
                )
            ).all()
            in_group = [drivers[m.person_id] for m in staff if m.person_id in drivers]
            owner = next(
                (
                    drivers[m.person_id]
                    for m in staff
                    if m.role == Role.SECRETARY and m.person_id in drivers
                ),
                None,
            )
            group = emulator.group(
                demo.staff_group_title(community.name),
                owner=owner,
                members=[d for d in in_group if d is not owner],
            )
            await bind_staff_group(session, community=community, chat_id=group.id, now=clock())


async def _seed(db: Database, settings: Settings, clock: SandboxClock) -> None:
    async with db.session() as session:
        await demo.seed(
            session,
            now=clock(),
            limits=settings.time_limits,
            timezone=settings.timezone,
            default_locale=settings.default_locale,
        )


async def _has_communities(db: Database) -> bool:
    async with db.session() as session:
        return bool(await list_communities(session))


@asynccontextmanager
async def running_sandbox(
    *,
    db: Database,
    clock: SandboxClock,
    fresh: bool = True,
    settings_overrides: dict[str, Any] | None = None,
) -> AsyncIterator[Sandbox]:
    """The emulator, the demo notebook in `db` (seeded unless `fresh` is False and it has a
    community already), and the bot polling the emulator; stopped when the block ends."""
    async with BotApiEmulator(
        token=SANDBOX_TOKEN,
        bot_username=SANDBOX_BOT_USERNAME,
        bot_first_name=SANDBOX_BOT_NAME,
        clock=lambda: clock().timestamp(),
        host="127.0.0.1",
        port=0,
    ) as emulator:
        settings = sandbox_settings(emulator, db.url, **(settings_overrides or {}))
        await migrate.upgrade(db)
        app = build_application(settings, db=db, clock=clock)
        ensure_local(app.bot.base_url)  # what PTB will really call, after all the wiring
        ensure_local(app.bot.base_file_url)
        seed = fresh or not await _has_communities(db)
        if seed:
            await _seed(db, settings, clock)
        await _populate_emulator(emulator, db, clock)
        if seed:
            async with db.session() as session:
                await demo.announce(session, now=clock(), renderable=app.notebook.renderers.by_kind)
        await app.initialize()
        await on_startup(app)
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=10, allowed_updates=Update.ALL_TYPES
        )
        dispatch.kick(app)  # the demo's news goes out now, not at the first periodic poll
        sandbox = Sandbox(emulator=emulator, app=app, clock=clock, db=db)
        try:
            yield sandbox
        finally:
            sandbox.stopping.set()
            emulator.signal.fire()  # wake the page's event streams so they end
            await app.updater.stop()
            await app.stop()
            await on_stop(app)  # what run_polling does next (post_stop)
            await app.shutdown()
