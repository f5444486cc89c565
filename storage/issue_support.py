"""Who stands behind an issue: its reporter and the neighbours who said "me too". Backing an
issue, offering the open issues a new report may be the same as, and who may see an issue and
hears of its public steps (only those who stand behind it: numbers are not keys).

"Me too" with words, photos or a place is storage/issues.py (`back_with_words`), since it keeps
attachments like a step does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.issue_lifecycle import OPEN, Action, TransitionNotAllowed, record_event
from storage.models import Issue, IssueStatus, IssueSupporter


async def backs(session: AsyncSession, issue: Issue, person_id: int) -> bool:
    """Whether the person reported the issue or backs it."""
    if issue.reporter_id == person_id:
        return True
    assert issue.id is not None
    return await session.get(IssueSupporter, (issue.id, person_id)) is not None


async def may_see(session: AsyncSession, issue: Issue, *, person_id: int) -> bool:
    """A resident sees an issue only if they reported or back it: numbers are not keys."""
    return await backs(session, issue, person_id)


async def add_supporter(
    session: AsyncSession, issue: Issue, person_id: int, *, now: datetime
) -> None:
    """Count the person as a supporter of the open issue (the caller knows they are not one)."""
    assert issue.id is not None
    if IssueStatus(issue.status) not in OPEN:
        raise TransitionNotAllowed(issue.status, Action.SUPPORT)
    session.add(IssueSupporter(issue_id=issue.id, person_id=person_id, created_at=now))
    await session.exec(
        update(Issue)
        .where(col(Issue.id) == issue.id)
        .values(support_count=col(Issue.support_count) + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    await session.refresh(issue)


async def add_support(
    session: AsyncSession,
    issue: Issue,
    *,
    person_id: int,
    now: datetime,
    record: bool = True,
) -> bool:
    """ "Me too": returns False when the person already backs (or reported) the issue."""
    assert issue.id is not None
    if await backs(session, issue, person_id):
        return False
    await add_supporter(session, issue, person_id, now=now)
    if record:
        await record_event(
            session, issue, Action.SUPPORT, actor_id=person_id, now=now, public=False
        )
    return True


_OPEN_DUPLICATES = (
    select(Issue)
    .where(
        Issue.community_id == bindparam("community_id"),
        Issue.building_id == bindparam("building_id"),
        Issue.category == bindparam("category"),
        col(Issue.status).in_(list(OPEN)),
    )
    .order_by(col(Issue.created_at).desc())
    .limit(5)
)


_BACKED = select(IssueSupporter.issue_id).where(IssueSupporter.person_id == bindparam("person_id"))


async def backed_by(session: AsyncSession, *, person_id: int) -> set[int]:
    """The issues this person backs ("me too")."""
    return set((await session.exec(_BACKED, params={"person_id": person_id})).all())


async def open_duplicates(
    session: AsyncSession, *, community_id: int, building_id: int | None, category: str
) -> list[Issue]:
    """Open issues of the same category in the same building: offered as "me too"."""
    if building_id is None:
        return []
    params = {"community_id": community_id, "building_id": building_id, "category": category}
    return list((await session.exec(_OPEN_DUPLICATES, params=params)).all())


_SUPPORTERS = select(IssueSupporter.person_id).where(
    IssueSupporter.issue_id == bindparam("issue_id")
)


async def audience(session: AsyncSession, issue: Issue) -> list[int]:
    """Person ids told about public steps: the reporter and every supporter."""
    ids = [issue.reporter_id] if issue.reporter_id else []
    if issue.support_count:  # counted with each supporter (add_supporter): none, no query
        rows = await session.exec(_SUPPORTERS, params={"issue_id": issue.id})
        ids.extend(pid for pid in rows.all() if pid not in ids)
    return ids
