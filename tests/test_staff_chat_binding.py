"""Binding a staff group to a community: a plain domain rule, tested directly."""

from __future__ import annotations

from storage.communities import bind_staff_chat
from storage.db import Database
from storage.models import Community
from tests.factories import FakeClock, make_community

GROUP = -1_001_000_000_042


async def test_a_group_serves_one_community_and_moves_when_bound_again(
    db: Database, clock: FakeClock
) -> None:
    first = await make_community(db, clock, name="邢家桥社区")
    second = await make_community(db, clock, name="石油路社区")
    async with db.session() as session:
        await bind_staff_chat(session, community=first, chat_id=GROUP)
    async with db.session() as session:
        assert (await session.get(Community, first.id)).staff_chat_id == GROUP  # type: ignore[union-attr]
        await bind_staff_chat(session, community=second, chat_id=GROUP)
    async with db.session() as session:
        moved_from = await session.get(Community, first.id)
        moved_to = await session.get(Community, second.id)
    assert moved_from is not None and moved_from.staff_chat_id is None
    assert moved_to is not None and moved_to.staff_chat_id == GROUP


async def test_binding_the_same_group_again_changes_nothing(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        await bind_staff_chat(session, community=community, chat_id=GROUP)
        await bind_staff_chat(session, community=community, chat_id=GROUP)
    async with db.session() as session:
        again = await session.get(Community, community.id)
    assert again is not None and again.staff_chat_id == GROUP
