"""The two clocks (storage/clocks.py), walked through one issue with the clock injected: reported →
reply-by clock running → overdue → answered late (missed, said once) → planned → due-date clock
running → overdue → resolved late; and the reminders each clock drives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from storage import clocks
from storage import issues as rules
from storage.clocks import ClockState
from storage.db import Database
from storage.models import Issue, Outbox, Role, Urgency
from storage.reminders import (
    DUE_SOON,
    OVERDUE,
    UNANSWERED,
    ReminderPolicy,
    due_soon_at,
    plan_reminders,
)
from storage.staff import todo_order
from tests.factories import FakeClock, make_community, make_issue, make_member

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in the community (UTC+8)


async def _kinds(db: Database, now: datetime) -> list[str]:
    async with db.session() as session:
        await plan_reminders(session, now=now, policy=ReminderPolicy())
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
    return [r.kind for r in rows]


async def test_one_issue_through_both_clocks(db: Database, clock: FakeClock) -> None:
    clock.current = START
    community = await make_community(db, clock)
    async with db.session() as session:
        worker = await make_member(
            session, community, Role.WORKER, name="王网格", telegram_user_id=7001
        )
        await make_member(session, community, Role.SECRETARY, name="谢兰", telegram_user_id=7002)
        resident = await make_member(session, community, name="老许", telegram_user_id=7003)
        issue = await make_issue(
            session,
            community,
            resident,
            clock,
            "闻到煤气味",
            category="utilities",
            urgency=Urgency.EMERGENCY,
        )
        issue_id = issue.id
    assert worker.id is not None

    # Reported: the reply-by clock (答复时限) runs for 2 hours; no due date, no completion clock.
    response = clocks.response_clock(issue, START + timedelta(minutes=30))
    assert response.state is ClockState.RUNNING
    assert response.delta == timedelta(hours=1, minutes=30)
    assert response.moment == START + timedelta(hours=2) == clocks.reply_by(issue)
    assert clocks.completion_clock(issue, START) is None
    assert clocks.current_clock(issue, START) == ("response", clocks.response_clock(issue, START))

    # Nobody answered in time: overdue by the reply-by clock, and the secretary hears it once.
    late = START + timedelta(hours=3)
    response = clocks.response_clock(issue, late)
    assert response.state is ClockState.OVERDUE and response.delta == timedelta(hours=1)
    assert clocks.is_overdue(issue, late)
    assert (await _kinds(db, late)).count(UNANSWERED) == 1

    # Accepted an hour late: the clock stops, MISSED by 1 h, and that verdict never changes.
    clock.current = late
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        await rules.accept(session, issue, actor_id=worker.id, now=late)
        await rules.claim(session, issue, actor_id=worker.id, now=late + timedelta(minutes=5))
    for now in (late, late + timedelta(days=30)):
        response = clocks.response_clock(issue, now)
        assert response.state is ClockState.MISSED
        assert response.delta == timedelta(hours=1) and response.stopped_at == late
    # Answered, not planned: no clock runs, so the issue is not "overdue" (the old card said
    # "已超时1天" here), and /todo puts it after everything with a date.
    assert clocks.current_clock(issue, late + timedelta(days=1)) is None
    assert not clocks.is_overdue(issue, late + timedelta(days=1))
    assert (await _kinds(db, late + timedelta(minutes=10))).count(UNANSWERED) == 1  # no more

    # Planned, due in 3 days: the completion clock (办结期限) now governs.
    planned = late + timedelta(minutes=10)
    due = planned + timedelta(days=3)
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        await rules.set_plan(
            session, issue, plan="联系燃气公司", due_at=due, actor_id=worker.id, now=planned
        )
    completion = clocks.completion_clock(issue, planned)
    assert completion is not None and completion.state is ClockState.RUNNING
    assert completion.delta == timedelta(days=3)
    assert clocks.current_clock(issue, planned) == ("completion", completion)
    assert clocks.deadline(issue, planned) == due
    assert clocks.response_clock(issue, planned).state is ClockState.MISSED  # unchanged

    # Due soon, then overdue (by the due date, not the long-stopped reply-by clock).
    soon = due_soon_at(issue, ReminderPolicy())
    assert soon == due - timedelta(hours=24)
    assert DUE_SOON in await _kinds(db, soon)
    past = due + timedelta(hours=2)
    completion = clocks.completion_clock(issue, past)
    assert completion is not None and completion.state is ClockState.OVERDUE
    assert completion.delta == timedelta(hours=2) and clocks.is_overdue(issue, past)
    nudge_day = datetime(2026, 11, 6, 1, 0, tzinfo=UTC)  # the morning after, 09:00 local
    assert OVERDUE in await _kinds(db, nudge_day)

    # Resolved a day late: the completion clock stops, MISSED by a day; the reply verdict stays.
    resolved = due + timedelta(days=1)
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        await rules.resolve(session, issue, note="已修好", actor_id=worker.id, now=resolved)
    completion = clocks.completion_clock(issue, resolved + timedelta(days=5))
    assert completion is not None and completion.state is ClockState.MISSED
    assert completion.delta == timedelta(days=1)
    assert not clocks.is_overdue(issue, resolved + timedelta(days=5))
    assert clocks.response_clock(issue, resolved).delta == timedelta(hours=1)

    # Reopened: the old due date no longer counts; the reply-by verdict is still the same one.
    async with db.session() as session:
        issue = await session.get(Issue, issue_id)
        assert issue is not None
        await rules.reopen(session, issue, reason="又有味道", actor_id=None, now=resolved)
    assert clocks.completion_clock(issue, resolved) is None
    assert not clocks.is_overdue(issue, resolved + timedelta(days=10))
    assert clocks.response_clock(issue, resolved).state is ClockState.MISSED


async def test_met_in_time_and_the_resident_withdrawing_is_no_answer(
    db: Database, clock: FakeClock
) -> None:
    clock.current = START
    community = await make_community(db, clock)
    async with db.session() as session:
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        resident = await make_member(session, community, name="老许")
        answered = await make_issue(session, community, resident, clock, "楼道灯坏了")
        withdrawn = await make_issue(session, community, resident, clock, "算了")
        assert worker.id is not None and resident.id is not None
        await rules.claim(session, answered, actor_id=worker.id, now=START + timedelta(minutes=1))
        await rules.withdraw(
            session, withdrawn, reason="自己修好了", actor_id=resident.id, now=START
        )
    response = clocks.response_clock(answered, START + timedelta(days=30))
    assert response.state is ClockState.MET
    assert response.delta == timedelta(days=7) - timedelta(minutes=1)  # 7 days, 1 minute used
    # The reporter withdrawing stopped nothing: no answer was given, and none is owed any more.
    assert withdrawn.first_response_at is None
    assert clocks.response_clock(withdrawn, START + timedelta(days=30)).state is ClockState.ENDED
    assert not clocks.is_overdue(withdrawn, START + timedelta(days=30))


def _issue(number: int, **fields: object) -> Issue:
    values: dict[str, object] = dict(
        community_id=1,
        number=number,
        category="other",
        description="…",
        status="assigned",
        created_at=START - timedelta(days=10),
        time_limit_hours=24,
        respond_by=START - timedelta(days=9),
    )
    values.update(fields)
    return Issue(**values)  # type: ignore[arg-type]


def test_todo_reads_the_clock_that_governs_each_issue() -> None:
    answered_late = _issue(1, accepted_at=START - timedelta(days=8))  # missed, no plan: no clock
    unanswered = _issue(2, status="new")  # reply-by ran out 9 days ago, nobody answered
    due_tomorrow = _issue(
        3, accepted_at=START - timedelta(days=8), due_at=START + timedelta(days=1)
    )
    due_yesterday = _issue(
        4, accepted_at=START - timedelta(days=9, hours=1), due_at=START - timedelta(days=1)
    )
    waiting = _issue(5, status="new", respond_by=START + timedelta(hours=5))
    order = todo_order([answered_late, unanswered, due_tomorrow, due_yesterday, waiting], START)
    assert [i.number for i in order] == [2, 4, 5, 3, 1]
    assert [clocks.is_overdue(i, START) for i in order] == [True, True, False, False, False]


def test_due_soon_counts_the_completion_clock_from_the_plan() -> None:
    reported = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    planned = reported + timedelta(days=4)
    due = planned + timedelta(hours=33)
    issue = Issue(
        community_id=1,
        number=1,
        category="facilities",
        description="",
        created_at=reported,
        due_at=due,
        planned_at=planned,
    )
    # a short plan: the last quarter of its own 33 hours, not 24 h before the date
    assert due_soon_at(issue, ReminderPolicy()) == due - timedelta(hours=33) / 4
    issue.due_at = planned + timedelta(days=5)  # a long plan: 24 h before
    assert due_soon_at(issue, ReminderPolicy()) == issue.due_at - timedelta(hours=24)
    issue.planned_at = None  # planned before planned_at was kept: from the report
    issue.due_at = reported + timedelta(hours=20)
    assert due_soon_at(issue, ReminderPolicy()) == issue.due_at - timedelta(hours=5)
