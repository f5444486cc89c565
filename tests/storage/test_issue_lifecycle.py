"""The issue lifecycle as plain domain rules, tested directly with the clock passed in."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.followups import follow_up
from storage.issue_lifecycle import (
    Action,
    ConcurrentChange,
    TransitionNotAllowed,
    may,
    next_status,
)
from storage.issue_support import add_support, audience, open_duplicates
from storage.models import (
    Building,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueStatus,
    Role,
    Satisfaction,
    Urgency,
)
from storage.staff import media_of
from tests.factories import FakeClock, make_community, make_issue, make_member

S = IssueStatus
LIMITS = TimeLimits()


def test_state_table_allows_the_closed_loop_and_refuses_shortcuts() -> None:
    assert next_status(S.NEW, Action.ACCEPT) is S.ACCEPTED
    assert next_status(S.ACCEPTED, Action.CLAIM) is S.ASSIGNED
    assert next_status(S.ASSIGNED, Action.PLAN) is S.IN_PROGRESS
    assert next_status(S.IN_PROGRESS, Action.PROGRESS) is S.IN_PROGRESS
    assert next_status(S.IN_PROGRESS, Action.RESOLVE) is S.RESOLVED
    assert next_status(S.RESOLVED, Action.FOLLOW_UP) is S.CLOSED
    for status, action in [
        (S.NEW, Action.RESOLVE),  # nobody has looked at it yet
        (S.CLOSED, Action.ACCEPT),
        (S.RESOLVED, Action.PLAN),
        (S.MERGED, Action.REOPEN),
        (S.WITHDRAWN, Action.ADD_INFO),
        (S.NEW, Action.FOLLOW_UP),
    ]:
        with pytest.raises(TransitionNotAllowed):
            next_status(status, action)


async def _setup(db: Database, clock: FakeClock):
    community = await make_community(db, clock)
    async with db.session() as session:
        building = (await session.exec(select(Building))).first()
        resident = await make_member(session, community, name="老许")
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        other = await make_member(session, community, Role.WORKER, name="李网格")
        secretary = await make_member(session, community, Role.SECRETARY, name="谢兰")
    return community, building, resident, worker, other, secretary


async def test_numbers_time_limits_and_the_full_loop(db: Database, clock: FakeClock) -> None:
    community, building, resident, worker, _other, _sec = await _setup(db, clock)
    async with db.session() as session:
        first = await make_issue(
            session,
            community,
            resident,
            clock,
            "楼道灯坏了三天了",
            category="facilities",
            building_id=building.id,
        )
        gas = await make_issue(
            session,
            community,
            resident,
            clock,
            "闻到煤气味",
            category="utilities",
            urgency=Urgency.EMERGENCY,
        )
        assert (first.number, gas.number) == (1, 2)
        assert first.respond_by == clock() + timedelta(days=7)
        assert gas.respond_by == clock() + timedelta(hours=2)

        clock.advance(hours=1)
        await rules.accept(session, first, actor_id=worker.id, now=clock())
        assert first.first_response_at == clock()
        await rules.claim(session, first, actor_id=worker.id, now=clock())
        await rules.set_plan(
            session,
            first,
            plan="联系物业今天换灯泡",
            due_at=clock() + timedelta(days=1),
            actor_id=worker.id,
            now=clock(),
        )
        await rules.add_progress(
            session, first, text="物业已派人", public=False, actor_id=worker.id, now=clock()
        )
        clock.advance(hours=5)
        await rules.resolve(session, first, note="灯已更换", actor_id=worker.id, now=clock())
        assert first.status == S.RESOLVED and first.resolved_at == clock()
        await follow_up(
            session,
            first,
            result=FollowUpResult.SOLVED,
            satisfaction=Satisfaction.SATISFIED,
            comment=None,
            actor_id=resident.id,
            now=clock(),
        )
        assert first.status == S.CLOSED
        events = await rules.history(session, first, public_only=False)
        kinds = [e.kind for e in events]
        assert kinds == [
            "reported",
            "accepted",
            "claimed",
            "planned",
            "progress",
            "resolved",
            "followed_up",
        ]
        assert all(e.actor_id is not None and e.at is not None for e in events)
        public = [e.kind for e in await rules.history(session, first, public_only=True)]
        assert "progress" not in public  # an internal note stays internal


async def test_not_solved_reopens_with_the_owner(db: Database, clock: FakeClock) -> None:
    community, building, resident, worker, _other, _sec = await _setup(db, clock)
    async with db.session() as session:
        issue = await make_issue(
            session,
            community,
            resident,
            clock,
            "下水道堵了",
            category="drains",
            building_id=building.id,
        )
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
        await rules.set_plan(
            session,
            issue,
            plan="疏通",
            due_at=clock() + timedelta(days=1),
            actor_id=worker.id,
            now=clock(),
        )
        await rules.resolve(session, issue, note="已疏通", actor_id=worker.id, now=clock())
        clock.advance(days=5)  # the resident answers days after the old due date
        await follow_up(
            session,
            issue,
            result=FollowUpResult.NOT_SOLVED,
            satisfaction=None,
            comment="还是堵",
            actor_id=resident.id,
            now=clock(),
        )
        assert issue.status == S.ASSIGNED
        assert issue.owner_id == worker.id
        assert issue.reopened_count == 1
        assert issue.resolved_at is None
        # the old due date no longer counts: nobody is told it is four days overdue
        assert issue.due_at is None
        assert issue.plan == "疏通"  # the plan stays, for the owner to revise


async def test_two_workers_claim_at_once_one_wins(db: Database, clock: FakeClock) -> None:
    community, building, resident, worker, other, _sec = await _setup(db, clock)
    async with db.session() as session:
        issue = await make_issue(
            session,
            community,
            resident,
            clock,
            "楼上装修太吵",
            category="noise",
            building_id=building.id,
        )

    async def try_claim(person_id: int) -> str:
        async with db.session() as session:
            mine = await session.get(Issue, issue.id)
            assert mine is not None
            try:
                await rules.claim(session, mine, actor_id=person_id, now=clock())
            except (ConcurrentChange, TransitionNotAllowed):
                return "lost"
            return "won"

    # Read both copies first, then write: the second writer holds a stale version.
    async with db.session() as s1, db.session() as s2:
        a = await s1.get(Issue, issue.id)
        b = await s2.get(Issue, issue.id)
        assert a is not None and b is not None
        await rules.claim(s1, a, actor_id=worker.id, now=clock())
        await s1.commit()
        with pytest.raises(ConcurrentChange) as lost:
            await rules.claim(s2, b, actor_id=other.id, now=clock())
        assert lost.value.issue.owner_id == worker.id  # the loser learns who won
    results = await asyncio.gather(try_claim(worker.id), try_claim(other.id))
    assert results == ["lost", "lost"]  # already claimed: nobody claims twice
    async with db.session() as session:
        claims = (await session.exec(select(IssueEvent).where(IssueEvent.kind == "claimed"))).all()
    assert len(claims) == 1


async def test_merge_carries_supporters_and_me_too_counts(db: Database, clock: FakeClock) -> None:
    community, building, resident, worker, _other, _sec = await _setup(db, clock)
    async with db.session() as session:
        neighbour = await make_member(session, community, name="李阿姨")
        third = await make_member(session, community, name="张大爷")
        main = await make_issue(
            session,
            community,
            resident,
            clock,
            "消防通道被占",
            category="parking",
            building_id=building.id,
        )
        dup = await make_issue(
            session,
            community,
            neighbour,
            clock,
            "车堵在楼下",
            category="parking",
            building_id=building.id,
        )
        assert await add_support(session, dup, person_id=third.id, now=clock())
        assert not await add_support(session, dup, person_id=third.id, now=clock())
        assert not await add_support(session, dup, person_id=neighbour.id, now=clock())
        # backing it already, they write again: no second "me too", but their words are kept,
        # with the photo and the place they pinned
        photo = rules.NewAttachment(kind="photo", telegram_file_id="f1", file_unique_id="u1")
        said = await rules.back_with_words(
            session,
            dup,
            person_id=third.id,
            now=clock(),
            text="还是堵着",
            attachments=[photo],
            location=(29.56, 106.55),
        )
        assert dup.support_count == 1
        last = (await rules.history(session, dup, public_only=False))[-1]
        assert (last.id, last.text, last.actor_id) == (said.id, "还是堵着", third.id)
        assert last.data == {"latitude": 29.56, "longitude": 106.55}
        assert [a.telegram_file_id for a in await media_of(session, dup)] == ["f1"]
        # a new neighbour backing with words counts once, with one event
        fourth = await make_member(session, community, name="王阿姨")
        await rules.back_with_words(session, dup, person_id=fourth.id, now=clock(), text="同感")
        assert dup.support_count == 2
        kinds = [e.kind for e in await rules.history(session, dup, public_only=False)]
        assert kinds.count(Action.SUPPORT) == 3  # 张大爷's "me too", then words twice
        candidates = await open_duplicates(
            session, community_id=community.id, building_id=building.id, category="parking"
        )
        assert {c.id for c in candidates} == {main.id, dup.id}
        await rules.merge(session, dup, into=main, actor_id=worker.id, now=clock())
        assert dup.status == S.MERGED and dup.merged_into_id == main.id
        assert main.support_count == 3
        assert set(await audience(session, main)) == {
            resident.id,
            neighbour.id,
            third.id,
            fourth.id,
        }


async def test_rights_follow_roles_and_ownership(db: Database, clock: FakeClock) -> None:
    community, building, resident, worker, other, secretary = await _setup(db, clock)
    async with db.session() as session:
        issue = await make_issue(
            session,
            community,
            resident,
            clock,
            "树枝挡窗",
            category="greenery",
            building_id=building.id,
        )
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
    assert not may(Action.ACCEPT, role=Role.RESIDENT, person_id=resident.id, issue=issue)
    assert may(Action.WITHDRAW, role=Role.RESIDENT, person_id=resident.id, issue=issue)
    assert may(Action.RESOLVE, role=Role.WORKER, person_id=worker.id, issue=issue)
    assert not may(Action.RESOLVE, role=Role.WORKER, person_id=other.id, issue=issue)
    assert may(Action.RESOLVE, role=Role.SECRETARY, person_id=secretary.id, issue=issue)
    assert not may(Action.ASSIGN, role=Role.WORKER, person_id=other.id, issue=issue)
    assert may(Action.ASSIGN, role=Role.SECRETARY, person_id=secretary.id, issue=issue)
    assert not may(Action.PROGRESS, role=None, person_id=worker.id, issue=issue)
    assert not may(Action.WITHDRAW, role=Role.RESIDENT, person_id=other.id, issue=issue)


async def test_a_replayed_update_opens_no_second_issue(db: Database, clock: FakeClock) -> None:
    community, _building, resident, *_ = await _setup(db, clock)
    async with db.session() as session:
        kwargs = dict(
            community_id=community.id,
            reporter_id=resident.id,
            category="sanitation",
            description="垃圾没人清",
            now=clock(),
            limits=LIMITS,
            source_update_id=777,
        )
        a = await rules.create_issue(session, **kwargs)
        b = await rules.create_issue(session, **kwargs)
        assert a.id == b.id
