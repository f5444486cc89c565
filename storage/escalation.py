"""Escalation to people, not only to the group (#22 Must 3).

A card in the staff group is easy to miss at 01:33. What must reach a person does so in their
private chat, through the outbox, once per dedupe key:

- An urgent issue (`Urgency.EMERGENCY`, the 2-hour limit) pages the building's responsible
  worker(s) (active workers whose membership names the issue's building) and the secretary at
  once, quiet hours notwithstanding (`urgent` rows), and pages them again when nobody has acted
  (accepted, claimed, assigned or answered the resident) by half its time limit:
  `page:<issue>:<person>` and `repage:<issue>:<person>`.
- A promise missed is told to the resident plainly, once per promise, with what happens next:
  the response deadline (`respond_by`) passed with no first response, or the planned due date
  (`due_at`) passed with the issue still open. The owner (or, without one, the secretary) is
  told in the same moment what the resident now expects, so "the community has been reminded"
  is true: `missed:<issue>:respond:<ts>:<person>`, `missed:<issue>:due:<ts>:<person>`.
- 上报 (difficulty ESCALATE) tells the secretary directly: `escalated:<issue>:<event>:<person>`;
  the digest lists the open issues marked 上报 (`escalated_open`).
- 转办 keeps the issue tracked: the transfer sets the date the other body's answer is due
  (`transfer_answer_due`: the policy's time, or the category's limit) as the issue's
  `transfer_answer_by` (its own field, not the completion date `due_at`), and when it
  passes with the issue still transferred its owner (or the secretary) is reminded, once per
  date: `transfer:<issue>:<ts>:<person>`. The answer comes back as 重新办理 (reopen), which tells
  the resident like any public step.

`plan_escalations(now)` runs with the reminders (bot/jobs.py) and is the catch-up for all of
it; `urgent_opened` pages at the moment an urgent issue is opened, and `escalated` at the moment
of the 上报. Rules are plain functions with the clock passed in. Renderers
(handlers/staff/escalations.py) look at the issue again and drop a message whose reason has gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import clocks, outbox
from storage.issue_lifecycle import OPEN
from storage.issue_support import audience
from storage.models import (
    Community,
    Difficulty,
    Issue,
    IssueStatus,
    Membership,
    Person,
    Role,
    Urgency,
)

URGENT_PAGE = "urgent_page"  # to the building's worker and the secretary: an urgent issue
PROMISE_MISSED = "promise_missed"  # to the resident: a promise was missed, what happens next
PROMISE_MISSED_STAFF = "promise_missed_staff"  # to the owner / secretary: what was promised now
ESCALATED = "escalated"  # 上报: to the secretary
TRANSFER_DUE = "transfer_due"  # the other body's answer is late: to the owner / secretary

RESPOND = "respond"  # the response deadline (respond_by)
DUE = "due"  # the planned due date (due_at)


@dataclass(frozen=True)
class EscalationPolicy:
    """How escalation times itself: settings (runtime/settings.py, `ESCALATION_*`), these are
    their defaults."""

    # An urgent issue nobody has acted on pages again this far into its time limit (½: after
    # one hour of a two-hour limit).
    repage_fraction: float = 0.5
    # The new expectation told to a resident after a missed promise: the issue's own time limit
    # again, but never more than this.
    next_answer_within: timedelta = timedelta(hours=24)
    # Promises missed longer ago than this are not announced (a bot started after a long
    # outage, or first deployed over an old notebook, does not send stale apologies).
    announce_within: timedelta = timedelta(days=7)
    # The answer date a transfer (转办) proposes: this long from the transfer; None: the
    # issue's own time limit (its category and urgency).
    transfer_answer_within: timedelta | None = None


DEFAULT_POLICY = EscalationPolicy()


# --- the rules ---------------------------------------------------------------------------------


def is_urgent(issue: Issue) -> bool:
    return issue.urgency == Urgency.EMERGENCY


def acted(issue: Issue) -> bool:
    """Somebody took the issue up: accepted, claimed, assigned, or answered the resident."""
    return (
        issue.accepted_at is not None
        or issue.first_response_at is not None
        or issue.owner_id is not None
        or issue.owner_group is not None
        or IssueStatus(issue.status) not in OPEN
    )


def repage_at(issue: Issue, policy: EscalationPolicy = DEFAULT_POLICY) -> datetime:
    """Part of the issue's time limit after the report (half, by default): the second page if
    nobody has acted."""
    return issue.created_at + timedelta(hours=issue.time_limit_hours) * policy.repage_fraction


def new_expectation(issue: Issue, missed_at: datetime, policy: EscalationPolicy) -> datetime:
    """When the resident can expect to hear, told after a missed promise."""
    return missed_at + min(timedelta(hours=issue.time_limit_hours), policy.next_answer_within)


def missed_promise(issue: Issue, now: datetime) -> tuple[str, datetime] | None:
    """The promise to the resident that `now` is past, if any: the response deadline with no
    first response, else the planned due date of an issue still being worked on."""
    if IssueStatus(issue.status) not in OPEN:
        return None
    # the same two clocks the card and the reminders read (storage/clocks.py)
    response = clocks.response_clock(issue, now)
    if response.overdue:
        return RESPOND, response.moment
    completion = clocks.completion_clock(issue, now)
    if completion is not None and completion.overdue:
        return DUE, completion.moment
    return None


def transfer_answer_due(
    issue: Issue, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY
) -> datetime:
    """When the body an issue is transferred to should have answered: the policy's time, or
    the issue's own limit (its category and urgency)."""
    within = policy.transfer_answer_within or timedelta(hours=issue.time_limit_hours)
    return now + within


# --- who is told -------------------------------------------------------------------------------


def _reachable() -> Any:
    return col(Person.telegram_user_id).is_not(None)


async def _staff(
    session: AsyncSession, community_id: int, role: Role, building_id: int | None = None
) -> list[Person]:
    query = (
        select(Person)
        .join(Membership, col(Membership.person_id) == Person.id)
        .where(
            Membership.community_id == community_id,
            col(Membership.active).is_(True),
            Membership.role == role,
            _reachable(),
        )
        .order_by(col(Person.id))
    )
    if building_id is not None:
        query = query.where(Membership.building_id == building_id)
    return list((await session.exec(query)).all())


async def building_workers(session: AsyncSession, issue: Issue) -> list[Person]:
    """The workers responsible for the issue's building (their membership names it)."""
    if issue.building_id is None:
        return []
    return await _staff(session, issue.community_id, Role.WORKER, issue.building_id)


async def secretaries(session: AsyncSession, community_id: int) -> list[Person]:
    return await _staff(session, community_id, Role.SECRETARY)


async def paged(session: AsyncSession, issue: Issue) -> list[Person]:
    """Who an urgent issue pages: the building's workers, then the secretary, each once."""
    people: dict[int, Person] = {}
    for person in [
        *await building_workers(session, issue),
        *await secretaries(session, issue.community_id),
    ]:
        assert person.id is not None
        people.setdefault(person.id, person)
    return list(people.values())


async def _owner_or_secretaries(session: AsyncSession, issue: Issue) -> list[Person]:
    owner = await session.get(Person, issue.owner_id) if issue.owner_id else None
    if owner is not None and owner.telegram_user_id is not None:
        return [owner]
    return await secretaries(session, issue.community_id)


async def _queue(
    session: AsyncSession,
    person: Person,
    issue: Issue,
    *,
    kind: str,
    key: str,
    now: datetime,
    urgent: bool,
    **payload: Any,
) -> int:
    assert person.telegram_user_id is not None
    return int(
        await outbox.enqueue(
            session,
            chat_id=person.telegram_user_id,
            kind=kind,
            dedupe_key=key,
            due_at=now,
            payload={"issue_id": issue.id, **payload},  # issue_id: kept while the issue lives
            now=now,
            person_id=person.id,
            community_id=issue.community_id,
            urgent=urgent,
        )
    )


# --- the moments -------------------------------------------------------------------------------


async def page(session: AsyncSession, issue: Issue, *, now: datetime, again: bool) -> int:
    """Page everyone responsible for an urgent issue (first time, or `again`)."""
    queued = 0
    prefix = "repage" if again else "page"
    for person in await paged(session, issue):
        if not again and person.id == issue.logged_by_id:
            continue  # they logged it from the phone call: they know
        queued += await _queue(
            session,
            person,
            issue,
            kind=URGENT_PAGE,
            key=f"{prefix}:{issue.id}:{person.id}",
            now=now,
            urgent=True,
            again=again,
        )
    return queued


async def urgent_opened(session: AsyncSession, issue: Issue, *, now: datetime) -> int:
    """At the report of an urgent issue: page at once (nothing for an ordinary one)."""
    if not is_urgent(issue) or acted(issue):
        return 0
    return await page(session, issue, now=now, again=False)


async def escalated(
    session: AsyncSession, issue: Issue, *, event_id: int, actor_id: int | None, now: datetime
) -> int:
    """上报: the secretary hears of it directly (not the one who marked it)."""
    queued = 0
    for person in await secretaries(session, issue.community_id):
        if person.id == actor_id:
            continue
        queued += await _queue(
            session,
            person,
            issue,
            kind=ESCALATED,
            key=f"escalated:{issue.id}:{event_id}:{person.id}",
            now=now,
            urgent=is_urgent(issue),
            by=actor_id,
        )
    return queued


async def _tell_missed(
    session: AsyncSession,
    issue: Issue,
    which: str,
    missed_at: datetime,
    *,
    now: datetime,
    policy: EscalationPolicy,
) -> int:
    queued = 0
    stamp = int(missed_at.timestamp())
    expect = int(new_expectation(issue, max(now, missed_at), policy).timestamp())
    facts = {"which": which, "promise": stamp, "expect": expect}
    for person_id in await audience(session, issue):
        queued += int(
            await outbox.enqueue_to_person(
                session,
                person_id,
                kind=PROMISE_MISSED,
                dedupe_key=f"missed:{issue.id}:{which}:{stamp}:{person_id}",
                due_at=now,
                payload={"issue_id": issue.id, **facts},
                now=now,
                community_id=issue.community_id,
                urgent=is_urgent(issue),
            )
        )
    for person in await _owner_or_secretaries(session, issue):
        queued += await _queue(
            session,
            person,
            issue,
            kind=PROMISE_MISSED_STAFF,
            key=f"missed:{issue.id}:{which}:{stamp}:staff:{person.id}",
            now=now,
            urgent=is_urgent(issue),
            **facts,
        )
    return queued


async def _issue_escalations(
    session: AsyncSession, issue: Issue, *, now: datetime, policy: EscalationPolicy
) -> int:
    queued = 0
    if is_urgent(issue) and not acted(issue):
        queued += await page(session, issue, now=now, again=False)  # caught up if missed
        if now >= repage_at(issue, policy):
            queued += await page(session, issue, now=now, again=True)
    missed = missed_promise(issue, now)
    if missed is not None and now - missed[1] < policy.announce_within:
        queued += await _tell_missed(session, issue, *missed, now=now, policy=policy)
    return queued


async def _transfer_overdue(session: AsyncSession, issue: Issue, *, now: datetime) -> int:
    if issue.transfer_answer_by is None or issue.transfer_answer_by > now:
        return 0
    queued = 0
    stamp = int(issue.transfer_answer_by.timestamp())
    for person in await _owner_or_secretaries(session, issue):
        queued += await _queue(
            session,
            person,
            issue,
            kind=TRANSFER_DUE,
            key=f"transfer:{issue.id}:{stamp}:{person.id}",
            now=now,
            urgent=False,
            due=stamp,
        )
    return queued


async def plan_escalations(
    session: AsyncSession, *, now: datetime, policy: EscalationPolicy
) -> int:
    """Queue every page, missed-promise notice and late-transfer reminder due at `now`, once
    each; returns how many rows were queued. Called with the reminders (bot/jobs.py)."""
    queued = 0
    for community_id in (await session.exec(select(Community.id))).all():
        rows = await session.exec(
            select(Issue)
            .where(
                Issue.community_id == community_id,
                col(Issue.status).in_([*OPEN, IssueStatus.TRANSFERRED]),
            )
            .order_by(col(Issue.id))
        )
        for issue in rows.all():
            if issue.status == IssueStatus.TRANSFERRED:
                queued += await _transfer_overdue(session, issue, now=now)
            else:
                queued += await _issue_escalations(session, issue, now=now, policy=policy)
    return queued


# --- reading -----------------------------------------------------------------------------------


async def escalated_open(session: AsyncSession, community_id: int) -> list[int]:
    """Numbers of the community's open issues marked 上报, oldest first (the digest's line)."""
    rows = await session.exec(
        select(Issue.number)
        .where(
            Issue.community_id == community_id,
            col(Issue.status).in_(list(OPEN)),
            Issue.difficulty == Difficulty.ESCALATE,
        )
        .order_by(col(Issue.number))
    )
    return list(rows.all())
