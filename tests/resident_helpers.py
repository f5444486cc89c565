"""Helpers for the resident-side flow tests: joined residents, staff, and reading the notebook."""

from __future__ import annotations

from sqlmodel import select

from emulator import BotApiEmulator
from emulator.driver import GroupDriver, UserDriver
from emulator.models import BotMessage
from storage.db import Database
from storage.models import Attachment, Building, Community, Issue, Outbox, Person, Role
from tests.factories import make_member


async def building_ids(db: Database, community: Community) -> list[int]:
    async with db.session() as session:
        rows = await session.exec(
            select(Building.id).where(Building.community_id == community.id).order_by(Building.id)  # type: ignore[arg-type]
        )
        return [int(i) for i in rows.all() if i is not None]


async def join(
    db: Database,
    community: Community,
    user: UserDriver,
    role: Role = Role.RESIDENT,
    *,
    building: int | None = 0,
) -> Person:
    """`user` as a member of `community` (living in its `building`-th building)."""
    ids = await building_ids(db, community)
    async with db.session() as session:
        return await make_member(
            session,
            community,
            role,
            name=user.first_name,
            telegram_user_id=user.id,
            building_id=ids[building] if building is not None and ids else None,
        )


async def bind_staff_group(
    db: Database, community: Community, emulator: BotApiEmulator
) -> GroupDriver:
    """A real staff group in the emulator, bound to the community the way /bind does."""
    from storage import staff

    group = emulator.group(title="社区工作群")
    async with db.session() as session:
        row = await session.get(Community, community.id)
        assert row is not None
        await staff.bind_staff_group(session, community=row, chat_id=group.id, now=row.created_at)
    return group


async def issues(db: Database) -> list[Issue]:
    async with db.session() as session:
        return list((await session.exec(select(Issue).order_by(Issue.id))).all())  # type: ignore[arg-type]


async def only_issue(db: Database) -> Issue:
    found = await issues(db)
    assert len(found) == 1, found
    return found[0]


async def attachments(db: Database, issue: Issue) -> list[Attachment]:
    async with db.session() as session:
        rows = await session.exec(select(Attachment).where(Attachment.issue_id == issue.id))
        return list(rows.all())


async def outbox_rows(db: Database, kind: str | None = None) -> list[Outbox]:
    async with db.session() as session:
        query = select(Outbox)
        if kind is not None:
            query = query.where(Outbox.kind == kind)
        return list((await session.exec(query.order_by(Outbox.id))).all())  # type: ignore[arg-type]


async def report_with_taps(user: UserDriver, text: str, category: str) -> tuple[int, BotMessage]:
    """Write `text`, then answer with buttons: category, no photo, not urgent, send.
    Returns how many buttons were pressed, and the final message."""
    await user.send(text)
    taps = 0
    question = await user.expect_message(contains="What is the problem about?")
    await user.press(question, category)
    taps += 1
    await user.expect_edit(question, contains="photo")
    await user.press(question, "No photo")
    taps += 1
    await user.expect_edit(question, contains="Is anyone in danger")
    await user.press(question, "No")
    taps += 1
    await user.expect_edit(question, contains="Please check your report")
    await user.press(question, "✅ Send")
    taps += 1
    await user.expect_edit(question, contains="Your issue is No.")
    return taps, question


async def say_me_too(user: UserDriver, text: str = "The same light is broken here") -> None:
    """`user` writes up a problem in Public facilities, is offered open issue No. 1 of their
    building, and backs it instead of reporting."""
    await user.send(text)
    question = await user.expect_message(contains="What is the problem about?")
    await user.press(question, "Public facilities")
    await user.expect_edit(question, contains="already reported")
    await user.press(question, "No. 1 is my problem too")
    await user.expect_edit(question, contains="You now back No. 1")
