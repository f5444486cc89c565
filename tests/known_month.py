"""A known month of issues (November 2026, Chongqing time), built through the domain functions
with the clock passed in. The digest, notebook page and export tests check their figures
against values worked out by hand from this timeline (see tests/handlers/secretary/test_digest.py).

    No.  reported        category    building  what happened
    1    Oct 20 09:00    parking     3栋       withdrawn Oct 21 09:00
    2    Oct 28 09:00    noise       1栋       王 claims 10:00; resolved Nov 1 09:00;
                                               follow-up Nov 2 09:00 solved, 满意
    3    Nov 2 09:00     drains      1栋       王 claims 10:00, plans; resolved Nov 3 09:00;
                                               follow-up Nov 5 10:00 solved, 满意
    4    Nov 3 08:00     drains      1栋       王 claims Nov 4 10:00 (26 h: late for 24 h);
                                               resolved Nov 4 20:00;
                                               follow-up Nov 6 solved, 基本满意
    5    Nov 5 09:00     noise       2栋       李 accepts and claims 12:00; resolved Nov 7;
                                               follow-up Nov 9 not solved, 不满意 -> reopened;
                                               resolved Nov 12 09:00;
                                               follow-up Nov 14 partly, 基本满意
    6    Nov 6 14:00     drains      1栋       王 claims 18:00, due Nov 10 18:00: overdue
    7    Nov 10 09:00    parking     3栋       李 accepts 14:00; nobody owns it
    8    Nov 12 09:00    noise       2栋       李 claims 11:00, due Nov 20 18:00: overdue
    9    Nov 16 09:00    sanitation  3栋       nobody has looked at it
    10   Nov 18 09:00    drains      1栋       王 claims 11:00; resolved Nov 19 09:00;
                                               no follow-up answer: closed Nov 26 09:00
    11   Nov 20 09:00    noise       2栋       (李阿姨) merged into No. 8 at 15:00
    12   Nov 28 09:00    greenery    3栋       王 claims 10:00, due Dec 5 18:00
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.followups import close_unanswered, follow_up
from storage.models import (
    Building,
    Community,
    FollowUpResult,
    Issue,
    Person,
    Role,
    Satisfaction,
)
from tests.factories import FakeClock, make_community, make_member

CQ = ZoneInfo("Asia/Shanghai")
LIMITS = TimeLimits()


def cq(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in 2026, Chongqing time, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=CQ).astimezone(UTC)


@dataclass
class KnownMonth:
    community: Community
    secretary: Person
    wang: Person  # 王网格
    li: Person  # 李网格
    resident: Person  # 老许
    buildings: dict[str, int]
    issues: dict[int, int]  # number -> id


async def build_known_month(
    db: Database,
    clock: FakeClock,
    *,
    secretary_tg: int | None = None,
    worker_tg: int | None = None,
    li_tg: int | None = None,
    resident_tg: int | None = None,
) -> KnownMonth:
    community = await make_community(db, clock)
    assert community.id is not None
    async with db.session() as session:
        buildings = {
            b.name: b.id
            for b in (
                await session.exec(select(Building).where(Building.community_id == community.id))
            ).all()
            if b.id is not None
        }
        secretary = await make_member(
            session, community, Role.SECRETARY, name="谢兰", telegram_user_id=secretary_tg
        )
        wang = await make_member(
            session, community, Role.WORKER, name="王网格", telegram_user_id=worker_tg
        )
        li = await make_member(
            session, community, Role.WORKER, name="李网格", telegram_user_id=li_tg
        )
        resident = await make_member(session, community, name="老许", telegram_user_id=resident_tg)
        neighbour = await make_member(session, community, name="李阿姨")
        assert wang.id and li.id and resident.id and neighbour.id
        issues: dict[int, Issue] = {}

        async def report(
            when: datetime, category: str, building: str, text: str, by: int = resident.id or 0
        ) -> Issue:
            issue = await rules.create_issue(
                session,
                community_id=community.id or 0,
                reporter_id=by,
                category=category,
                description=text,
                building_id=buildings[building],
                now=when,
                limits=LIMITS,
            )
            issues[issue.number] = issue
            return issue

        async def answer(
            issue: Issue, when: datetime, result: FollowUpResult, happy: Satisfaction | None
        ) -> None:
            await follow_up(
                session,
                issue,
                result=result,
                satisfaction=happy,
                comment=None,
                actor_id=issue.reporter_id,
                now=when,
            )

        n1 = await report(cq(10, 20, 9), "parking", "3栋", "车位被占")
        await rules.withdraw(session, n1, reason="已解决", actor_id=resident.id, now=cq(10, 21, 9))

        n2 = await report(cq(10, 28, 9), "noise", "1栋", "楼下广场舞太吵")
        await rules.claim(session, n2, actor_id=wang.id, now=cq(10, 28, 10))
        await rules.resolve(session, n2, note="已协调", actor_id=wang.id, now=cq(11, 1, 9))
        await answer(n2, cq(11, 2, 9), FollowUpResult.SOLVED, Satisfaction.SATISFIED)

        n3 = await report(cq(11, 2, 9), "drains", "1栋", "下水道堵了 <厨房> & 卫生间")
        await rules.claim(session, n3, actor_id=wang.id, now=cq(11, 2, 10))
        await rules.set_plan(
            session,
            n3,
            plan="联系物业疏通",
            due_at=cq(11, 3, 18),
            actor_id=wang.id,
            now=cq(11, 2, 10),
        )
        await rules.resolve(session, n3, note="已疏通", actor_id=wang.id, now=cq(11, 3, 9))
        await answer(n3, cq(11, 5, 10), FollowUpResult.SOLVED, Satisfaction.SATISFIED)

        n4 = await report(cq(11, 3, 8), "drains", "1栋", "楼道返水")
        await rules.claim(session, n4, actor_id=wang.id, now=cq(11, 4, 10))
        await rules.resolve(session, n4, note="已处理", actor_id=wang.id, now=cq(11, 4, 20))
        await answer(n4, cq(11, 6, 10), FollowUpResult.SOLVED, Satisfaction.BASIC)

        n5 = await report(cq(11, 5, 9), "noise", "2栋", "楼上装修太吵")
        await rules.accept(session, n5, actor_id=li.id, now=cq(11, 5, 12))
        await rules.claim(session, n5, actor_id=li.id, now=cq(11, 5, 12))
        await rules.resolve(session, n5, note="已沟通", actor_id=li.id, now=cq(11, 7, 9))
        await answer(n5, cq(11, 9, 9), FollowUpResult.NOT_SOLVED, Satisfaction.DISSATISFIED)
        await rules.resolve(session, n5, note="限定施工时间", actor_id=li.id, now=cq(11, 12, 9))
        await answer(n5, cq(11, 14, 9), FollowUpResult.PARTLY, Satisfaction.BASIC)

        n6 = await report(cq(11, 6, 14), "drains", "1栋", "化粪池满了")
        await rules.claim(session, n6, actor_id=wang.id, now=cq(11, 6, 18))
        await rules.set_plan(
            session,
            n6,
            plan="=请环卫车抽污",  # starts like a spreadsheet formula: exports must defuse it
            due_at=cq(11, 10, 18),
            actor_id=wang.id,
            now=cq(11, 6, 18),
        )

        n7 = await report(cq(11, 10, 9), "parking", "3栋", "消防通道被占")
        await rules.accept(session, n7, actor_id=li.id, now=cq(11, 10, 14))

        n8 = await report(cq(11, 12, 9), "noise", "2栋", "夜里有人喧哗")
        await rules.claim(session, n8, actor_id=li.id, now=cq(11, 12, 11))
        await rules.set_plan(
            session,
            n8,
            plan="晚上巡查",
            due_at=cq(11, 20, 18),
            actor_id=li.id,
            now=cq(11, 12, 11),
        )
        await rules.add_progress(
            session,
            n8,
            text="已找到住户 <3楼> 谈话",
            public=False,
            actor_id=li.id,
            now=cq(11, 14, 20),
        )

        await report(cq(11, 16, 9), "sanitation", "3栋", "垃圾桶满了没人清")

        n10 = await report(cq(11, 18, 9), "drains", "1栋", "雨水管堵塞")
        await rules.claim(session, n10, actor_id=wang.id, now=cq(11, 18, 11))
        await rules.resolve(session, n10, note="已清理", actor_id=wang.id, now=cq(11, 19, 9))
        await close_unanswered(session, n10, now=cq(11, 26, 9))

        n11 = await report(cq(11, 20, 9), "noise", "2栋", "晚上太吵", by=neighbour.id)
        await rules.merge(session, n11, into=n8, actor_id=li.id, now=cq(11, 20, 15))

        n12 = await report(cq(11, 28, 9), "greenery", "3栋", "树枝挡住窗户")
        await rules.claim(session, n12, actor_id=wang.id, now=cq(11, 28, 10))
        await rules.set_plan(
            session,
            n12,
            plan="请园林修剪",
            due_at=cq(12, 5, 18),
            actor_id=wang.id,
            now=cq(11, 28, 10),
        )
        ids = {number: issue.id for number, issue in issues.items() if issue.id is not None}
    return KnownMonth(community, secretary, wang, li, resident, buildings, ids)
