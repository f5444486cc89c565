"""The staff side's storage rules, tested directly with the clock passed in: binding the staff
group, following a group that became a supergroup, who can own an issue, and what a card
counts."""

from __future__ import annotations

from sqlmodel import select

from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Community, Issue, Outbox, Role
from storage.notifications import STAFF_CARD
from storage.staff import (
    BindOutcome,
    bind_staff_group,
    card_facts,
    community_of_group,
    follow_group_migration,
    staff_members,
    store_card_message,
)
from tests.factories import FakeClock, make_community, make_member

GROUP, OTHER_GROUP = -1001000000001, -1001000000002


async def test_binding_queues_a_card_for_every_issue_still_in_hand(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    other = await make_community(db, clock, name="石门社区")
    async with db.session() as session:
        here = await session.get(Community, community.id)
        there = await session.get(Community, other.id)
        assert here is not None and there is not None and here.id is not None
        worker = await make_member(session, here, Role.WORKER, name="王网格")
        assert worker.id is not None
        made = []
        for text in ("新的", "办结待回访", "已撤回", "已受理"):
            made.append(
                await rules.create_issue(
                    session,
                    community_id=here.id,
                    category="other",
                    description=text,
                    now=clock(),
                    limits=TimeLimits(),
                )
            )
        await rules.claim(session, made[1], actor_id=worker.id, now=clock())
        await rules.resolve(session, made[1], note="好了", actor_id=worker.id, now=clock())
        await rules.withdraw(session, made[2], reason="不用了", actor_id=worker.id, now=clock())
        await rules.accept(session, made[3], actor_id=worker.id, now=clock())

        first = await bind_staff_group(session, community=here, chat_id=GROUP, now=clock())
        assert first.outcome is BindOutcome.BOUND and first.cards_queued == 3  # not the withdrawn
        again = await bind_staff_group(session, community=here, chat_id=GROUP, now=clock())
        assert again.outcome is BindOutcome.ALREADY
        taken = await bind_staff_group(session, community=there, chat_id=GROUP, now=clock())
        assert taken.outcome is BindOutcome.TAKEN and taken.holder is not None
        assert taken.holder.id == here.id and there.staff_chat_id is None

        assert made[0].id is not None
        await store_card_message(session, made[0].id, 42, "digest-1")
        # the issue this session holds shows it at once, as the database does
        held = await session.get(Issue, made[0].id)
        assert held is made[0]
        assert (held.staff_message_id, held.staff_card_digest) == (42, "digest-1")
        moved = await bind_staff_group(session, community=here, chat_id=OTHER_GROUP, now=clock())
        assert moved.outcome is BindOutcome.MOVED and moved.cards_queued == 3
        await session.refresh(made[0])
        assert made[0].staff_message_id is None  # the old group's message id means nothing here
        rows = (await session.exec(select(Outbox).where(Outbox.kind == STAFF_CARD))).all()
        assert sorted(r.chat_id for r in rows) == [OTHER_GROUP] * 3 + [GROUP] * 3

        assert await follow_group_migration(session, old_chat_id=OTHER_GROUP, new_chat_id=-100999)
        assert not await follow_group_migration(session, old_chat_id=GROUP, new_chat_id=-100998)
        found = await community_of_group(session, -100999)
        assert found is not None and found.id == here.id


async def test_owners_offered_are_the_secretary_first_then_the_workers(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None and stored.id is not None
        await make_member(session, stored, Role.WORKER, name="王网格")
        await make_member(session, stored, Role.RESIDENT, name="老许")
        await make_member(session, stored, Role.SECRETARY, name="谢兰")
        await make_member(session, stored, Role.WORKER, name="李网格")
        await make_member(session, stored, Role.BUILDING_LEAD, name="张楼长")
        members = await staff_members(session, stored.id)
    assert [(p.full_name, r) for p, r in members] == [
        ("谢兰", Role.SECRETARY),
        ("李网格", Role.WORKER),
        ("王网格", Role.WORKER),
    ]


async def test_a_card_counts_the_issues_photos_and_media_and_shows_the_latest_progress(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        here = await session.get(Community, community.id)
        assert here is not None
        resident = await make_member(session, here, name="老许")
        worker = await make_member(session, here, Role.WORKER, name="王网格")
        assert worker.id is not None and resident.id is not None
        photo = rules.NewAttachment(kind="photo", telegram_file_id="p1", file_unique_id="u1")
        issue = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=resident.id,
            category="facilities",
            description="楼道灯坏了",
            now=clock(),
            limits=TimeLimits(),
            attachments=[photo, rules.NewAttachment(kind="location")],
        )
        other = await rules.create_issue(  # another issue's photo is not this card's
            session,
            community_id=community.id,
            reporter_id=resident.id,
            category="facilities",
            description="另一件事",
            now=clock(),
            limits=TimeLimits(),
            attachments=[rules.NewAttachment(kind="photo", telegram_file_id="p9")],
        )
        assert other.id != issue.id
        facts = await card_facts(session, issue)
        assert (facts.photos, facts.media, facts.last_progress) == (1, 1, None)

        await rules.append_info(
            session,
            issue,
            actor_id=resident.id,
            now=clock(),
            text="还有录音",
            attachments=[
                rules.NewAttachment(kind="voice", telegram_file_id="v1"),
                rules.NewAttachment(kind="photo", telegram_file_id="p2"),
            ],
        )
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
        await rules.set_plan(
            session, issue, plan="换灯", due_at=None, actor_id=worker.id, now=clock()
        )
        for note in ("已报物业", "灯已买到"):
            clock.advance(hours=1)
            await rules.add_progress(
                session, issue, text=note, public=False, actor_id=worker.id, now=clock()
            )
        facts = await card_facts(session, issue)
        assert (facts.photos, facts.media) == (2, 3)
        assert facts.last_progress is not None and facts.last_progress.text == "灯已买到"
        assert facts.last_progress_by == "王网格"
