"""Issue #22, "the printed page is the whole truth": the notebook page, the PDF and the
spreadsheets hold every issue open at any time in the period (carried over, reopened, new),
each saying which, with its status and clocks as they stood at the period's end; internal notes
are labelled apart from replies to residents and left off the wall's PDF, with residents' names
and phone numbers.

    No.  reported          what happened (December 2026, Shanghai time)
    1    Nov 20 09:00      王 claims, plans "清理通道" due Nov 30 18:00: overdue, still open;
                           Dec 8: an internal note (with a phone) and a reply to the resident
    2    Nov 25 09:00      李 claims; resolved Dec 1; Dec 8 "not solved: 还是坏的 <急>" -> 重办
    3    Nov 26 09:00      王 claims; resolved Dec 2; Dec 3 solved: closed before the week
    4    Nov 27 09:00      王 claims; resolved Nov 28; Dec 7 "not solved", no words -> 重办
    5    Dec 9 09:00       new this week, nobody has answered yet (7 days to reply)

The week is Monday Dec 7 to Sunday Dec 13; "now" is Wednesday Dec 9 14:00.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import select

from emulator import BotApiEmulator
from handlers.secretary.documents import notebook_pdf
from handlers.secretary.export import printed_notebook, spreadsheet
from handlers.secretary.notebook_entries import hide_phones
from runtime.i18n import I18n
from storage import issues as rules
from storage.db import Database
from storage.followups import follow_up
from storage.models import (
    Building,
    Community,
    FollowUpResult,
    Issue,
    IssueStatus,
    Role,
    Satisfaction,
)
from storage.notebook import black_entries, count_red, red_entries
from storage.period_issues import (
    AsOf,
    ResponseClock,
    Scope,
    Standing,
    Step,
    response_clock,
    standing_at,
)
from storage.periods import Period
from tests.factories import FakeClock, bot_errors, make_community, make_member, running_bot
from tests.known_month import CQ, LIMITS
from tests.known_month import cq as sh  # a moment of 2026, Shanghai time

ZH = I18n(default_locale="zh_Hans").translator("zh_Hans", CQ)
WEEK = Period.days(date(2026, 12, 7), date(2026, 12, 13), CQ)
WEEK_BEFORE = Period.days(date(2026, 11, 30), date(2026, 12, 6), CQ)


NOW = sh(12, 9, 14)


@dataclass
class Week:
    community: Community
    ids: dict[int, int]


async def build_week(db: Database, clock: FakeClock, *, secretary_tg: int | None = None) -> Week:
    community = await make_community(db, clock)
    assert community.id is not None
    async with db.session() as session:
        buildings = {
            b.name: b.id
            for b in (
                await session.exec(select(Building).where(Building.community_id == community.id))
            ).all()
        }
        await make_member(
            session, community, Role.SECRETARY, name="谢兰", telegram_user_id=secretary_tg
        )
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        li = await make_member(session, community, Role.WORKER, name="李网格")
        xu = await make_member(session, community, name="老许")
        assert wang.id and li.id and xu.id

        async def report(when: datetime, category: str, building: str, text: str) -> Issue:
            return await rules.create_issue(
                session,
                community_id=community.id or 0,
                reporter_id=xu.id,
                category=category,
                description=text,
                building_id=buildings[building],
                now=when,
                limits=LIMITS,
            )

        async def answer(
            issue: Issue, when: datetime, result: FollowUpResult, comment: str | None = None
        ) -> None:
            happy = None if result is FollowUpResult.NOT_SOLVED else Satisfaction.SATISFIED
            await follow_up(
                session,
                issue,
                result=result,
                satisfaction=happy,
                comment=comment,
                actor_id=xu.id,
                now=when,
            )

        n1 = await report(sh(11, 20, 9), "parking", "3栋", "消防通道被占，联系13812345678")
        await rules.claim(session, n1, actor_id=wang.id, now=sh(11, 20, 10))
        await rules.set_plan(
            session,
            n1,
            plan="清理通道",
            due_at=sh(11, 30, 18),
            actor_id=wang.id,
            now=sh(11, 20, 10),
        )
        n2 = await report(sh(11, 25, 9), "elevator", "1栋", "电梯坏了")
        await rules.claim(session, n2, actor_id=li.id, now=sh(11, 25, 10))
        await rules.resolve(session, n2, note="已报修", actor_id=li.id, now=sh(12, 1, 9))
        n3 = await report(sh(11, 26, 9), "greenery", "2栋", "树枝挡窗")
        await rules.claim(session, n3, actor_id=wang.id, now=sh(11, 26, 10))
        await rules.resolve(session, n3, note="已修剪", actor_id=wang.id, now=sh(12, 2, 9))
        await answer(n3, sh(12, 3, 9), FollowUpResult.SOLVED)
        n4 = await report(sh(11, 27, 9), "noise", "2栋", "楼上夜里装修")
        await rules.claim(session, n4, actor_id=wang.id, now=sh(11, 27, 10))
        await rules.resolve(session, n4, note="已劝阻", actor_id=wang.id, now=sh(11, 28, 9))
        await answer(n4, sh(12, 7, 9), FollowUpResult.NOT_SOLVED)  # no words: an empty reason
        await answer(n2, sh(12, 8, 9), FollowUpResult.NOT_SOLVED, "还是坏的 <急>")
        await rules.add_progress(
            session,
            n1,
            text="车主王先生电话13900001111，明天再劝",
            public=False,
            actor_id=wang.id,
            now=sh(12, 8, 10),
        )
        await rules.add_progress(
            session,
            n1,
            text="已联系物业，本周清理",
            public=True,
            actor_id=wang.id,
            now=sh(12, 8, 11),
        )
        n5 = await report(sh(12, 9, 9), "facilities", "1栋", "楼道灯坏了")
        ids = {issue.number: issue.id for issue in (n1, n2, n3, n4, n5) if issue.id is not None}
    return Week(community, ids)


# --- the domain, with the clock passed in --------------------------------------------------------


def test_how_an_issue_stood_is_replayed_from_its_steps() -> None:
    planned = sh(11, 20, 10)
    steps = [
        Step(sh(11, 20, 9), "reported"),
        Step(sh(11, 20, 10), "claimed"),
        Step(planned, "planned", {"due_at": sh(11, 30, 18).isoformat()}),
        Step(sh(12, 1, 9), "resolved"),
        Step(sh(12, 8, 9), "reopened"),
    ]
    now_holds = AsOf(str(IssueStatus.ASSIGNED), sh(12, 20, 18))
    # nothing changed after the moment: what the issue holds now
    assert standing_at(now_holds, steps, sh(12, 9, 0)) == now_holds
    # before the reopening it was resolved, with the plan's date
    assert standing_at(now_holds, steps, sh(12, 7, 0)) == AsOf("resolved", sh(11, 30, 18))
    assert standing_at(now_holds, steps, sh(11, 25, 0)) == AsOf("in_progress", sh(11, 30, 18))
    assert standing_at(now_holds, steps, sh(11, 20, 9, 30)) == AsOf("new", None)
    # a reopening leads to "assigned" when someone owned it, else to "accepted"
    returned = [*steps[:4], Step(sh(12, 2, 9), "returned"), Step(sh(12, 3, 9), "reopened")]
    # (and the old due date no longer counts once reopened: the owner sets a new one)
    assert standing_at(now_holds, [*returned, Step(sh(12, 9, 9), "claimed")], sh(12, 4, 0)) == (
        AsOf("accepted", None)
    )
    # a transfer's answer date is the body's, never the completion date; gone when it is back
    handed = [
        *steps[:3],
        Step(sh(11, 25, 9), "transferred", {"to": "街道", "answer_by": sh(12, 2, 18).isoformat()}),
        Step(sh(12, 3, 9), "reopened"),
        Step(sh(12, 9, 9), "planned", {"due_at": sh(12, 20, 18).isoformat()}),
    ]
    assert standing_at(now_holds, handed, sh(11, 26, 0)) == AsOf(
        "transferred", sh(11, 30, 18), sh(12, 2, 18)
    )
    assert standing_at(now_holds, handed, sh(12, 4, 0)) == AsOf("assigned", None, None)


def test_the_response_clock_at_a_moment() -> None:
    due = sh(12, 9, 9) + timedelta(hours=24)
    clock = dict(respond_by=due, status="new")
    assert response_clock(first_response_at=None, moment=NOW, **clock) is ResponseClock.RUNNING
    assert response_clock(first_response_at=None, moment=due + timedelta(seconds=1), **clock) is (
        ResponseClock.OVERDUE
    )
    answered = due - timedelta(hours=1)
    assert response_clock(first_response_at=answered, moment=NOW, **clock) is (
        ResponseClock.RUNNING  # answered after the moment: not yet, then
    )
    assert response_clock(first_response_at=answered, moment=due, **clock) is ResponseClock.MET
    late = due + timedelta(hours=2)
    assert response_clock(first_response_at=late, moment=late + timedelta(1), **clock) is (
        ResponseClock.MISSED
    )
    merged = dict(respond_by=due, status="merged")
    assert response_clock(first_response_at=None, moment=NOW, **merged) is ResponseClock.STOPPED
    assert response_clock(respond_by=None, first_response_at=None, status="new", moment=NOW) is None


async def test_the_week_holds_every_issue_open_in_it(db: Database, clock: FakeClock) -> None:
    week = await build_week(db, clock)
    cid = week.community.id
    assert cid is not None
    async with db.reading() as session:
        red = await red_entries(session, community_id=cid, period=WEEK, now=NOW)
        # new first, then those reopened in the week, then what was carried over; No. 3 was
        # closed before the week began and is not on it
        assert [(e.number, e.standing, e.status) for e in red] == [
            (5, Standing.NEW, "new"),
            (2, Standing.REOPENED, "assigned"),
            (4, Standing.REOPENED, "assigned"),
            (1, Standing.CARRIED_OVER, "in_progress"),
        ]
        new, reopened, _four, carried = red
        assert (new.response, new.respond_by, new.due_at) == (
            ResponseClock.RUNNING,
            sh(12, 16, 9),
            None,
        )
        assert reopened.reopened_at == sh(12, 8, 9)
        assert (carried.due_at, carried.overdue, carried.response) == (
            sh(11, 30, 18),
            True,
            ResponseClock.MET,
        )
        assert all(e.as_of == NOW for e in red)  # the week runs on: as things stand now
        assert await count_red(session, community_id=cid, period=WEEK) == 4
        arrived = await red_entries(
            session, community_id=cid, period=WEEK, now=NOW, scope=Scope.ARRIVED
        )
        assert [e.number for e in arrived] == [5, 2, 4]

        # The week before, as it stood when it ended: No. 2 was resolved then (reopened since),
        # No. 3 still open at its start, No. 4 already resolved and not reopened until later.
        before = await red_entries(session, community_id=cid, period=WEEK_BEFORE, now=NOW)
        assert [(e.number, e.standing, e.status) for e in before] == [
            (1, Standing.CARRIED_OVER, "in_progress"),
            (2, Standing.CARRIED_OVER, "resolved"),
            (3, Standing.CARRIED_OVER, "closed"),
        ]
        assert before[0].overdue and before[0].as_of == WEEK_BEFORE.end

        black = await black_entries(session, community_id=cid, period=WEEK)
        assert [(e.number, e.kind, e.public) for e in black] == [
            (4, "reopened", True),
            (2, "reopened", True),
            (1, "progress", False),
            (1, "progress", True),
        ]
        assert not black[0].actor_is_staff  # the resident reopened it
        wall = await black_entries(session, community_id=cid, period=WEEK, public_only=True)
        assert [e.public for e in wall] == [True, True, True]


def test_phone_numbers_are_hidden_for_the_wall() -> None:
    assert hide_phones("联系13812345678或 010-6512 3456") == "联系138****78或 010****56"
    assert hide_phones("3楼 12号，2026-12-05 修好") == "3楼 12号，2026-12-05 修好"


# --- through the emulator, as the secretary sees it ----------------------------------------------


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_secretary_sees_the_whole_week_on_the_page_and_in_every_file(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    await build_week(db, clock, secretary_tg=xie.id)
    clock.current = NOW
    async with running_bot(emulator, db, clock):
        await xie.send("/notebook week")
        page = await xie.expect_message(contains="民情本：邢家桥社区")
        text = page.text
        assert "这段时间的在办问题（4条）" in text
        assert "12月9日 09:00 5号 · 1栋 · " in text
        assert "楼道灯坏了【新反映；待受理；应在12月16日 09:00前答复】" in text
        assert "2号 · 1栋 · 加装电梯：电梯坏了【12月8日重办；已派单，李网格】" in text
        assert (
            "1号 · 3栋 · 停车：消防通道被占，联系13812345678【上期结转，11月20日起未办完；"
            "办理中，王网格；已超过办结期限（11月30日）】" in text
        )
        # the reopenings say why, or that nobody said (never "5号 重办：")
        assert "12月8日 09:00 2号 重办：还是坏的 <急>" in text
        assert "12月7日 09:00 4号 重办（没有说明原因）" in text
        # an internal note is labelled apart from a reply to the resident
        assert "12月8日 10:00 1号 王网格的内部记录：车主王先生电话13900001111，明天再劝" in text
        assert "12月8日 11:00 1号 王网格答复居民：已联系物业，本周清理" in text

        await xie.send("/export 2026-12-07 2026-12-13")
        menu = await xie.expect_message(contains="哪种文件")
        await xie.press(menu, "表格（Excel）")
        xlsx = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert "所有在办问题（含上期结转和重办）" in (xlsx.caption or "")
        assert xlsx.document is not None
        sheet = load_workbook(io.BytesIO(xlsx.document)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        header = list(rows[0])
        by_number = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
        assert sorted(by_number) == [1, 2, 4, 5]
        assert [by_number[n]["新增/重办/结转"] for n in (1, 2, 4, 5)] == [
            "上期结转",
            "本期重办",
            "本期重办",
            "本期新反映",
        ]
        one = by_number[1]
        assert (one["期末状态"], one["期末答复情况"], one["期末办结情况"]) == (
            "办理中",
            "按时答复",
            "已超期",
        )
        assert one["办结期限"].isoformat() == "2026-11-30T18:00:00"  # local time, a date cell
        assert one["问题"] == "消防通道被占，联系13812345678"
        five = by_number[5]
        assert (five["期末状态"], five["期末答复情况"]) == ("待受理", "待答复，未超时")
        assert five["答复时限"].isoformat() == "2026-12-16T09:00:00"

        await xie.press(menu, "打印用的民情本（PDF）")
        pdf = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert pdf.document is not None
        printed = _pdf_text(pdf.document)
        assert "待办清单：这段时间所有在办问题" in printed
        assert "王网格的内部记录：车主王先生电话13900001111" in printed
        assert "王网格答复居民：已联系物业，本周清理" in printed
        assert "上期结转，11月20日起未办完" in printed and "12月8日重办" in printed

        await xie.press(menu, "上墙公示版（PDF，不含内部记录、姓名和电话）")
        wall = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert wall.filename == "notebook-2026-12-07-2026-12-13-wall.pdf"
        assert "上墙公示的民情本" in (wall.caption or "")
        assert wall.document is not None
        posted = _pdf_text(wall.document)
        assert "上墙公示版：不含内部记录" in posted
        assert "内部记录：" not in posted and "13900001111" not in posted
        assert "13812345678" not in posted and "联系138****78" in posted
        assert "王网格答复居民：已联系物业，本周清理" in posted
        assert "老许" not in posted
    assert bot_errors(emulator) == []


async def test_the_wall_pdf_prints_without_internal_notes(db: Database, clock: FakeClock) -> None:
    week = await build_week(db, clock)
    async with db.reading() as session:
        community = await session.get(Community, week.community.id)
        assert community is not None
        inside = await printed_notebook(session, community, WEEK, now=NOW)
        wall = await printed_notebook(session, community, WEEK, now=NOW, wall=True)
    assert [e.number for e in inside.open_in_period] == [5, 2, 4, 1]
    assert sum(len(d.black) for d in inside.days) == 4
    assert sum(len(d.black) for d in wall.days) == 3 and wall.wall
    assert notebook_pdf(ZH, wall).startswith(b"%PDF")


async def test_a_past_week_exports_as_it_stood_when_it_ended(
    db: Database, clock: FakeClock
) -> None:
    week = await build_week(db, clock)
    async with db.reading() as session:
        community = await session.get(Community, week.community.id)
        assert community is not None
        raw = await spreadsheet(session, ZH, community, WEEK_BEFORE, "csv", now=NOW)
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    # No. 2 was resolved on Dec 1 and reopened after the week: the file says "resolved";
    # No. 3 was closed in it; No. 4 was resolved before the week and is not in it.
    assert [(r["编号"], r["新增/重办/结转"], r["期末状态"]) for r in rows] == [
        ("1", "上期结转", "办理中"),
        ("2", "上期结转", "已办结"),
        ("3", "上期结转", "已结案"),
    ]
    assert rows[0]["期末办结情况"] == "已超期"
