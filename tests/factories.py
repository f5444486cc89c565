"""Small factories for tests: a clock, settings pointed at the emulator, a running bot, data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.app import NotebookApplication, build_application, on_startup, on_stop
from runtime.settings import Settings, load_settings
from storage.communities import add_building, create_community, create_invite
from storage.db import Database
from storage.models import Community, Person, Role

if TYPE_CHECKING:
    from emulator import BotApiEmulator

TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "notebook_bot"
PHONE_KEY = "JTX01NXBZLZiCqHnhxrllogDhvA6OpHIrhgZEM_KDEU="  # a Fernet key for tests only


@dataclass
class FakeClock:
    """A clock tests move by hand: `clock()` is now, `clock.advance(hours=1)` moves it."""

    current: datetime = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Chongqing

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def make_settings(emulator: BotApiEmulator, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": emulator.base_url,
        "telegram_api_file_url": emulator.base_file_url,
        "database_url": database_url,
        "phone_encryption_key": PHONE_KEY,
        "_env_file": None,
        # Tests send bursts to one chat or group in a second; pacing has its own test.
        "rate_limit_group_per_minute": 100_000,
        "rate_limit_chat_per_second": 1_000,
        # A worker process for every bot of the suite would start the heavy imports hundreds of
        # times; files are made on a thread here, and tests/runtime/test_offload.py covers the
        # process.
        "offload_processes": False,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_bot(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, **overrides: Any
) -> AsyncIterator[NotebookApplication]:
    """The real Application from the production factory, polling the emulator over HTTP."""
    app = build_application(make_settings(emulator, db.url, **overrides), db=db, clock=clock)
    await app.initialize()
    await on_startup(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await on_stop(app)  # what run_polling does next (post_stop)
        await app.shutdown()


async def make_community(
    db: Database,
    clock: FakeClock,
    *,
    name: str = "邢家桥社区",
    buildings: tuple[str, ...] = ("1栋", "2栋", "3栋"),
) -> Community:
    async with db.session() as session:
        community = await create_community(
            session, name=name, timezone="Asia/Shanghai", default_locale="zh_Hans", now=clock()
        )
        assert community.id is not None
        for order, building in enumerate(buildings):
            await add_building(session, community_id=community.id, name=building, sort_order=order)
    return community


async def make_invite_token(
    db: Database, clock: FakeClock, community: Community, role: Role, **kwargs: Any
) -> str:
    assert community.id is not None
    async with db.session() as session:
        link = await create_invite(
            session, community_id=community.id, role=role, now=clock(), **kwargs
        )
    return link.token


async def make_member(
    session: Any,
    community: Community,
    role: Role = Role.RESIDENT,
    *,
    name: str = "老许",
    telegram_user_id: int | None = None,
    building_id: int | None = None,
) -> Person:
    """A person with a role in `community`, created through the domain functions."""
    from storage.communities import join_community
    from storage.people import TelegramIdentity, upsert_person

    global _next_user_id
    _next_user_id += 1
    person = await upsert_person(
        session,
        TelegramIdentity(
            user_id=telegram_user_id or _next_user_id,
            full_name=name,
            username=None,
            language_code="zh-hans",
        ),
    )
    await join_community(
        session, person=person, community=community, role=role, building_id=building_id
    )
    return person


_next_user_id = 9_000_000


async def make_cast(
    db: Database,
    emulator: BotApiEmulator,
    community: Community,
    cast: list[tuple[str, Role, str | None]],
) -> dict[str, Any]:
    """People of `community`, each a Telegram user reading English: (name, role, the building
    they live in or None). Their user drivers by name."""
    from sqlmodel import select

    from storage.models import Building

    users: dict[str, Any] = {}
    async with db.session() as session:
        buildings = {b.name: b.id for b in (await session.exec(select(Building))).all()}
        for name, role, building in cast:
            user = emulator.user(first_name=name, language_code="en")
            person = await make_member(
                session,
                community,
                role,
                name=name,
                telegram_user_id=user.id,
                building_id=buildings[building] if building else None,
            )
            person.locale = "en"
            session.add(person)
            users[name] = user
    return users


async def make_campaign(
    session: Any,
    community: Community,
    question: str,
    *,
    now: datetime,
    rows: list[Any] | None = None,
) -> Any:
    """A consent vote (Art. 278) on the community's first building, with `rows` as its
    households (HouseholdRow; by default rooms 101–401 of 80 m²), made by the domain functions
    and not yet open."""
    from decimal import Decimal

    from sqlmodel import select

    from storage import consent
    from storage.households import HouseholdRow
    from storage.models import Building, ConsentRule

    assert community.id is not None
    building = (
        await session.exec(select(Building).where(Building.community_id == community.id))
    ).first()
    assert building is not None and building.id is not None
    campaign = await consent.create_campaign(
        session,
        community_id=community.id,
        building_id=building.id,
        question=question,
        rule=ConsentRule.ART278,
        created_by_id=None,
        now=now,
    )
    if rows is None:
        rows = [HouseholdRow(str(r), None, Decimal("80"), None) for r in (101, 201, 301, 401)]
    await consent.save_households(session, campaign, rows, now=now)
    return campaign


async def record_vote(
    session: Any, campaign: Any, household: Any, choice: Any, *, now: datetime
) -> Any:
    """A household's vote recorded door to door by a worker of the campaign's community (made
    on first use), with the evidence: the way a test casts a verified vote without a phone."""
    from sqlmodel import select

    from storage import consent_votes
    from storage.models import Channel, Community, Membership, Role

    worker = (
        await session.exec(
            select(Membership).where(
                Membership.community_id == campaign.community_id,
                Membership.role == Role.WORKER,
            )
        )
    ).first()
    if worker is None:
        community = await session.get(Community, campaign.community_id)
        person = await make_member(session, community, Role.WORKER, name="门访网格员")
        worker_id = person.id
    else:
        worker_id = worker.person_id
    return await consent_votes.cast_vote(
        session,
        campaign,
        household,
        choice=choice,
        channel=Channel.VISIT,
        recorded_by_id=worker_id,
        evidence="signed form",
        now=now,
    )


def bot_errors(emulator: BotApiEmulator) -> list[Any]:
    """Errors the bot's own requests caused. getUpdates 409s are Telegram's normal answer to
    the long poll that shutdown abandons (the newer request terminates the older one)."""
    return [e for e in emulator.errors if e.method != "getUpdates"]


async def make_issue(
    session: Any,
    community: Community,
    reporter: Person,
    clock: FakeClock,
    description: str = "楼道灯坏了三天了",
    *,
    category: str = "facilities",
    **kwargs: Any,
) -> Any:
    """An issue opened the way the report flow opens one (storage.issues.create_issue)."""
    from storage.categories import TimeLimits
    from storage.issues import create_issue

    assert community.id is not None
    return await create_issue(
        session,
        community_id=community.id,
        reporter_id=reporter.id,
        category=category,
        description=description,
        now=clock(),
        limits=TimeLimits(),
        **kwargs,
    )
