"""A voice report reads in words on the notebook page, in the spreadsheets and on paper: its
summary once it has one, else "老许的语音留言，12秒" (without the name for the wall); the PDF
prints no sign its font cannot draw."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from handlers.secretary.documents import (
    PrintedNotebook,
    _register_font,
    drawable,
    notebook_pdf,
    row_values,
)
from handlers.secretary.notebook_entries import red_line
from runtime.i18n import I18n
from storage.db import Database
from storage.export import issue_batches
from storage.issue_titles import set_summary
from storage.notebook import red_entries
from storage.periods import Period
from tests.factories import FakeClock, make_community, make_issue, make_member

ZH = I18n(default_locale="zh_Hans").translator("zh_Hans", ZoneInfo("Asia/Shanghai"))


async def test_voice_reports_read_in_words_everywhere_the_notebook_goes(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        await make_issue(session, community, xu, clock, "🎤 0:12")
        named = await make_issue(session, community, xu, clock, "🎤 1:05")
        await set_summary(session, named, "3栋电瓶车在楼道充电", now=clock())
        await make_issue(session, community, xu, clock, "楼道灯坏了")
    assert community.id is not None
    period = Period(clock() - timedelta(days=1), clock() + timedelta(days=1), ZH.tz)
    now = clock() + timedelta(hours=1)
    async with db.session() as session:
        entries = await red_entries(session, community_id=community.id, period=period, now=now)
        rows = [
            row
            async for batch in issue_batches(
                session, community_id=community.id, period=period, now=now
            )
            for row in batch
        ]
    lines = [red_line(ZH, e, week=True, cut=200) for e in entries]
    assert "老许的语音留言，12秒" in lines[0]
    assert "3栋电瓶车在楼道充电" in lines[1] and "语音" not in lines[1]
    assert "楼道灯坏了" in lines[2]
    wall = red_line(ZH, entries[0], week=True, cut=200, wall=True)
    assert "12秒的语音留言" in wall and "老许" not in wall  # no residents' names on the wall
    cells = [row_values(ZH, row)[5] for row in rows]  # 问题
    assert cells == ["老许的语音留言，12秒", "3栋电瓶车在楼道充电", "楼道灯坏了"]
    paper = notebook_pdf(
        ZH,
        PrintedNotebook(community="邢家桥社区", period=period, days=[], open_in_period=entries),
    )
    printed = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(paper)).pages)
    assert "老许的语音留言" in printed and "3栋电瓶车在楼道充电" in printed
    assert "🎤" not in printed


def test_signs_the_font_cannot_draw_are_left_out_or_said_in_words() -> None:
    font = _register_font()
    assert drawable("🎤 0:12 · 📍 位置 ⚠️ 超期", font) == " 0:12 ·  位置 ! 超期"
    assert drawable("楼道灯（3栋）、完成", font) == "楼道灯（3栋）、完成"
    assert drawable("🦄x", font) == "x"
