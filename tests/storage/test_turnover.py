"""Staff turnover rules (storage/turnover.py), tested directly: deactivation moves a leaver's items
with an event each and ends their rights; the secretary's role changes hands on acceptance;
invitation links are withdrawn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from storage import issues as rules
from storage import outbox, turnover
from storage.categories import TimeLimits
from storage.communities import RedeemOutcome, create_invite, redeem_invite
from storage.db import Database
from storage.issue_lifecycle import Action, may
from storage.models import (
    Community,
    Issue,
    IssueEvent,
    IssueStatus,
    Outbox,
    OutboxStatus,
    Person,
    Role,
)
from storage.notifications import ISSUE_EVENT
from storage.people import role_in
from storage.turnover import Refusal, StaffRefusal
from tests.factories import FakeClock, make_community, make_member


async def _issue(session, community: Community, reporter: Person, clock: FakeClock) -> Issue:
    return await rules.create_issue(
        session,
        community_id=community.id,
        reporter_id=reporter.id,
        category="facilities",
        description="楼道灯坏了",
        now=clock(),
        limits=TimeLimits(),
    )


async def _team(db: Database, clock: FakeClock):
    """A community with a secretary, two workers and a resident; Wang owns three items."""
    community = await make_community(db, clock)
    async with db.session() as session:
        xie = await make_member(session, community, Role.SECRETARY, name="谢兰")
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        li = await make_member(session, community, Role.WORKER, name="李网格")
        xu = await make_member(session, community, name="老许")
        assigned = await _issue(session, community, xu, clock)
        await rules.claim(session, assigned, actor_id=wang.id, now=clock())
        planned = await _issue(session, community, xu, clock)
        await rules.claim(session, planned, actor_id=wang.id, now=clock())
        await rules.set_plan(
            session, planned, plan="换灯泡", due_at=None, actor_id=wang.id, now=clock()
        )
        resolved = await _issue(session, community, xu, clock)
        await rules.claim(session, resolved, actor_id=wang.id, now=clock())
        await rules.resolve(session, resolved, note="修好了", actor_id=wang.id, now=clock())
        lis = await _issue(session, community, xu, clock)
        await rules.claim(session, lis, actor_id=li.id, now=clock())
    return community, xie, wang, li, xu


async def _issues(db: Database) -> dict[int, Issue]:
    async with db.session() as session:
        return {i.number: i for i in (await session.exec(select(Issue))).all()}


async def test_deactivating_a_worker_returns_their_items_to_the_queue_with_an_event_each(
    db: Database, clock: FakeClock
) -> None:
    community, xie, wang, li, _xu = await _team(db, clock)
    async with db.session() as session:
        link = await create_invite(
            session,
            community_id=community.id,
            role=Role.RESIDENT,
            now=clock(),
            created_by_id=wang.id,
        )
        await outbox.enqueue(  # a reminder waiting for Wang
            session,
            chat_id=wang.telegram_user_id,
            kind="agenda",
            dedupe_key="agenda:test",
            due_at=clock() + timedelta(hours=1),
            payload={"person_id": wang.id},
            now=clock(),
            person_id=wang.id,
        )
    clock.advance(hours=1)
    async with db.session() as session:
        result = await turnover.deactivate_worker(
            session,
            community_id=community.id,
            secretary_id=xie.id,
            worker_id=wang.id,
            to_person_id=None,
            reason="王网格已调离",
            now=clock(),
        )
    assert [i.number for i in result.moved] == [1, 2, 3]
    assert result.to is None and result.revoked_links == 1 and result.cancelled_messages == 1
    issues = await _issues(db)
    assert issues[1].owner_id is None and issues[1].status == IssueStatus.ACCEPTED
    assert issues[2].owner_id is None and issues[2].status == IssueStatus.ACCEPTED
    assert issues[2].plan == "换灯泡"  # the plan stays for whoever takes it next
    assert issues[3].owner_id is None and issues[3].status == IssueStatus.RESOLVED
    assert issues[4].owner_id == li.id  # someone else's item is untouched
    async with db.session() as session:
        for number in (1, 2, 3):
            last = (
                await session.exec(
                    select(IssueEvent)
                    .where(IssueEvent.issue_id == issues[number].id)
                    .order_by(col(IssueEvent.id).desc())
                )
            ).first()
            assert last is not None and last.actor_id == xie.id
            assert last.text == "王网格已调离" and last.data["staff_left"] == wang.id
            assert last.at == clock()
        assert await role_in(session, person_id=wang.id, community_id=community.id) is None
        refreshed = await redeem_invite(
            session,
            token=link.token,
            person=await make_member(session, await make_community(db, clock, name="别处")),
            now=clock(),
        )
        assert refreshed.outcome is RedeemOutcome.REVOKED
        row = (await session.exec(select(Outbox).where(Outbox.dedupe_key == "agenda:test"))).one()
        assert row.status == OutboxStatus.CANCELLED
    # the secretary can now reopen the resolved one: it comes back to the queue, not to Wang
    async with db.session() as session:
        issue = await session.get(Issue, issues[3].id)
        await rules.reopen(session, issue, reason="没修好", actor_id=xie.id, now=clock())
        assert issue.status == IssueStatus.ACCEPTED and issue.owner_id is None


async def test_a_leavers_items_can_go_to_a_chosen_worker_and_residents_hear_who(
    db: Database, clock: FakeClock
) -> None:
    community, xie, wang, li, xu = await _team(db, clock)
    async with db.session() as session:
        result = await turnover.deactivate_worker(
            session,
            community_id=community.id,
            secretary_id=xie.id,
            worker_id=wang.id,
            to_person_id=li.id,
            reason="王网格已调离",
            now=clock(),
        )
    assert result.to is not None and result.to.id == li.id
    issues = await _issues(db)
    assert {issues[n].owner_id for n in (1, 2, 3, 4)} == {li.id}
    assert issues[1].status == IssueStatus.ASSIGNED and issues[3].status == IssueStatus.RESOLVED
    async with db.session() as session:
        rows = (await session.exec(select(Outbox).order_by(col(Outbox.id)))).all()
        kinds = [(r.kind, r.person_id) for r in rows]
        # the open ones: the resident is told who is responsible now (a public 改派)
        assert kinds.count((ISSUE_EVENT, xu.id)) == 2
        assert (turnover.ITEMS_HANDED_OVER, li.id) in kinds
        handed = next(r for r in rows if r.kind == turnover.ITEMS_HANDED_OVER)
        assert handed.payload["issue_ids"] == [issues[n].id for n in (1, 2, 3)]
        assigned = (
            await session.exec(
                select(IssueEvent).where(
                    IssueEvent.issue_id == issues[1].id, IssueEvent.kind == Action.ASSIGN
                )
            )
        ).one()
        assert assigned.data["previous_owner_id"] == wang.id and assigned.public
        # the leaver can do nothing any more: every rights check reads the active membership
        role = await role_in(session, person_id=wang.id, community_id=community.id)
        for action in Action:
            assert not may(action, role=role, person_id=wang.id, issue=issues[1])


@pytest.mark.parametrize("case", ["not_secretary", "secretary", "resident_target", "self"])
async def test_deactivation_refuses_what_it_must(db: Database, clock: FakeClock, case: str) -> None:
    community, xie, wang, li, xu = await _team(db, clock)
    asker, worker, to, refusal = {
        "not_secretary": (li.id, wang.id, None, Refusal.NOT_SECRETARY),
        "secretary": (xie.id, xie.id, None, Refusal.NOT_A_WORKER),
        "resident_target": (xie.id, wang.id, xu.id, Refusal.NOT_A_WORKER),
        "self": (xie.id, wang.id, wang.id, Refusal.SAME_PERSON),
    }[case]
    async with db.session() as session:
        with pytest.raises(StaffRefusal) as err:
            await turnover.deactivate_worker(
                session,
                community_id=community.id,
                secretary_id=asker,
                worker_id=worker,
                to_person_id=to,
                reason="x",
                now=clock(),
            )
    assert err.value.refusal is refusal
    assert (await _issues(db))[1].owner_id == wang.id


async def test_the_secretary_role_changes_hands_when_the_worker_accepts(
    db: Database, clock: FakeClock
) -> None:
    community, xie, wang, li, _ = await _team(db, clock)
    async with db.session() as session:
        offer = await turnover.offer_handover(
            session, community_id=community.id, secretary_id=xie.id, worker_id=wang.id, now=clock()
        )
        assert (await turnover.pending_offer(session, community_id=community.id)) is not None
    async with db.session() as session:
        with pytest.raises(StaffRefusal) as err:  # a forged press by someone else
            await turnover.answer_handover(
                session, handover_id=offer.id, person_id=li.id, accept=True, now=clock()
            )
        assert err.value.refusal is Refusal.NOT_YOURS
    async with db.session() as session:
        await turnover.answer_handover(
            session, handover_id=offer.id, person_id=wang.id, accept=True, now=clock()
        )
    async with db.session() as session:
        assert (
            await role_in(session, person_id=wang.id, community_id=community.id) is Role.SECRETARY
        )
        assert await role_in(session, person_id=xie.id, community_id=community.id) is Role.WORKER
        kinds = [r.kind for r in (await session.exec(select(Outbox))).all()]
        assert (
            kinds.count(turnover.HANDOVER_OFFER) == 1 and kinds.count(turnover.HANDOVER_ANSWER) == 1
        )
        with pytest.raises(StaffRefusal) as err:  # pressing accept twice changes nothing
            await turnover.answer_handover(
                session, handover_id=offer.id, person_id=wang.id, accept=True, now=clock()
            )
        assert err.value.refusal is Refusal.OFFER_GONE


async def test_a_handover_offer_expires_is_replaced_and_can_be_declined(
    db: Database, clock: FakeClock
) -> None:
    community, xie, wang, li, _ = await _team(db, clock)
    async with db.session() as session:
        first = await turnover.offer_handover(
            session, community_id=community.id, secretary_id=xie.id, worker_id=wang.id, now=clock()
        )
        second = await turnover.offer_handover(
            session, community_id=community.id, secretary_id=xie.id, worker_id=li.id, now=clock()
        )
    async with db.session() as session:
        with pytest.raises(StaffRefusal) as err:  # the first offer was withdrawn
            await turnover.answer_handover(
                session, handover_id=first.id, person_id=wang.id, accept=True, now=clock()
            )
        assert err.value.refusal is Refusal.OFFER_GONE
        with pytest.raises(StaffRefusal) as err:
            await turnover.answer_handover(
                session,
                handover_id=second.id,
                person_id=li.id,
                accept=True,
                now=clock() + turnover.HANDOVER_TTL,
            )
        assert err.value.refusal is Refusal.OFFER_EXPIRED
        third = await turnover.offer_handover(
            session, community_id=community.id, secretary_id=xie.id, worker_id=li.id, now=clock()
        )
        await turnover.answer_handover(
            session, handover_id=third.id, person_id=li.id, accept=False, now=clock()
        )
        assert await role_in(session, person_id=xie.id, community_id=community.id) is Role.SECRETARY


async def test_invitation_links_are_listed_while_active_and_can_be_withdrawn(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    other = await make_community(db, clock, name="别的社区")
    async with db.session() as session:
        xie = await make_member(session, community, Role.SECRETARY, name="谢兰")
        worker_link = await create_invite(
            session,
            community_id=community.id,
            role=Role.WORKER,
            now=clock(),
            created_by_id=xie.id,
            ttl=timedelta(hours=168),
        )
        expired = await create_invite(
            session,
            community_id=community.id,
            role=Role.WORKER,
            now=clock() - timedelta(days=8),
            ttl=timedelta(hours=168),
        )
        resident_link = await create_invite(
            session, community_id=community.id, role=Role.RESIDENT, now=clock()
        )
        foreign = await create_invite(
            session, community_id=other.id, role=Role.RESIDENT, now=clock()
        )
        active = await turnover.active_invites(session, community_id=community.id, now=clock())
        assert {link.id for link in active} == {worker_link.id, resident_link.id}
        assert expired.id not in {link.id for link in active}
        assert (
            await turnover.revoke_invite(
                session, community_id=community.id, link_id=foreign.id, now=clock()
            )
            is None
        )
        assert await turnover.revoke_invite(
            session, community_id=community.id, link_id=worker_link.id, now=clock()
        )
        newcomer = await make_member(session, other, name="新人")
        used = await redeem_invite(session, token=worker_link.token, person=newcomer, now=clock())
        assert used.outcome is RedeemOutcome.REVOKED
        active = await turnover.active_invites(session, community_id=community.id, now=clock())
        assert [link.id for link in active] == [resident_link.id]
