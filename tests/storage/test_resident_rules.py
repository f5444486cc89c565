"""The resident side's domain rules, tested directly with the clock passed in: which question a
draft still lacks, the spam guard's count, finding a resident, and the follow-up timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.followups import (
    FOLLOWUP_REMINDER,
    NOT_SOLVED,
    answer,
    close_unanswered_followups,
    queue_reminder,
)
from storage.issue_lifecycle import NotPermitted, TransitionNotAllowed
from storage.models import (
    Building,
    Community,
    FollowUpResult,
    Issue,
    IssueStatus,
    Outbox,
    OutboxStatus,
    Role,
    Satisfaction,
)
from storage.reports import ReportDraft, Step, next_step, reports_in_last_hour
from storage.residents import find_residents, normalise_phone, set_phone
from tests.factories import FakeClock, make_community, make_member

DAYS = timedelta(days=3)


def test_a_draft_asks_only_what_is_missing_in_order() -> None:
    draft = ReportDraft(community_id=None)
    assert next_step(draft) is Step.JOIN
    draft.community_id = 1
    draft.add_text("楼道灯坏了三天了")
    assert next_step(draft) is Step.CATEGORY
    draft.category = "facilities"
    assert next_step(draft) is Step.DUPLICATES
    draft.duplicates_checked = True
    assert next_step(draft) is Step.MEDIA  # the description is there already
    draft.media_done = True
    assert next_step(draft) is Step.URGENCY
    draft.urgency = "normal"
    assert next_step(draft) is Step.CONFIRM
    assert ReportDraft.load(draft.dump()) == draft


def test_a_log_draft_first_asks_channel_resident_and_building() -> None:
    draft = ReportDraft(community_id=1, channel=None, logged_by_id=7)
    assert next_step(draft) is Step.CHANNEL
    draft.channel = "phone"
    assert next_step(draft) is Step.WHO
    draft.who = "offline"
    assert next_step(draft) is Step.WHO_NAME
    draft.reporter_name = "周奶奶"
    assert next_step(draft) is Step.WHO_PHONE
    draft.phone_asked = True
    assert next_step(draft) is Step.BUILDING
    draft.building_asked = True
    assert next_step(draft) is Step.CATEGORY


def test_phone_numbers_are_digits_or_nothing() -> None:
    assert normalise_phone("+86 138-0000-0000") == "13800000000"
    assert normalise_phone("023 6888 1234") == "02368881234"
    assert normalise_phone("no idea") is None
    assert normalise_phone("12") is None


async def _community_with_people(db: Database, clock: FakeClock):
    community = await make_community(db, clock)
    async with db.session() as session:
        building = (await session.exec(select(Building).order_by(Building.id))).first()  # type: ignore[arg-type]
        assert building is not None
        xu = await make_member(session, community, name="老许", building_id=building.id)
        await set_phone(session, xu, "+86 138 0000 1234")
        li = await make_member(session, community, name="李阿姨")
        worker = await make_member(session, community, Role.WORKER, name="王网格")
    return community, building, xu, li, worker


async def test_find_residents_by_name_phone_or_building_not_staff(
    db: Database, clock: FakeClock
) -> None:
    community, building, xu, li, _worker = await _community_with_people(db, clock)
    other = await make_community(db, clock, name="别的社区")
    async with db.session() as session:
        await make_member(session, other, name="老许")  # same name, another community
        cid = community.id or 0

        async def names(query: str) -> list[str]:
            return [
                p.full_name
                for p, _m in await find_residents(session, community_id=cid, query=query)
            ]

        assert await names("许") == ["老许"]
        assert await names("138 0000 1234") == ["老许"]
        assert await names("+86 13800001234") == ["老许"]
        assert await names("１３８００００１２３４") == ["老许"]
        assert await names("1234") == []  # a few digits enumerate nobody's phone
        assert await names("13800001235") == []
        assert await names(building.name) == ["老许"]
        assert await names("阿姨") == ["李阿姨"]
        assert await names("王网格") == []  # staff are not residents to log for
        assert await names("  ") == []
    assert li.id != xu.id


async def test_the_spam_guard_counts_own_reports_of_the_last_hour(
    db: Database, clock: FakeClock
) -> None:
    community, _building, xu, li, worker = await _community_with_people(db, clock)
    async with db.session() as session:
        for reporter, logged_by in ((xu, None), (xu, None), (xu, worker), (li, None)):
            await rules.create_issue(
                session,
                community_id=community.id or 0,
                category="noise",
                description="吵",
                now=clock(),
                limits=TimeLimits(),
                reporter_id=reporter.id,
                logged_by_id=logged_by.id if logged_by else None,
            )
        assert await reports_in_last_hour(session, person_id=xu.id or 0, now=clock()) == 2
        later = clock() + timedelta(minutes=61)
        assert await reports_in_last_hour(session, person_id=xu.id or 0, now=later) == 0


async def _resolved_issue(db: Database, clock: FakeClock, *, owner: bool = True):
    community, _building, xu, _li, worker = await _community_with_people(db, clock)
    async with db.session() as session:
        issue = await rules.create_issue(
            session,
            community_id=community.id or 0,
            category="facilities",
            description="灯坏了",
            now=clock(),
            limits=TimeLimits(),
            reporter_id=xu.id,
        )
        if owner:
            await rules.claim(session, issue, actor_id=worker.id or 0, now=clock())
        else:
            await rules.accept(session, issue, actor_id=worker.id or 0, now=clock())
        await rules.resolve(session, issue, note="修好了", actor_id=worker.id or 0, now=clock())
        await queue_reminder(
            session,
            issue,
            chat_id=xu.telegram_user_id or 0,
            person_id=xu.id,
            reminder_after=DAYS,
            now=clock(),
        )
    return community, issue, xu, worker


async def test_unanswered_follow_ups_close_after_twice_the_reminder_time(
    db: Database, clock: FakeClock
) -> None:
    _community, issue, _xu, _worker = await _resolved_issue(db, clock)
    async with db.session() as session:
        reminder = (
            await session.exec(select(Outbox).where(Outbox.kind == FOLLOWUP_REMINDER))
        ).one()
        assert reminder.due_at == clock() + DAYS
        almost = clock() + 2 * DAYS - timedelta(minutes=1)
        assert await close_unanswered_followups(session, almost, reminder_after=DAYS) == []
        closed = await close_unanswered_followups(session, clock() + 2 * DAYS, reminder_after=DAYS)
        assert [i.id for i in closed] == [issue.id]
        again = await close_unanswered_followups(session, clock() + 3 * DAYS, reminder_after=DAYS)
        assert again == []
        fresh = await session.get(Issue, issue.id)
        assert fresh is not None and fresh.status == IssueStatus.CLOSED
        assert fresh.followup_result is None  # counted as not followed up
        await session.refresh(reminder)
        assert reminder.status == OutboxStatus.CANCELLED


async def test_a_reopened_issue_drops_its_pending_reminder(db: Database, clock: FakeClock) -> None:
    _community, issue, _xu, worker = await _resolved_issue(db, clock)
    async with db.session() as session:
        fresh = await session.get(Issue, issue.id)
        assert fresh is not None
        await rules.reopen(session, fresh, reason="还是坏的", actor_id=worker.id, now=clock())
        await close_unanswered_followups(session, clock() + timedelta(hours=1), reminder_after=DAYS)
        reminder = (
            await session.exec(select(Outbox).where(Outbox.kind == FOLLOWUP_REMINDER))
        ).one()
        assert reminder.status == OutboxStatus.CANCELLED


async def test_only_the_reporter_answers_and_not_solved_tells_the_owner(
    db: Database, clock: FakeClock
) -> None:
    _community, issue, xu, worker = await _resolved_issue(db, clock)
    async with db.session() as session:
        fresh = await session.get(Issue, issue.id)
        assert fresh is not None
        with pytest.raises(NotPermitted):
            await answer(
                session,
                fresh,
                result=FollowUpResult.SOLVED,
                satisfaction=Satisfaction.SATISFIED,
                comment=None,
                person_id=worker.id or 0,
                now=clock(),
            )
        await answer(
            session,
            fresh,
            result=FollowUpResult.NOT_SOLVED,
            satisfaction=Satisfaction.SATISFIED,
            comment="还是不亮",
            person_id=xu.id or 0,
            now=clock(),
        )
        assert fresh.status == IssueStatus.ASSIGNED and fresh.satisfaction is None
        told = (await session.exec(select(Outbox).where(Outbox.kind == NOT_SOLVED))).one()
        assert told.chat_id == worker.telegram_user_id and told.person_id == worker.id
        with pytest.raises(TransitionNotAllowed):  # answered already: open again
            await answer(
                session,
                fresh,
                result=FollowUpResult.SOLVED,
                satisfaction=None,
                comment=None,
                person_id=xu.id or 0,
                now=clock(),
            )


async def test_not_solved_without_an_owner_goes_to_the_staff_group(
    db: Database, clock: FakeClock
) -> None:
    community, issue, xu, _worker = await _resolved_issue(db, clock, owner=False)
    async with db.session() as session:
        row = await session.get(Community, community.id)
        assert row is not None
        row.staff_chat_id = -100777
        session.add(row)
        fresh = await session.get(Issue, issue.id)
        assert fresh is not None
        await answer(
            session,
            fresh,
            result=FollowUpResult.NOT_SOLVED,
            satisfaction=None,
            comment=None,
            person_id=xu.id or 0,
            now=clock(),
        )
        told = (await session.exec(select(Outbox).where(Outbox.kind == NOT_SOLVED))).one()
        assert told.chat_id == -100777 and told.person_id is None
