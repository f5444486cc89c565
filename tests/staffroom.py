"""Setting the scene for staff-side flow tests: a community with its secretary, two workers and
a resident, the staff group in the emulator, and issues reported the way the resident side
does it (`create_issue` + `issue_opened`, then the outbox posts the card)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select

from bot.app import NotebookApplication
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator, CallbackAnswer
from emulator.driver import GroupDriver, UserDriver
from emulator.models import BotMessage
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.issues import NewAttachment
from storage.models import Building, Community, Issue, IssueEvent, Role, Urgency
from storage.notifications import issue_opened
from tests.factories import FakeClock, make_community, make_member

PHONE = "+86 138 0000 1234"


@dataclass
class Staffroom:
    community: Community
    group: GroupDriver
    secretary: UserDriver  # 谢兰
    wang: UserDriver  # a worker
    li: UserDriver  # another worker
    xu: UserDriver  # a resident who left a phone number
    person_ids: dict[int, int]  # Telegram user id -> Person id
    building_id: int

    def pid(self, user: UserDriver) -> int:
        return self.person_ids[user.id]


async def staffroom(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    *,
    name: str = "邢家桥社区",
    locale: str = "zh_Hans",
    names: tuple[str, str, str, str] = ("谢兰", "王网格", "李网格", "老许"),
) -> Staffroom:
    community = await make_community(db, clock, name=name)
    language = "en" if locale == "en" else "zh-hans"
    users = [emulator.user(first_name=n, language_code=language) for n in names]
    roles = (Role.SECRETARY, Role.WORKER, Role.WORKER, Role.RESIDENT)
    person_ids = {}
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None
        stored.default_locale = locale
        building = (
            await session.exec(select(Building).where(Building.community_id == community.id))
        ).first()
        assert building is not None and building.id is not None
        for user, role in zip(users, roles, strict=True):
            person = await make_member(
                session, stored, role, name=user.first_name, telegram_user_id=user.id
            )
            if role is Role.RESIDENT:
                person.phone = PHONE
            assert person.id is not None
            person_ids[user.id] = person.id
    community.default_locale = locale
    group = emulator.group(title=f"{name}工作群", members=users[:3])
    return Staffroom(community, group, *users, person_ids, building.id)  # type: ignore[arg-type]


async def bind(room: Staffroom, by: UserDriver | None = None) -> BotMessage:
    await room.group.send(by or room.secretary, "/bind")
    return await room.group.expect_message(
        predicate=lambda m: "工作群" in m.text or "staff group" in m.text
    )


async def report(
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    community: Community,
    *,
    reporter_id: int | None,
    description: str = "3栋2单元的楼道灯坏了三天，晚上看不见台阶。",
    category: str = "facilities",
    photos: int = 0,
    building_id: int | None = None,
    urgency: Urgency = Urgency.NORMAL,
    location: tuple[float, float] | None = None,
) -> Issue:
    """A resident's report as the resident side files it: the issue, then its staff card queued."""
    attachments = []
    for _ in range(photos):
        photo = emulator.user_photo_body(None, None)["photo"][-1]
        attachments.append(
            NewAttachment(
                kind="photo",
                telegram_file_id=photo["file_id"],
                file_unique_id=photo["file_unique_id"],
            )
        )
    async with db.session() as session:
        assert community.id is not None
        issue = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=reporter_id,
            category=category,
            description=description,
            building_id=building_id,
            urgency=urgency,
            latitude=location[0] if location else None,
            longitude=location[1] if location else None,
            now=clock(),
            limits=TimeLimits(),
            attachments=attachments,
        )
        await issue_opened(session, issue, now=clock())
    return issue


async def post_cards(app: NotebookApplication, clock: FakeClock) -> None:
    await dispatch_due(app, now=clock())


async def card_of_a_new_report(
    app: NotebookApplication,
    emulator: BotApiEmulator,
    room: Staffroom,
    db: Database,
    clock: FakeClock,
) -> tuple[Issue, BotMessage]:
    """The staff group is bound, 老许 reports a problem and its card is posted: the issue and
    the card."""
    await bind(room)
    issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
    await post_cards(app, clock)
    return issue, await room.group.expect_message(contains="1号 · ")


async def claimed_card(
    app: NotebookApplication,
    emulator: BotApiEmulator,
    room: Staffroom,
    db: Database,
    clock: FakeClock,
    worker: UserDriver,
    name: str,
) -> tuple[Issue, BotMessage]:
    """As `card_of_a_new_report`, and `worker` (called `name`) has claimed it from the card."""
    issue, card = await card_of_a_new_report(app, emulator, room, db, clock)
    await room.group.press(worker, card, "认领")
    await room.group.expect_edit(card, contains=f"负责人：{name}")
    return issue, card


async def snapshot(db: Database, issue_id: int) -> tuple[str, int, int | None, int, int]:
    """What a refused press must not change: status, version, owner, events, support."""
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        events = (
            await session.exec(
                select(func.count()).select_from(IssueEvent).where(IssueEvent.issue_id == issue_id)
            )
        ).one()
        return issue.status, issue.version, issue.owner_id, events, issue.support_count


async def events_of(db: Database, issue_id: int) -> list[IssueEvent]:
    async with db.session() as session:
        rows = await session.exec(
            select(IssueEvent)
            .where(IssueEvent.issue_id == issue_id)
            .order_by(col(IssueEvent.at), col(IssueEvent.id))
        )
        return list(rows.all())


async def load(db: Database, issue_id: int) -> Issue:
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        return issue


MORE = ("更多…", "More…", "‹ 返回", "‹ Back")  # to the next page; from the last, the first


async def press_on_card(
    group: GroupDriver, user: UserDriver, card: BotMessage, label: str
) -> CallbackAnswer:
    """Press `label` on a card, first tapping "More…" as a worker does until it shows (a card
    shows six buttons at a time, handlers/staff/cards.py: `card_pages`)."""
    for _ in range(6):
        if card.button(label) is not None:
            return await group.press(user, card, label)
        more = next((text for text in MORE if card.button(text) is not None), None)
        if more is None:
            break
        await group.press(user, card, more)
        await group.expect_edit(card)
    raise AssertionError(f"no button {label!r} on any page of the card: {card.button_texts()}")
