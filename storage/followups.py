"""回访, the follow-up: the resident's verdict on a resolved issue (the step itself,
`follow_up`), the one reminder, and closing issues nobody answered for as "not followed up"
(`close_unanswered`).

Timeline (FOLLOWUP_REMINDER_DAYS = d): resolved → the question goes out with the resolution
notice; after d days without an answer, one reminder; after d more, `close_unanswered_followups`
(run by a periodic job) closes the issue as not followed up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import outbox
from storage.issue_lifecycle import Action, ConcurrentChange, IssueError, NotPermitted, transition
from storage.issues import reopen
from storage.models import (
    STAFF_ROLES,
    Community,
    FollowUp,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueStatus,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    Satisfaction,
)
from storage.notifications import issue_changed, notify_audience

FOLLOWUP_REMINDER = "followup_reminder"  # outbox: "is it really solved?" asked once more
NOT_SOLVED = "followup_not_solved"  # outbox: tells the owner the resident says it is not solved
INFO_ADDED = "info_added"  # outbox: tells the owner the resident added words or photos
SUPPORT_ADDED = "support_added"  # outbox: tells the owner a neighbour backs it, in their words


def reminder_key(issue: Issue) -> str:
    # One reminder per resolution: an issue reopened and resolved again is asked again.
    return f"followup:{issue.id}:reminder:{issue.reopened_count}"


async def queue_reminder(
    session: AsyncSession,
    issue: Issue,
    *,
    chat_id: int,
    person_id: int | None,
    reminder_after: timedelta,
    now: datetime,
) -> bool:
    """Queue the one reminder, due `reminder_after` after the resolution (once per round)."""
    if IssueStatus(issue.status) is not IssueStatus.RESOLVED or issue.resolved_at is None:
        return False
    return await outbox.enqueue(
        session,
        chat_id=chat_id,
        kind=FOLLOWUP_REMINDER,
        dedupe_key=reminder_key(issue),
        due_at=issue.resolved_at + reminder_after,
        payload={"issue_id": issue.id, "round": issue.reopened_count},
        now=now,
        person_id=person_id,
        community_id=issue.community_id,
    )


async def cancel_reminders(session: AsyncSession, issue_id: int) -> int:
    return await outbox.cancel(session, key_prefixes=[f"followup:{issue_id}:"])


def reminder_still_wanted(issue: Issue, payload_round: object) -> bool:
    return (
        IssueStatus(issue.status) is IssueStatus.RESOLVED and payload_round == issue.reopened_count
    )


async def follow_up(
    session: AsyncSession,
    issue: Issue,
    *,
    result: FollowUpResult,
    satisfaction: Satisfaction | None,
    comment: str | None,
    actor_id: int | None,
    now: datetime,
) -> IssueEvent:
    """回访: the resident's verdict. "Not solved" reopens the issue; otherwise it is closed.

    Every answer is also kept as a `FollowUp` row: the rates count them, and reopening clears
    the verdict on the issue, not the answer that reopened it."""
    if result is FollowUpResult.NOT_SOLVED:
        event = await reopen(session, issue, reason=comment or "", actor_id=actor_id, now=now)
        event.data = {**event.data, "followup_result": str(result)}
        session.add(event)
    else:
        event = await transition(
            session,
            issue,
            Action.FOLLOW_UP,
            actor_id=actor_id,
            now=now,
            changes={
                "followup_result": result,
                "satisfaction": satisfaction,
                "closed_at": now,
            },
            text=comment,
            data={
                "result": str(result),
                "satisfaction": str(satisfaction) if satisfaction else None,
            },
        )
    assert issue.id is not None
    session.add(
        FollowUp(
            issue_id=issue.id,
            community_id=issue.community_id,
            at=now,
            actor_id=actor_id,
            result=result,
            satisfaction=satisfaction,
        )
    )
    await session.flush()
    return event


async def close_unanswered(session: AsyncSession, issue: Issue, *, now: datetime) -> IssueEvent:
    """No answer to the follow-up after the reminder: closed, counted as not followed up."""
    return await transition(
        session,
        issue,
        Action.CLOSE,
        actor_id=None,
        now=now,
        changes={"closed_at": now},
        public=False,
        data={"followed_up": False},
    )


async def _tell_owner(
    session: AsyncSession, issue: Issue, event: IssueEvent, *, kind: str, now: datetime
) -> bool:
    """A message to the issue's owner in private; without one (or without Telegram), to the
    staff group, so "not solved" never goes unheard."""
    owner = await session.get(Person, issue.owner_id) if issue.owner_id else None
    chat_id = owner.telegram_user_id if owner is not None else None
    person_id = owner.id if owner is not None and chat_id is not None else None
    if chat_id is None:
        community = await session.get(Community, issue.community_id)
        chat_id = community.staff_chat_id if community is not None else None
    if chat_id is None:
        return False
    return await outbox.enqueue(
        session,
        chat_id=chat_id,
        kind=kind,
        dedupe_key=f"{kind}:{event.id}",
        due_at=now,
        payload={"issue_id": issue.id, "event_id": event.id},
        now=now,
        person_id=person_id,
        community_id=issue.community_id,
        urgent=kind == NOT_SOLVED,
    )


async def answer(
    session: AsyncSession,
    issue: Issue,
    *,
    result: FollowUpResult,
    satisfaction: Satisfaction | None,
    comment: str | None,
    person_id: int,
    now: datetime,
) -> IssueEvent:
    """Record the resident's verdict. "Not solved" reopens the issue, tells the owner and the
    other backers; otherwise the issue is closed. Only the reporter answers, only while the
    issue is resolved (raises NotPermitted / TransitionNotAllowed otherwise)."""
    if issue.reporter_id != person_id:
        raise NotPermitted("only the reporter answers the follow-up")
    event = await follow_up(
        session,
        issue,
        result=result,
        satisfaction=None if result is FollowUpResult.NOT_SOLVED else satisfaction,
        comment=comment,
        actor_id=person_id,
        now=now,
    )
    await _answered(session, issue, event, result, now=now, skip_person_id=person_id)
    return event


async def answer_by_phone(
    session: AsyncSession,
    issue: Issue,
    *,
    result: FollowUpResult,
    satisfaction: Satisfaction,
    staff_role: Role | None,
    worker_id: int,
    now: datetime,
) -> IssueEvent:
    """回访 by telephone: a worker called the resident (one who reported by phone or at the desk,
    or does not answer the bot) and records both answers. Counted like the resident's own
    answer; the event says who recorded it and that it was by phone. Only staff record it, only
    while the issue is resolved (raises NotPermitted / TransitionNotAllowed otherwise)."""
    if staff_role not in STAFF_ROLES:
        raise NotPermitted("only staff record a follow-up taken by phone")
    event = await follow_up(
        session,
        issue,
        result=result,
        satisfaction=satisfaction,
        comment=None,
        actor_id=worker_id,
        now=now,
    )
    event.data = {**event.data, "by_phone": True}
    session.add(event)
    await _answered(session, issue, event, result, now=now)
    return event


async def _answered(
    session: AsyncSession,
    issue: Issue,
    event: IssueEvent,
    result: FollowUpResult,
    *,
    now: datetime,
    skip_person_id: int | None = None,
) -> None:
    """After a follow-up answer: no more reminders, the card refreshed; "not solved" tells the
    owner and the issue's audience that it is open again."""
    assert issue.id is not None
    await cancel_reminders(session, issue.id)
    await issue_changed(session, issue, now=now)
    if result is FollowUpResult.NOT_SOLVED:
        await _tell_owner(session, issue, event, kind=NOT_SOLVED, now=now)
        await notify_audience(session, issue, event, now=now, skip_person_id=skip_person_id)


async def rate_not_solved(
    session: AsyncSession, issue: Issue, *, satisfaction: Satisfaction, person_id: int
) -> bool:
    """How satisfied the resident is, given right after a "not solved" answer (the issue is
    already reopened): completes that same follow-up record, once."""
    row = (
        await session.exec(
            select(FollowUp)
            .where(
                FollowUp.issue_id == issue.id,
                FollowUp.actor_id == person_id,
                FollowUp.result == FollowUpResult.NOT_SOLVED,
            )
            .order_by(col(FollowUp.at).desc(), col(FollowUp.id).desc())
            .limit(1)
        )
    ).first()
    if row is None or row.satisfaction is not None:
        return False
    row.satisfaction = satisfaction
    session.add(row)
    await session.flush()
    return True


async def add_comment(
    session: AsyncSession, event: IssueEvent, *, comment: str, person_id: int
) -> bool:
    """The optional comment the resident writes right after their verdict completes that same
    answer (one follow-up, one record); it never overwrites a comment already given."""
    if event.kind != Action.FOLLOW_UP or event.actor_id != person_id or event.text:
        return False
    event.text = comment
    session.add(event)
    await session.flush()
    return True


async def info_added(
    session: AsyncSession, issue: Issue, event: IssueEvent, *, now: datetime
) -> None:
    """The resident added to their issue: refresh the staff card and tell the owner."""
    await issue_changed(session, issue, now=now)
    if issue.owner_id is not None:
        await _tell_owner(session, issue, event, kind=INFO_ADDED, now=now)


async def support_added(
    session: AsyncSession, issue: Issue, event: IssueEvent, *, now: datetime
) -> None:
    """A neighbour backed the issue with words or photos of their own: refresh the staff card
    and tell the owner what they said."""
    await issue_changed(session, issue, now=now)
    if issue.owner_id is not None:
        await _tell_owner(session, issue, event, kind=SUPPORT_ADDED, now=now)


async def close_unanswered_followups(
    session: AsyncSession, now: datetime, *, reminder_after: timedelta
) -> list[Issue]:
    """Close issues resolved twice `reminder_after` ago with no answer ("not followed up"), and
    drop reminders that are no longer wanted (the issue was reopened or closed meanwhile)."""
    deadline = now - 2 * reminder_after
    rows = await session.exec(
        select(Issue)
        .where(Issue.status == IssueStatus.RESOLVED, col(Issue.resolved_at) <= deadline)
        .order_by(col(Issue.id))
    )
    closed: list[Issue] = []
    for issue in rows.all():
        try:
            await close_unanswered(session, issue, now=now)
        except (ConcurrentChange, IssueError):
            continue  # someone answered or reopened it this very moment: theirs wins
        assert issue.id is not None
        await cancel_reminders(session, issue.id)
        await issue_changed(session, issue, now=now)
        closed.append(issue)
    await _drop_unwanted_reminders(session)
    return closed


async def _drop_unwanted_reminders(session: AsyncSession) -> None:
    pending = await session.exec(
        select(Outbox).where(
            Outbox.kind == FOLLOWUP_REMINDER, Outbox.status == OutboxStatus.PENDING
        )
    )
    for row in pending.all():
        issue = await session.get(Issue, row.payload.get("issue_id"))
        if issue is None or not reminder_still_wanted(issue, row.payload.get("round")):
            await outbox.cancel(session, key_prefixes=[row.dedupe_key])
