"""Every figure of the digest for the known month (tests/known_month.py), against values worked
out by hand from its timeline, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import select

from storage import clocks
from storage import issues as rules
from storage.db import Database
from storage.digest import DigestPolicy, build_digest
from storage.models import FollowUp, Issue
from storage.periods import Period, parse_period
from tests.factories import FakeClock
from tests.known_month import CQ, build_known_month, cq

NOVEMBER = Period.month(2026, 11, CQ)
NOW = cq(12, 1, 8)  # Tuesday morning after the month


async def test_every_figure_of_the_known_month(db: Database, clock: FakeClock) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        digest = await build_digest(
            session,
            community_id=month.community.id,
            period=NOVEMBER,
            now=NOW,
            policy=DigestPolicy(),
        )
    # Reported Nov 2-28: Nos. 3-12.
    assert digest.new == 10
    # accepted_at in November: 3, 4, 5, 6, 7, 8, 10, 12 (No. 9 untouched, No. 11 merged).
    assert digest.accepted == 8
    # Resolutions that still stand: 2 (Nov 1), 3, 4, 5 (again Nov 12), 10.
    assert digest.resolved == 5
    # Closed: 2, 3, 4, 5 by follow-up, 10 unanswered (No. 1 was withdrawn in October).
    assert digest.closed == 5
    assert digest.reopened == 1  # No. 5

    rates = digest.rates
    # Answers: 2 solved/满意, 3 solved/满意, 4 solved/基本满意, 5 not solved/不满意,
    # 5 partly/基本满意.
    assert rates.followed_up == 5
    assert rates.responded_in_time == 4  # No. 4 waited 26 h for a 24 h promise
    assert rates.resolved == 3
    assert (rates.satisfied, rates.basically_satisfied) == (2, 2)
    assert rates.response == pytest.approx(0.8)
    assert rates.resolution == pytest.approx(0.6)
    assert rates.satisfaction == pytest.approx(0.76)  # (2 + 0.9 * 2) / 5
    assert rates.composite == pytest.approx(0.684)  # 0.1*0.8 + 0.5*0.6 + 0.4*0.76

    # First responses in November (hours): 1, 26, 3, 4, 5, 2, 2, 6, 1 -> middle of nine is 3.
    assert digest.median_first_response == timedelta(hours=3)
    # Standing resolutions (hours from report): 96, 24, 36, 168, 24 -> 36.
    assert digest.median_resolution == timedelta(hours=36)

    assert digest.overdue_total == 2
    assert [(o.number, o.building, o.owner, o.due_at) for o in digest.overdue] == [
        (6, "1栋", "王网格", cq(11, 10, 18)),
        (8, "2栋", "李网格", cq(11, 20, 18)),
    ]
    # No. 9 (sanitation, 7 days from Nov 16 09:00): nobody has answered, no due date.
    assert digest.reply_late_total == 1
    assert [(r.number, r.building, r.owner, r.respond_by) for r in digest.reply_late] == [
        (9, "3栋", None, cq(11, 23, 9)),
    ]

    # New issues against October (No. 1 parking, No. 2 noise).
    assert [(t.key, t.count, t.previous, t.change) for t in digest.categories] == [
        ("drains", 4, 0, 4),
        ("noise", 3, 1, 2),
        ("greenery", 1, 0, 1),
        ("parking", 1, 1, 0),
        ("sanitation", 1, 0, 1),
    ]
    assert [(t.key, t.count, t.previous) for t in digest.buildings] == [
        ("1栋", 4, 1),
        ("2栋", 3, 0),
        ("3栋", 3, 1),
    ]

    # 28 days before Dec 1: drains in 1栋 = Nos. 4, 6, 10 (No. 3 is a day too early);
    # noise in 2栋 = Nos. 5, 8 only (No. 11 was a merged duplicate).
    assert digest.repeats_total == 1
    assert [(r.building, r.category, r.count) for r in digest.repeats] == [("1栋", "drains", 3)]

    # Open now: 6 and 12 (王, 6 overdue), 8 (李, overdue), 7 and 9 (nobody).
    assert [(o.name, o.open, o.overdue) for o in digest.owners] == [
        ("王网格", 2, 1),
        ("李网格", 1, 1),
    ]
    assert digest.owners_total == 2
    assert digest.unassigned_open == 2

    # Eight weeks ending Dec 1 00:00 (Tuesdays): reported and resolved per week.
    assert [w.start for w in digest.weeks] == [
        cq(m, d, 0) for m, d in [(10, 6), (10, 13), (10, 20), (10, 27), (11, 3)]
    ] + [cq(11, d, 0) for d in (10, 17, 24)]
    assert [w.opened for w in digest.weeks] == [0, 0, 1, 2, 3, 3, 2, 1]
    assert [w.resolved for w in digest.weeks] == [0, 0, 0, 1, 2, 1, 1, 0]


async def test_reply_by_passed_unanswered_is_a_group_of_its_own(
    db: Database, clock: FakeClock
) -> None:
    """The digest's two overdue groups follow storage/clocks.py with the clock passed in: the
    completion clock (due_at) and, before any due date, the response clock (respond_by) run out
    with nobody having accepted or answered by `now`."""
    month = await build_known_month(db, clock)
    community_id = month.community.id
    assert community_id is not None

    async def late_at(now: datetime) -> tuple[list[int], list[int], int]:
        async with db.session() as session:
            digest = await build_digest(
                session, community_id=community_id, period=NOVEMBER, now=now, policy=DigestPolicy()
            )
        assert digest.overdue_total == len(digest.overdue)
        assert digest.reply_late_total == len(digest.reply_late)
        wang = next(o for o in digest.owners if o.name == "王网格")
        return (
            [o.number for o in digest.overdue],
            [r.number for r in digest.reply_late],
            wang.overdue,
        )

    # No. 9's reply-by moment is Nov 23 09:00; No. 7 (accepted, no due date) is never late.
    assert await late_at(cq(11, 23, 8)) == ([6, 8], [], 1)
    assert await late_at(cq(11, 23, 10)) == ([6, 8], [9], 1)

    # 王 accepts No. 9 on Nov 24 at 09:00 (a day late): the response clock stops, MISSED, no
    # longer overdue. Read as of a moment before the acceptance, it still was.
    async with db.session() as session:
        nine = await session.get(Issue, month.issues[9])
        assert nine is not None and month.wang.id is not None
        await rules.accept(session, nine, actor_id=month.wang.id, now=cq(11, 24, 9))
    assert await late_at(cq(11, 24, 8)) == ([6, 8], [9], 1)
    assert await late_at(NOW) == ([6, 8], [], 1)

    # The same verdict as clocks.is_overdue for every issue of the month, now.
    async with db.session() as session:
        issues = (await session.exec(select(Issue).where(Issue.community_id == community_id))).all()
    by_clock = sorted(i.number for i in issues if clocks.is_overdue(i, NOW))
    assert by_clock == [6, 8]


async def test_weights_factor_and_partly_are_settings(db: Database, clock: FakeClock) -> None:
    month = await build_known_month(db, clock)
    policy = DigestPolicy(
        response_weight=30,
        resolution_weight=35,
        satisfaction_weight=35,
        basic_factor=0.5,
        partly_counts_as_resolved=True,
        repeat_min_issues=2,
        repeat_window=timedelta(days=28),
    )
    async with db.session() as session:
        digest = await build_digest(
            session, community_id=month.community.id, period=NOVEMBER, now=NOW, policy=policy
        )
    rates = digest.rates
    assert rates.resolution == pytest.approx(0.8)  # 2, 3, 4 solved + 5 partly
    assert rates.satisfaction == pytest.approx(0.6)  # (2 + 0.5 * 2) / 5
    assert rates.composite == pytest.approx(0.3 * 0.8 + 0.35 * 0.8 + 0.35 * 0.6)
    # Two reports now make a repeat: noise in 2栋 joins drains in 1栋.
    assert [(r.building, r.category, r.count) for r in digest.repeats] == [
        ("1栋", "drains", 3),
        ("2栋", "noise", 2),
    ]


async def test_a_week_counts_only_what_happened_in_it(db: Database, clock: FakeClock) -> None:
    month = await build_known_month(db, clock)
    week = Period.week_before(cq(11, 16, 8), CQ)  # the digest sent Monday Nov 16, 08:00
    assert (week.start, week.end) == (cq(11, 9, 0), cq(11, 16, 0))
    async with db.session() as session:
        digest = await build_digest(
            session,
            community_id=month.community.id,
            period=week,
            now=cq(11, 16, 8),
            policy=DigestPolicy(),
        )
    # Monday Nov 9 - Sunday Nov 15: Nos. 7 and 8 came in and were taken on (No. 9 came on
    # the 16th); No. 5 was resolved again and closed.
    assert (digest.new, digest.accepted, digest.resolved, digest.closed) == (2, 2, 1, 1)
    assert digest.reopened == 1  # No. 5, Nov 9 09:00
    # Answers: No. 5 not solved (Nov 9), No. 5 partly (Nov 14).
    assert digest.rates.followed_up == 2
    assert digest.rates.responded_in_time == 2
    assert digest.rates.resolved == 0
    assert digest.rates.satisfaction == pytest.approx(0.45)  # (0 + 0.9 * 1) / 2
    # Overdue on Nov 16 08:00: only No. 6 (No. 8 is due Nov 20).
    assert [o.number for o in digest.overdue] == [6]
    # Against the week before (Nov 2-9: drains 3, noise 1).
    assert [(t.key, t.count, t.previous) for t in digest.categories] == [
        ("noise", 1, 1),
        ("parking", 1, 0),
    ]


async def test_an_empty_period_has_no_rates_and_no_medians(db: Database, clock: FakeClock) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        digest = await build_digest(
            session,
            community_id=month.community.id,
            period=Period.month(2026, 3, CQ),
            now=NOW,
            policy=DigestPolicy(),
        )
    assert digest.new == digest.rates.followed_up == 0
    assert digest.rates.response is None and digest.rates.composite is None
    assert digest.median_first_response is None and digest.median_resolution is None
    assert digest.categories == [] and digest.repeats == []


async def test_not_solved_answers_are_kept_after_the_reopening(
    db: Database, clock: FakeClock
) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        answers = (
            await session.exec(
                select(FollowUp.result, FollowUp.satisfaction)
                .where(FollowUp.issue_id == month.issues[5])
                .order_by(FollowUp.at)  # type: ignore[arg-type]
            )
        ).all()
        issue = await session.get(Issue, month.issues[5])
    assert [tuple(a) for a in answers] == [("not_solved", "dissatisfied"), ("partly", "basic")]
    assert issue is not None and issue.reopened_count == 1


def test_periods_are_named_in_local_days() -> None:
    now = cq(11, 20, 23, 30)  # Friday night in Chongqing, still Friday afternoon in UTC
    last7 = parse_period("", now=now, tz=CQ, locale="zh_Hans")
    assert last7 is not None
    assert (last7.first_day, last7.last_day) == (date(2026, 11, 14), date(2026, 11, 20))
    month = parse_period("2026-11", now=now, tz=CQ, locale="zh_Hans")
    assert month == NOVEMBER and month.previous() == Period.month(2026, 10, CQ)
    assert parse_period("本月", now=now, tz=CQ, locale="zh_Hans") == NOVEMBER
    assert parse_period("11月", now=now, tz=CQ, locale="en") == NOVEMBER
    december = parse_period("2026-12", now=now, tz=CQ, locale="zh_Hans")
    assert december is not None and december.previous().first_day == date(2026, 11, 1)
    span = parse_period("2026-11-01 2026-11-15", now=now, tz=CQ, locale="zh_Hans")
    assert span is not None and span.start == cq(11, 1, 0) and span.end == cq(11, 16, 0)
    assert span.previous().first_day == date(2026, 10, 17)
    assert parse_period("11-01 到 11-15", now=now, tz=CQ, locale="zh_Hans") == span
    day = parse_period("2026-11-05", now=now, tz=CQ, locale="zh_Hans")
    assert day is not None and day.length == timedelta(days=1)
    for bad in ("2026-13", "soon", "2026-11-15 2026-11-01", "2026-02-30", "1999-12"):
        assert parse_period(bad, now=now, tz=CQ, locale="zh_Hans") is None, bad
    too_long = parse_period("2020-01-01 2026-01-01", now=now, tz=CQ, locale="zh_Hans")
    assert too_long is None


def test_rate_settings_make_the_policy_and_refuse_nonsense() -> None:
    from runtime.settings import SettingsError, load_settings

    policy = load_settings(
        _env_file=None, rate_weights="30, 35, 35", satisfaction_basic_factor="0.8"
    ).digest_policy
    assert (policy.response_weight, policy.resolution_weight, policy.satisfaction_weight) == (
        30,
        35,
        35,
    )
    assert policy.basic_factor == 0.8 and not policy.partly_counts_as_resolved
    for bad in ("0.5,0.5", "a,b,c", "-1,1,1", "0,0,0"):
        with pytest.raises(SettingsError, match=r"^RATE_WEIGHTS: expected three"):
            load_settings(_env_file=None, rate_weights=bad)
