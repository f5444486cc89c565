"""Council timing, meeting times, the desk roster and the digest's figures, as plain domain
functions with the clock passed in. 2 November 2026 is a Monday; Chongqing is UTC+8."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlmodel import select

from storage import consent, council, council_digest, council_meetings, roster
from storage.council import CouncilPolicy, topic_due
from storage.dates import add_working_days
from storage.db import Database
from storage.households import HouseholdRow
from storage.models import (
    CampaignStatus,
    Channel,
    DutyShift,
    Outbox,
    Role,
    TopicGrade,
    VoteChoice,
)
from storage.roster import DeskHours, Half
from tests.factories import FakeClock, make_campaign, make_community, make_member, record_vote

CQ = ZoneInfo("Asia/Shanghai")
POLICY = CouncilPolicy()


def cq(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CQ).astimezone(UTC)


# --- consultation timing -------------------------------------------------------------------------


def test_working_days_skip_the_weekend() -> None:
    # raised Monday 10:00: Tue Wed Thu Fri Mon -> by the end of next Monday
    assert add_working_days(cq(2, 10), 5, CQ) == cq(10, 0)
    # raised Friday: Mon..Fri of next week
    assert add_working_days(cq(6, 16), 5, CQ) == cq(14, 0)
    # raised on Saturday night: the weekend does not count
    assert add_working_days(cq(7, 23), 5, CQ) == cq(14, 0)
    assert add_working_days(cq(7, 23), 1, CQ) == cq(10, 0)


def test_quick_topics_have_48_hours_deep_ones_five_working_days() -> None:
    raised = cq(6, 9)  # Friday morning
    assert topic_due(raised, TopicGrade.QUICK, POLICY, CQ) == cq(8, 9)
    assert topic_due(raised, None, POLICY, CQ) == cq(8, 9)  # not graded yet: the quick limit
    assert topic_due(raised, TopicGrade.DEEP, POLICY, CQ) == cq(14, 0)
    custom = CouncilPolicy(quick_hours=24, deep_working_days=2)
    assert topic_due(raised, TopicGrade.QUICK, custom, CQ) == cq(7, 9)
    assert topic_due(raised, TopicGrade.DEEP, custom, CQ) == cq(11, 0)  # Mon, Tue


def test_reminder_is_the_evening_before() -> None:
    assert council_meetings.reminder_due(cq(5, 19, 30), CQ, time(18, 0)) == cq(4, 18)


async def test_overdue_topics_are_the_open_unhandled_ones_past_their_limit(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    assert community.id is not None
    async with db.session() as session:
        resident = await make_member(session, community, name="老许")
        secretary = await make_member(session, community, Role.SECRETARY, name="谢兰")
        assert resident.id and secretary.id

        async def propose(title: str):
            return await council.propose_topic(
                session,
                community_id=community.id,
                proposer_id=resident.id,
                title=title,
                description="…",
                building_id=None,
                now=clock(),
                policy=POLICY,
                tz=CQ,
            )

        waiting = await propose("无人理睬")  # never graded
        quick = await propose("路灯")
        deep = await propose("加装电梯")
        answered = await propose("垃圾分类")
        await council.grade_topic(
            session,
            quick,
            grade=TopicGrade.QUICK,
            actor_id=secretary.id,
            now=clock(),
            policy=POLICY,
            tz=CQ,
        )
        await council.grade_topic(
            session,
            deep,
            grade=TopicGrade.DEEP,
            actor_id=secretary.id,
            now=clock(),
            policy=POLICY,
            tz=CQ,
        )
        await council.answer_topic(
            session, answered, text="下周一起", actor_id=secretary.id, now=clock()
        )
        now = clock() + timedelta(hours=47)
        assert await council_digest.overdue_topics(session, community.id, now) == []
        now = clock() + timedelta(hours=49)
        assert [
            t.title for t in await council_digest.overdue_topics(session, community.id, now)
        ] == [
            "无人理睬",
            "路灯",
        ]
        # deep: raised Monday 09:00, five working days -> overdue from Tuesday next week
        late = cq(10, 0) + timedelta(minutes=1)
        titles = [t.title for t in await council_digest.overdue_topics(session, community.id, late)]
        assert titles == ["无人理睬", "路灯", "加装电梯"]
        assert council.is_overdue(deep, late) and not council.is_overdue(answered, late)
        # another community's topics never show
        assert await council_digest.overdue_topics(session, community.id + 99, late) == []
        assert waiting.id is not None


# --- the desk roster -----------------------------------------------------------------------------


def test_on_duty_and_the_next_shift_day() -> None:
    hours = DeskHours()
    monday_am = DutyShift(id=1, community_id=1, person_id=1, weekday=0, half=Half.AM)
    thursday_pm = DutyShift(id=2, community_id=1, person_id=2, weekday=3, half=Half.PM)
    shifts = [monday_am, thursday_pm]
    assert roster.on_duty(shifts, cq(2, 9), hours, CQ) == [monday_am]
    assert roster.on_duty(shifts, cq(2, 12), hours, CQ) == []  # the morning ended at 12:00
    assert roster.on_duty(shifts, cq(5, 14), hours, CQ) == [thursday_pm]
    assert roster.next_shift_day(monday_am, cq(2, 8), hours, CQ).isoformat() == "2026-11-02"
    assert roster.next_shift_day(monday_am, cq(2, 9), hours, CQ).isoformat() == "2026-11-09"
    assert roster.next_shift_day(thursday_pm, cq(2, 9), hours, CQ).isoformat() == "2026-11-05"


async def test_duty_reminders_come_the_evening_before_once_per_day(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    hours = DeskHours()
    async with db.session() as session:
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        resident = await make_member(session, community, name="老许")
        assert community.id and worker.id and resident.id
        for half in (Half.AM, Half.PM):  # all of Thursday
            assert await roster.toggle_shift(
                session,
                community_id=community.id,
                person_id=worker.id,
                weekday=3,
                half=half,
                now=clock(),
            )
        # residents do not take desk shifts
        try:
            await roster.toggle_shift(
                session,
                community_id=community.id,
                person_id=resident.id,
                weekday=0,
                half=Half.AM,
                now=clock(),
            )
        except roster.RosterError:
            pass
        else:
            raise AssertionError("a resident was given a shift")
        assert await roster.plan_duty_reminders(session, now=cq(4, 18, 59), hours=hours) == 0
        assert await roster.plan_duty_reminders(session, now=cq(4, 19), hours=hours) == 1
        assert await roster.plan_duty_reminders(session, now=cq(4, 21), hours=hours) == 0
        rows = (await session.exec(select(Outbox))).all()
        assert [r.dedupe_key for r in rows] == [f"duty:{worker.id}:2026-11-05"]
        # taking the shift away again: toggling twice
        assert not await roster.toggle_shift(
            session,
            community_id=community.id,
            person_id=worker.id,
            weekday=3,
            half=Half.AM,
            now=clock(),
        )


async def test_a_desk_visit_is_an_issue_with_channel_desk(db: Database, clock: FakeClock) -> None:
    from storage.categories import TimeLimits

    community = await make_community(db, clock)
    async with db.session() as session:
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        assert community.id and worker.id
        issue = await roster.log_desk_visit(
            session,
            community_id=community.id,
            worker_id=worker.id,
            resident_name="张大爷",
            category="civil_affairs",
            description="办理高龄补贴",
            now=clock(),
            limits=TimeLimits(),
        )
        assert issue.channel == Channel.DESK and issue.logged_by_id == worker.id
        assert issue.reporter_id is not None and issue.reporter_id != worker.id
        await roster.handled_at_desk(
            session, issue, worker_id=worker.id, note="当场办结", now=clock()
        )
        assert issue.status == "resolved" and issue.owner_id == worker.id


# --- the digest's campaign figures ---------------------------------------------------------------


async def test_open_campaigns_summary_gives_support_by_headcount_and_area(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        assert community.id is not None
        rows = [
            HouseholdRow("101", None, Decimal("60"), True),
            HouseholdRow("201", None, Decimal("80"), None),
            HouseholdRow("301", None, Decimal("80"), None),
            HouseholdRow("401", None, None, None),
        ]
        campaign = await make_campaign(session, community, "加装电梯？", now=clock(), rows=rows)
        draft = await council_digest.open_campaigns_summary(session, community.id, clock())
        assert draft == []  # drafts are not open yet
        await consent.open_campaign(session, campaign, now=clock())
        opened = clock()
        clock.advance(hours=1)
        homes = {h.room: h for h in await consent.households(session, campaign)}
        await record_vote(session, campaign, homes["201"], VoteChoice.AGREE, now=clock())
        await record_vote(session, campaign, homes["101"], VoteChoice.DISAGREE, now=clock())
        [summary] = await council_digest.open_campaigns_summary(session, community.id, clock())
        assert summary.households == 4 and summary.agreeing == 1
        assert summary.support_heads == Fraction(1, 4)
        assert summary.support_area == Fraction(80, 220)  # known areas only
        assert not summary.passed
        # as of a moment before the votes, nothing yet
        [earlier] = await council_digest.open_campaigns_summary(
            session, community.id, opened + timedelta(minutes=30)
        )
        assert earlier.support_heads == 0
        await consent.close_campaign(session, campaign, now=clock())
        assert campaign.status == CampaignStatus.CLOSED
        assert await council_digest.open_campaigns_summary(session, community.id, clock()) == []


async def test_the_digest_section_gives_support_rates_and_late_topics(
    db: Database, clock: FakeClock
) -> None:
    from handlers.council.digest_section import digest_section
    from runtime.i18n import I18n

    community = await make_community(db, clock)
    async with db.session() as session:
        assert community.id is not None
        resident = await make_member(session, community, name="老许")
        assert resident.id is not None
        campaign = await make_campaign(session, community, "加装电梯 <1栋>", now=clock())
        await consent.open_campaign(session, campaign, now=clock())
        [home, *_rest] = await consent.households(session, campaign)
        await record_vote(session, campaign, home, VoteChoice.AGREE, now=clock())
        await council.propose_topic(
            session,
            community_id=community.id,
            proposer_id=resident.id,
            title="路灯不亮",
            description="…",
            building_id=None,
            now=clock(),
            policy=POLICY,
            tz=CQ,
        )
        i18n = I18n(default_locale="zh_Hans")
        now = clock() + timedelta(hours=50)
        zh = await digest_section(session, community.id, now, i18n.translator("zh_Hans", CQ))
        en = await digest_section(session, community.id, now, i18n.translator("en", CQ))
        assert await digest_section(session, community.id + 1, now, i18n.translator("en", CQ)) == []
    assert en[0] == "Consent votes open:"
    assert en[1] == "• #1 加装电梯 &lt;1栋&gt;: support 25.0% of households, 25.0% of floor area"
    assert en[2] == "Council topics waiting past their time limit (1):"
    assert en[3] == "• #1 路灯不亮, 2 hours late"
    assert "25.0%" in zh[1] and "路灯不亮" in zh[3]


def test_council_and_desk_settings_are_read_and_checked() -> None:
    import pytest

    from runtime.settings import SettingsError, load_settings

    settings = load_settings(
        _env_file=None,
        council_quick_hours=24,
        council_deep_working_days=3,
        meeting_reminder_time="17:30",
        desk_morning="09:00-11:30",
        duty_reminder_time="20:00",
    )
    assert settings.council_policy == CouncilPolicy(24, 3, time(17, 30))
    assert settings.desk_hours.morning == (time(9), time(11, 30))
    assert settings.desk_hours.afternoon == (time(14), time(17, 30))
    assert settings.desk_hours.reminder_at == time(20)
    for name, bad, message in [
        ("desk_afternoon", "17:30-14:00", "DESK_AFTERNOON: the shift must end after it starts"),
        ("desk_morning", "morning", "DESK_MORNING: expected HH:MM-HH:MM"),
        ("meeting_reminder_time", "6pm", "MEETING_REMINDER_TIME"),
        ("council_quick_hours", 0, "COUNCIL_QUICK_HOURS"),
    ]:
        with pytest.raises(SettingsError, match=message):
            load_settings(_env_file=None, **{name: bad})
