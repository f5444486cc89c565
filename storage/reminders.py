"""The bot's memory: which reminders are due now, written to the outbox once each.

`plan_reminders` looks at the notebook as it is (open issues, owners, due dates, last
activity) and queues what is due at `now`, each under a dedupe key, so running it every few
minutes, after a restart, or from two instances at once queues every reminder exactly once.
Nothing is scheduled ahead as a job: a changed due date simply makes a new key, and a resolved
issue stops producing nudges (renderers check the issue again before sending).

Each reminder reads one of the two clocks (storage/clocks.py): "unanswered" the response clock
(答复时限: it ran out and nobody has contacted the resident); "due soon", "overdue" and
"escalation" the completion clock (办结期限: the plan's due date). A reminder is never sent after
the moment it warns about: a "due soon" held back (quiet hours, a busy chat) until its due date
has passed is dropped at send time (handlers/staff/reminders.py), and the morning's "overdue"
says it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import clocks, outbox
from storage.clocks import ClockState
from storage.issue_lifecycle import OPEN
from storage.models import Community, Issue, IssueStatus, Membership, Person, Role
from storage.schedule import local_date, local_today_at, week_start
from storage.staff import calls_for

DUE_SOON = "due_soon"
OVERDUE = "overdue"
ESCALATION = "escalation"
UNANSWERED = "unanswered"
STALE = "stale"
AGENDA = "agenda"
DIGEST = "digest"


@dataclass(frozen=True)
class ReminderPolicy:
    """When each kind of reminder fires; every figure is a setting (see runtime/settings.py)."""

    due_soon: timedelta = timedelta(hours=24)
    overdue_nudge_at: time = time(9, 0)
    escalate_after: timedelta = timedelta(hours=48)
    stale_after: timedelta = timedelta(days=3)
    agenda_at: time = time(8, 30)
    digest_weekday: int = 0
    digest_at: time = time(8, 0)


def due_soon_at(issue: Issue, policy: ReminderPolicy) -> datetime | None:
    """When the completion clock's "due soon" fires: 24 h before the due date; for short
    plans (due at most twice that long after the plan set the date, where "24 h before" would
    be almost at once), when the last quarter of the plan's time begins. The completion clock
    starts when its date is set (`planned_at`), not at the report: an issue planned a week
    after its report for tomorrow is warned at three quarters of that day, not at once."""
    if issue.due_at is None:
        return None
    window = issue.due_at - (issue.planned_at or issue.created_at)
    lead = policy.due_soon if window > 2 * policy.due_soon else window / 4
    return issue.due_at - lead


async def _staff_with_telegram(
    session: AsyncSession, community_id: int, roles: tuple[Role, ...]
) -> list[Person]:
    rows = await session.exec(
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == community_id,
            col(Membership.active).is_(True),
            col(Membership.role).in_([str(r) for r in roles]),
            col(Person.telegram_user_id).is_not(None),
        )
        .order_by(col(Person.id))
    )
    return list(rows.all())


async def _queue(
    session: AsyncSession,
    person: Person,
    *,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    community_id: int,
    urgent: bool = False,
) -> int:
    assert person.telegram_user_id is not None
    return int(
        await outbox.enqueue(
            session,
            chat_id=person.telegram_user_id,
            kind=kind,
            dedupe_key=key,
            due_at=now,
            payload=payload,
            now=now,
            person_id=person.id,
            community_id=community_id,
            urgent=urgent,
        )
    )


async def plan_reminders(session: AsyncSession, *, now: datetime, policy: ReminderPolicy) -> int:
    """Queue every reminder due at `now`; returns how many new rows were queued."""
    queued = 0
    communities = (await session.exec(select(Community))).all()
    for community in communities:
        assert community.id is not None
        tz = ZoneInfo(community.timezone)
        secretaries = await _staff_with_telegram(session, community.id, (Role.SECRETARY,))
        issues = (
            await session.exec(
                select(Issue).where(
                    Issue.community_id == community.id, col(Issue.status).in_(list(OPEN))
                )
            )
        ).all()
        owners = {
            p.id: p
            for p in (
                await session.exec(
                    select(Person).where(
                        col(Person.id).in_({i.owner_id for i in issues if i.owner_id})
                    )
                )
            ).all()
        }
        for issue in issues:
            queued += await _issue_reminders(
                session, issue, owners.get(issue.owner_id), secretaries, now, tz, policy
            )
        queued += await _agendas(session, community, now, tz, policy)
        queued += await _digest_slot(session, community, secretaries, now, tz, policy)
    return queued


async def _issue_reminders(
    session: AsyncSession,
    issue: Issue,
    owner: Person | None,
    secretaries: list[Person],
    now: datetime,
    tz: ZoneInfo,
    policy: ReminderPolicy,
) -> int:
    queued = 0
    ids = {"issue_id": issue.id}
    emergency = issue.urgency == "emergency"
    cid = issue.community_id
    if clocks.response_clock(issue, now).overdue:
        for secretary in secretaries:  # the promised answer time passed and nobody answered
            queued += await _queue(
                session,
                secretary,
                kind=UNANSWERED,
                key=f"unanswered:{issue.id}:{secretary.id}",
                payload=ids,
                now=now,
                community_id=cid,
                urgent=emergency,
            )
    completion = clocks.completion_clock(issue, now)  # None before a plan set a due date
    if (
        completion is not None
        and issue.due_at is not None
        and owner is not None
        and owner.telegram_user_id is not None
    ):
        due = int(issue.due_at.timestamp())
        remind_at = due_soon_at(issue, policy)
        if remind_at is not None and remind_at <= now and completion.state is ClockState.RUNNING:
            queued += await _queue(
                session,
                owner,
                kind=DUE_SOON,
                key=f"due:{issue.id}:{due}",
                payload={**ids, "due": due},
                now=now,
                community_id=cid,
                urgent=emergency,
            )
        if completion.overdue and now >= local_today_at(now, tz, policy.overdue_nudge_at):
            queued += await _queue(
                session,
                owner,
                kind=OVERDUE,
                key=f"overdue:{issue.id}:{local_date(now, tz)}",
                payload=ids,
                now=now,
                community_id=cid,
                urgent=emergency,
            )
    if (
        completion is not None
        and completion.overdue
        and issue.due_at is not None
        and completion.delta >= policy.escalate_after
    ):
        due = int(issue.due_at.timestamp())
        for secretary in secretaries:
            queued += await _queue(
                session,
                secretary,
                kind=ESCALATION,
                key=f"escalate:{issue.id}:{due}:{secretary.id}",
                payload=ids,
                now=now,
                community_id=cid,
                urgent=emergency,
            )
    active = issue.status in (IssueStatus.ASSIGNED, IssueStatus.IN_PROGRESS)
    last = issue.last_activity_at or issue.created_at
    if active and owner is not None and owner.telegram_user_id and now - last >= policy.stale_after:
        queued += await _queue(
            session,
            owner,
            kind=STALE,
            key=f"stale:{issue.id}:{int(last.timestamp())}",
            payload={**ids, "since": int(last.timestamp())},
            now=now,
            community_id=cid,
        )
    return queued


async def _agendas(
    session: AsyncSession, community: Community, now: datetime, tz: ZoneInfo, policy: ReminderPolicy
) -> int:
    """One morning message per worker who owns open items or has follow-up calls to make
    (sent once per local day)."""
    agenda_at = local_today_at(now, tz, policy.agenda_at)
    if now < agenda_at or now - agenda_at >= timedelta(hours=12):
        return 0
    assert community.id is not None
    queued = 0
    staff = await _staff_with_telegram(session, community.id, (Role.WORKER, Role.SECRETARY))
    for person in staff:
        owns = (
            await session.exec(
                select(Issue.id)
                .where(Issue.owner_id == person.id, col(Issue.status).in_(list(OPEN)))
                .limit(1)
            )
        ).first()
        calls = await calls_for(
            session, person_id=person.id or 0, community_id=community.id, role=Role.WORKER
        )
        if owns is None and not calls:
            continue
        queued += await _queue(
            session,
            person,
            kind=AGENDA,
            key=f"agenda:{person.id}:{local_date(now, tz)}",
            payload={"person_id": person.id},
            now=now,
            community_id=community.id,
        )
    return queued


async def _digest_slot(
    session: AsyncSession,
    community: Community,
    secretaries: list[Person],
    now: datetime,
    tz: ZoneInfo,
    policy: ReminderPolicy,
) -> int:
    """The weekly digest for the secretary (Monday 08:00 by default); the digest itself is
    written at send time from the week that just ended."""
    slot = week_start(now, tz, policy.digest_weekday, policy.digest_at)
    if now - slot >= timedelta(hours=12):
        return 0
    queued = 0
    assert community.id is not None
    for secretary in secretaries:
        queued += await _queue(
            session,
            secretary,
            kind=DIGEST,
            key=f"digest:{community.id}:{local_date(slot, tz)}:{secretary.id}",
            payload={"community_id": community.id, "week_end": int(slot.timestamp())},
            now=now,
            community_id=community.id,
        )
    return queued
