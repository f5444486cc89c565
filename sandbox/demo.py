"""The demo community the sandbox starts with: 邢家桥社区, its buildings, the secretary 谢兰, two
workers, a few residents, and issues in every state from "just reported" to "followed up".

Everything is made by the domain functions the bot itself uses (invitations redeemed, issues
created and moved through their lifecycle by `storage.issues`), never by raw inserts, with times
counted back from the sandbox's now, so the reminders the notebook would send are really due.

To show more after a feature lands, add people to `PEOPLE`, issues to `ISSUES`, or a new kind of
step to `_STEPS`: seeding, the emulator's users and the page follow on their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import consent, consent_votes, followups, household_checks, households
from storage import issues as rules
from storage.categories import TimeLimits
from storage.communities import (
    add_building,
    create_community,
    create_invite,
    redeem_invite,
)
from storage.households import HouseholdRow
from storage.issue_lifecycle import OPEN, Action
from storage.issue_support import add_support
from storage.models import (
    Building,
    Channel,
    Community,
    ConsentRule,
    Difficulty,
    FollowUpResult,
    Issue,
    IssueStatus,
    Membership,
    Person,
    Role,
    Satisfaction,
    Urgency,
    VoteChoice,
)
from storage.notifications import STAFF_CARD, issue_opened, notify_audience
from storage.people import TelegramIdentity, membership, upsert_person

COMMUNITY_NAME = "邢家桥社区"
BUILDINGS = ("1栋", "2栋", "3栋", "4栋")


def staff_group_title(community_name: str) -> str:
    """What the staff group is called in the emulator (a group's name is chosen by people)."""
    return f"{community_name}工作群"


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    role: Role
    telegram_user_id: int
    language_code: str = "zh-hans"
    building: str | None = None
    username: str | None = None


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("xie", "谢兰", Role.SECRETARY, 7_000_001, username="xie_lan"),
    DemoPerson("wang", "王网格", Role.WORKER, 7_000_002, building="1栋"),
    DemoPerson("chen", "陈晓", Role.WORKER, 7_000_003, building="3栋"),
    DemoPerson("xu", "老许", Role.RESIDENT, 7_000_011, building="1栋"),
    DemoPerson("li", "李阿姨", Role.RESIDENT, 7_000_012, building="2栋"),
    DemoPerson("zhang", "张师傅", Role.RESIDENT, 7_000_013, building="3栋"),
    DemoPerson("zhou", "周奶奶", Role.RESIDENT, 7_000_014, building="2栋"),
    DemoPerson("anna", "Anna Weber", Role.RESIDENT, 7_000_015, language_code="en", building="1栋"),
)


@dataclass(frozen=True)
class Step:
    """One thing that happened to an issue, `ago` before the sandbox started."""

    kind: str
    actor: str  # a DemoPerson key
    ago: timedelta
    text: str = ""
    due_in: timedelta | None = None  # plan / transfer: the date, from the sandbox's start
    owner: str | None = None  # assign: to whom (a person's key); transfer: the body
    difficulty: Difficulty | None = None
    satisfaction: Satisfaction | None = None
    public: bool = True


def accept(by: str, ago: timedelta) -> Step:
    return Step("accept", by, ago)


def claim(by: str, ago: timedelta) -> Step:
    return Step("claim", by, ago)


def assign(by: str, to: str, ago: timedelta) -> Step:
    return Step("assign", by, ago, owner=to)


def classify(by: str, difficulty: Difficulty, ago: timedelta) -> Step:
    return Step("classify", by, ago, difficulty=difficulty)


def plan(by: str, text: str, ago: timedelta, *, due_in: timedelta) -> Step:
    return Step("plan", by, ago, text=text, due_in=due_in)


def progress(by: str, text: str, ago: timedelta, *, public: bool = True) -> Step:
    return Step("progress", by, ago, text=text, public=public)


def resolve(by: str, text: str, ago: timedelta) -> Step:
    return Step("resolve", by, ago, text=text)


def follow_up(by: str, satisfaction: Satisfaction, text: str, ago: timedelta) -> Step:
    return Step("follow_up", by, ago, text=text, satisfaction=satisfaction)


def support(by: str, ago: timedelta) -> Step:
    return Step("support", by, ago)


def reopen(by: str, reason: str, ago: timedelta) -> Step:
    return Step("reopen", by, ago, text=reason)


def transfer(by: str, to: str, note: str, ago: timedelta, *, answer_in: timedelta) -> Step:
    """转办 to `to`; their answer is due `answer_in` from the sandbox's start."""
    return Step("transfer", by, ago, text=note, owner=to, due_in=answer_in)


@dataclass(frozen=True)
class DemoIssue:
    reporter: str
    category: str
    description: str
    building: str | None
    ago: timedelta
    steps: tuple[Step, ...] = ()
    channel: Channel = Channel.TELEGRAM
    logged_by: str | None = None
    urgency: Urgency = Urgency.NORMAL


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def _d(days: float) -> timedelta:
    return timedelta(days=days)


# Chosen so that each jump on the page shows something: +1 hour brings No. 1's due-soon
# reminder, +1 day the agenda, No. 2 unanswered and No. 3 escalated, Monday 08:00 the digest.
ISSUES: tuple[DemoIssue, ...] = (
    DemoIssue(
        "xu",
        "facilities",
        "1栋2单元楼道灯坏了三天，晚上上下楼看不见，老人容易摔跤。",
        "1栋",
        _d(3),
        steps=(
            accept("wang", _d(3) - _h(1)),
            claim("wang", _d(3) - _h(1)),
            plan(
                "wang", "灯具型号特殊，已向物业订货，到货当天换好。", _d(3) - _h(2), due_in=_h(25)
            ),
        ),
    ),
    DemoIssue(
        "li",
        "drains",
        "厨房下水道堵了，水都漫到地上了，楼下邻居说天花板在滴水。",
        "2栋",
        _h(20),
    ),
    DemoIssue(
        "zhang",
        "parking",
        "消防通道每天晚上都停满了车，万一着火，消防车进不来。",
        "3栋",
        _d(6),
        steps=(
            accept("chen", _d(6) - _h(2)),
            claim("chen", _d(6) - _h(2)),
            plan("chen", "联系物业在消防通道口装挡车桩，并贴告示。", _d(5), due_in=-_h(30)),
            progress("chen", "已和物业沟通，挡车桩下周到货。", _d(2)),
        ),
    ),
    DemoIssue(
        "xu",
        "noise",
        "晚上广场舞音响太吵，十点以后还在放。",
        "1栋",
        _d(10),
        steps=(
            accept("wang", _d(10) - _h(3)),
            claim("wang", _d(10) - _h(3)),
            plan("wang", "和广场舞队商量音量和结束时间。", _d(9), due_in=-_d(3)),
            progress("wang", "已约舞蹈队负责人周五面谈。", _d(5)),
            resolve("wang", "已和舞蹈队约定：晚上九点前结束，音量调小，换到离楼远的空地。", _d(1)),
        ),
    ),
    DemoIssue(
        "zhou",
        "civil_affairs",
        "想问问高龄补贴怎么申请，要带什么材料。",
        "2栋",
        _d(12),
        channel=Channel.PHONE,
        logged_by="xie",
        steps=(
            accept("xie", _d(12) - _h(1)),
            claim("xie", _d(12) - _h(1)),
            plan(
                "xie", "电话告诉周奶奶要带的材料，帮她预约百通岗。", _d(12) - _h(2), due_in=-_d(10)
            ),
            resolve("xie", "已告知带身份证、户口本，已预约周四上午在百通岗办理。", _d(11)),
            follow_up("zhou", Satisfaction.SATISFIED, "办好了，谢谢谢书记。", _d(9)),
        ),
    ),
    DemoIssue(
        "li",
        "elevator",
        "2栋想加装电梯，一楼住户担心噪音和采光，大家意见不一。",
        "2栋",
        _d(20),
        steps=(
            accept("xie", _d(19)),
            classify("xie", Difficulty.COORDINATION, _d(19)),
            assign("xie", "wang", _d(19)),
            plan("wang", "先开院坝会听一楼住户的意见，再请设计单位出方案。", _d(18), due_in=_d(10)),
            support("zhou", _d(15)),
            progress("wang", "院坝会定在本周六下午三点，在2栋楼下，欢迎大家来。", _d(2)),
        ),
    ),
    DemoIssue(
        "anna",
        "sanitation",
        "The rubbish bins behind building 1 have not been emptied since Monday.",
        "1栋",
        _d(1),
        steps=(accept("wang", _h(20)),),
    ),
    # #22: an urgent report nobody has taken up: 陈晓 (3栋) and 谢兰 are paged at once, and
    # again at half its two hours (+1 hour)
    DemoIssue(
        "zhang",
        "safety",
        "3栋地下车库有电动车在充电，冒烟了，有焦糊味！",
        "3栋",
        _h(0.5),
        urgency=Urgency.EMERGENCY,
    ),
    # #22: reopened by the resident, with her words on the card; the old due date is gone and
    # the owner is asked for a new one
    DemoIssue(
        "zhou",
        "facilities",
        "2栋单元门的门禁坏了，门关不上，晚上谁都能进来。",
        "2栋",
        _d(8),
        steps=(
            accept("xie", _d(8) - _h(1)),
            assign("xie", "wang", _d(8) - _h(1)),
            plan("wang", "请物业换门禁电源。", _d(7), due_in=-_d(5)),
            resolve("wang", "物业已换好门禁电源。", _d(4)),
            reopen("zhou", "修好两天又坏了，晚上门还是关不上。", _d(1)),
        ),
    ),
    # #22: 转办 to the power supply office, their answer date passed: 王网格 is reminded
    DemoIssue(
        "xu",
        "utilities",
        "1栋门口的路灯一闪一闪的，线路好像老化了。",
        "1栋",
        _d(5),
        steps=(
            accept("wang", _d(5) - _h(1)),
            claim("wang", _d(5) - _h(1)),
            transfer(
                "wang",
                "供电所",
                "路灯线路归供电所维护，已转交他们处理。",
                _d(4),
                answer_in=-_h(12),
            ),
        ),
    ),
    # #22: 上报: beyond the community's reach, the secretary is told and it is on the digest
    DemoIssue(
        "li",
        "other",
        "2栋顶楼有人私搭乱建，把楼顶的排水口堵了。",
        "2栋",
        _d(2),
        steps=(
            accept("wang", _d(2) - _h(2)),
            classify("wang", Difficulty.ESCALATE, _d(2) - _h(2)),
        ),
    ),
)


# #22, verified households: the consent vote on 2栋's elevator. 李阿姨 (201) was checked by
# 王网格 and voted from her phone; 周奶奶 (101, ground floor, her own space taken by the shaft)
# used her household code and has not voted yet (try /vote as 周奶奶); 301 agreed on a paper form
# and 401 through a proxy, both recorded by 王网格 with the evidence. 张师傅 (3栋) has asked, from
# /profile, to be verified for room 502: 陈晓, who serves 3栋, has the request.
CAMPAIGN_BUILDING = "2栋"
CAMPAIGN_QUESTION = "2栋加装电梯：您家是否同意？"
CAMPAIGN_HOUSEHOLDS = (
    ("101", "周家", "60", True),
    ("102", "钱家", "62", False),
    ("201", "李家", "75.5", False),
    ("202", "赵家", "75.5", False),
    ("301", "孙家", "80", False),
    ("302", "吴家", "80", False),
    ("401", "郑家", "85", False),
    ("402", "冯家", "85", False),
    ("501", "陈家", "90", False),
    ("502", "褚家", "90", False),
)


@dataclass
class DemoCommunity:
    """What `seed` made, by key."""

    community: Community
    buildings: dict[str, Building]
    people: dict[str, Person]
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class StepContext:
    """Where a step happens: the issue, who is who, when (`at`) and the sandbox's start."""

    session: AsyncSession
    issue: Issue
    people: dict[str, Person]
    at: datetime
    start: datetime

    def id_of(self, key: str) -> int:
        person_id = self.people[key].id
        assert person_id is not None
        return person_id


StepRunner = Callable[[Step, StepContext], Awaitable[object]]


async def _accept(st: Step, c: StepContext) -> object:
    return await rules.accept(c.session, c.issue, actor_id=c.id_of(st.actor), now=c.at)


async def _claim(st: Step, c: StepContext) -> object:
    return await rules.claim(c.session, c.issue, actor_id=c.id_of(st.actor), now=c.at)


async def _assign(st: Step, c: StepContext) -> object:
    assert st.owner is not None
    return await rules.assign(
        c.session,
        c.issue,
        actor_id=c.id_of(st.actor),
        owner_id=c.id_of(st.owner),
        now=c.at,
        reason=st.text or None,
    )


async def _classify(st: Step, c: StepContext) -> object:
    assert st.difficulty is not None
    return await rules.classify(
        c.session, c.issue, difficulty=st.difficulty, actor_id=c.id_of(st.actor), now=c.at
    )


async def _plan(st: Step, c: StepContext) -> object:
    due = c.start + st.due_in if st.due_in is not None else None
    return await rules.set_plan(
        c.session, c.issue, plan=st.text, due_at=due, actor_id=c.id_of(st.actor), now=c.at
    )


async def _progress(st: Step, c: StepContext) -> object:
    return await rules.add_progress(
        c.session, c.issue, text=st.text, public=st.public, actor_id=c.id_of(st.actor), now=c.at
    )


async def _resolve(st: Step, c: StepContext) -> object:
    return await rules.resolve(
        c.session, c.issue, note=st.text, actor_id=c.id_of(st.actor), now=c.at
    )


async def _follow_up(st: Step, c: StepContext) -> object:
    return await followups.follow_up(
        c.session,
        c.issue,
        result=FollowUpResult.SOLVED,
        satisfaction=st.satisfaction,
        comment=st.text or None,
        actor_id=c.id_of(st.actor),
        now=c.at,
    )


async def _support(st: Step, c: StepContext) -> object:
    return await add_support(c.session, c.issue, person_id=c.id_of(st.actor), now=c.at)


async def _reopen(st: Step, c: StepContext) -> object:
    return await rules.reopen(
        c.session, c.issue, reason=st.text, actor_id=c.id_of(st.actor), now=c.at
    )


async def _transfer(st: Step, c: StepContext) -> object:
    assert st.owner is not None and st.due_in is not None
    return await rules.transfer(
        c.session,
        c.issue,
        to=st.owner,
        note=st.text,
        answer_by=c.start + st.due_in,
        actor_id=c.id_of(st.actor),
        now=c.at,
    )


_STEPS: dict[str, StepRunner] = {
    "accept": _accept,
    "claim": _claim,
    "assign": _assign,
    "classify": _classify,
    "plan": _plan,
    "progress": _progress,
    "resolve": _resolve,
    "follow_up": _follow_up,
    "support": _support,
    "reopen": _reopen,
    "transfer": _transfer,
}


async def _join(
    session: AsyncSession,
    who: DemoPerson,
    community: Community,
    buildings: dict[str, Building],
    *,
    invited_by: Person | None,
    now: datetime,
) -> Person:
    """The way each role really joins: staff by their single-use link, residents by the
    link on their building's poster."""
    assert community.id is not None
    person = await upsert_person(
        session,
        TelegramIdentity(
            user_id=who.telegram_user_id,
            full_name=who.name,
            username=who.username,
            language_code=who.language_code,
        ),
    )
    building = buildings[who.building] if who.building else None
    link = await create_invite(
        session,
        community_id=community.id,
        role=who.role,
        now=now,
        created_by_id=invited_by.id if invited_by else None,
        building_id=building.id if building else None,
    )
    joined = await redeem_invite(session, token=link.token, person=person, now=now)
    assert joined.membership is not None, f"{who.name} could not join: {joined.outcome}"
    return person


async def seed(
    session: AsyncSession,
    *,
    now: datetime,
    limits: TimeLimits,
    timezone: str,
    default_locale: str,
) -> DemoCommunity:
    """Create the demo community as it stands at `now`."""
    community = await create_community(
        session,
        name=COMMUNITY_NAME,
        timezone=timezone,
        default_locale=default_locale,
        now=now - _d(30),
    )
    assert community.id is not None
    buildings = {
        name: await add_building(session, community_id=community.id, name=name, sort_order=order)
        for order, name in enumerate(BUILDINGS)
    }
    people: dict[str, Person] = {}
    secretary: Person | None = None
    for who in sorted(PEOPLE, key=lambda p: p.role is not Role.SECRETARY):
        people[who.key] = await _join(
            session, who, community, buildings, invited_by=secretary, now=now - _d(30)
        )
        if who.role is Role.SECRETARY:
            secretary = people[who.key]
    demo = DemoCommunity(community, buildings, people)
    for spec in ISSUES:
        demo.issues.append(await _open(session, demo, spec, now=now, limits=limits))
    await _consent_vote(session, demo, now=now)
    return demo


async def _consent_vote(session: AsyncSession, demo: DemoCommunity, *, now: datetime) -> None:
    """The verified-households part of the demo (see CAMPAIGN_HOUSEHOLDS)."""
    community_id, building = demo.community.id, demo.buildings[CAMPAIGN_BUILDING]
    assert community_id is not None and building.id is not None
    people = demo.people

    async def member(key: str) -> Membership:
        found = await membership(session, person_id=people[key].id or 0, community_id=community_id)
        assert found is not None
        return found

    campaign = await consent.create_campaign(
        session,
        community_id=community_id,
        building_id=building.id,
        question=CAMPAIGN_QUESTION,
        rule=ConsentRule.ART278,
        created_by_id=people["wang"].id,
        now=now - _d(6),
    )
    rows = [
        HouseholdRow(room, owner, Decimal(area), occupied)
        for room, owner, area, occupied in CAMPAIGN_HOUSEHOLDS
    ]
    await consent.save_households(session, campaign, rows, now=now - _d(6))
    await consent.open_campaign(session, campaign, now=now - _d(5))
    wang = await member("wang")
    await household_checks.confirm(
        session,
        await member("li"),
        worker=wang,
        building_id=building.id,
        unit_id=None,
        room="201",
        now=now - _d(4),
    )
    (code,) = await households.codes_for(
        session,
        community_id=community_id,
        building_id=building.id,
        unit_id=None,
        rooms=["101"],
        created_by_id=people["wang"].id,
        now=now - _d(5),
    )
    await households.redeem_code(session, typed=code.token, person=people["zhou"], now=now - _d(3))
    homes = {h.room: h for h in await consent.households(session, campaign)}
    await consent_votes.cast_vote(
        session,
        campaign,
        homes["201"],
        choice=VoteChoice.AGREE,
        now=now - _d(3),
        cast_by_id=people["li"].id,
        concerns="希望施工时注意噪音。",
    )
    for room, channel, proxy, evidence in (
        ("301", Channel.PAPER, None, "书面意见表，已核对房产证"),
        ("401", Channel.PROXY, "郑敏（女儿）", "授权委托书，已核对身份证"),
    ):
        await consent_votes.cast_vote(
            session,
            campaign,
            homes[room],
            choice=VoteChoice.AGREE,
            now=now - _d(2),
            channel=channel,
            recorded_by_id=people["wang"].id,
            proxy_name=proxy,
            evidence=evidence,
        )
    await household_checks.request(session, await member("zhang"), room="502", now=now - _h(3))


async def _open(
    session: AsyncSession,
    demo: DemoCommunity,
    spec: DemoIssue,
    *,
    now: datetime,
    limits: TimeLimits,
) -> Issue:
    assert demo.community.id is not None
    building = demo.buildings[spec.building] if spec.building else None
    logged_by = demo.people[spec.logged_by] if spec.logged_by else None
    issue = await rules.create_issue(
        session,
        community_id=demo.community.id,
        category=spec.category,
        description=spec.description,
        now=now - spec.ago,
        limits=limits,
        reporter_id=demo.people[spec.reporter].id,
        logged_by_id=logged_by.id if logged_by else None,
        channel=spec.channel,
        building_id=building.id if building else None,
        urgency=spec.urgency,
    )
    for step in sorted(spec.steps, key=lambda s: -s.ago):  # oldest first
        context = StepContext(session, issue, demo.people, at=now - step.ago, start=now)
        await _STEPS[step.kind](step, context)
    return issue


async def announce(session: AsyncSession, *, now: datetime, renderable: Container[str]) -> int:
    """Queue, as of `now`, each issue's latest public news for its reporter and supporters,
    and (once the staff side renders them) a card per open issue for the staff group; the
    outbox then delivers them like any other message. Returns how many rows were queued."""
    queued = 0
    issues = (await session.exec(select(Issue).order_by(col(Issue.id)))).all()
    for issue in issues:
        events = await rules.history(session, issue, public_only=True)
        latest = events[-1] if events else None
        if latest is not None and latest.kind != Action.REPORT:
            queued += await notify_audience(session, issue, latest, now=now)
        if STAFF_CARD in renderable and IssueStatus(issue.status) in OPEN:
            queued += int(await issue_opened(session, issue, now=now))
    return queued
