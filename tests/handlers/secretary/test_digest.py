"""The digest as the secretary reads it: one message that fits, in her language, and a chart
that draws Chinese with the bundled font; weekly through the outbox and /digest on demand."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from matplotlib.ft2font import FT2Font

from bot.jobs import run_reminders
from emulator import BotApiEmulator
from handlers.secretary.charts import digest_chart
from handlers.secretary.digest import digest_text
from handlers.shared.fitting import telegram_length
from runtime.fonts import cjk_font_path
from runtime.i18n import I18n
from storage.db import Database
from storage.digest import (
    Digest,
    DigestPolicy,
    OverdueItem,
    OwnerLoad,
    Rates,
    ReplyLateItem,
    build_digest,
)
from storage.periods import Period
from tests.factories import FakeClock, bot_errors, make_campaign, record_vote, running_bot
from tests.known_month import CQ, build_known_month, cq

PNG = b"\x89PNG\r\n\x1a\n"
I18N = I18n(default_locale="zh_Hans")
ZH = I18N.translator("zh_Hans", CQ)
EN = I18N.translator("en", CQ)


async def _november(db: Database, clock: FakeClock) -> Digest:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        return await build_digest(
            session,
            community_id=month.community.id,
            period=Period.month(2026, 11, CQ),
            now=cq(12, 1, 8),
            policy=DigestPolicy(),
        )


async def test_the_digest_reads_every_figure_in_chinese_and_english(
    db: Database, clock: FakeClock
) -> None:
    digest = await _november(db, clock)
    zh = digest_text(ZH, digest, "邢家桥社区")
    for line in [
        "<b>民情汇总：邢家桥社区</b>",
        "2026年11月1日至2026年11月30日",
        "新问题 10 · 受理 8 · 办结 5 · 关闭 5 · 重办 1",
        "<b>三率</b>（回访 5 次）",
        "响应率 80.0% · 解决率 60.0% · 满意率 76.0%",
        "综合 68.4%",
        "首次答复一般用时 3小时 · 办结一般用时 36小时",
        # the two clocks, named as the card names them (完成期限 / 答复时限)
        "<b>超期：已过完成期限</b>（2件）",
        "• 6号 · 1栋 · 王网格 · 超期20天",
        "• 8号 · 2栋 · 李网格 · 超期10天",
        "<b>答复超时未答复</b>（已过答复时限，1件）",
        "• 9号 · 3栋 · 暂无 · 答复已超时7天",
        "• 下水道堵塞：4（+4）",
        "• 噪音扰民：3（+2）",
        "• 停车：1（±0）",
        "• 1栋：4（+3）",
        "• 2栋：3（+3）",
        "• 3栋：3（+2）",
        "• 1栋 · 下水道堵塞：3次",
        "• 王网格：在办 2，超期 1",
        "• 李网格：在办 1，超期 1",
        "• 还没人负责：2件",
    ]:
        assert line in zh.splitlines(), f"{line!r} not in:\n{zh}"
    en = digest_text(EN, digest, "邢家桥社区", weekly=True)
    for line in [
        "<b>Weekly notebook: 邢家桥社区</b>",
        "Nov 1, 2026 – Nov 30, 2026",
        "New 10 · accepted 8 · resolved 5 · closed 5 · reopened 1",
        "response 80.0% · resolution 60.0% · satisfaction 76.0%",
        "composite 68.4%",
        "Median time to a first response: 3 hours · to resolution: 36 hours",
        "<b>Overdue: Due date passed</b> (2)",
        "• No. 6 · 1栋 · 王网格 · 20 days overdue",
        "<b>Reply-by passed, not yet answered</b> (1)",
        "• No. 9 · 3栋 · nobody yet · reply 7 days overdue",
        "• Blocked drains: 4 (+4)",
        "• nobody yet: 2 open",
    ]:
        assert line in en.splitlines(), f"{line!r} not in:\n{en}"


def test_long_lists_are_cut_and_say_how_many_more() -> None:
    week = Period.week_before(cq(11, 16, 8), CQ)
    policy = DigestPolicy()
    long_name = "<很长的楼栋名字> & " * 20
    digest = Digest(
        period=week,
        now=cq(11, 16, 8),
        new=1000,
        accepted=900,
        resolved=800,
        closed=700,
        reopened=12,
        rates=Rates(0, 0, 0, 0, 0, policy),
        median_first_response=timedelta(hours=5),
        median_resolution=None,
        overdue=[
            OverdueItem(n, long_name, long_name, cq(11, 1, 9) - timedelta(days=n))
            for n in range(1, 21)
        ],
        overdue_total=480,
        categories=[],
        buildings=[],
        repeats=[],
        repeats_total=0,
        owners=[OwnerLoad(long_name + str(n), 50, 10) for n in range(20)],
        owners_total=65,
        unassigned_open=3,
        weeks=[],
        reply_late=[
            ReplyLateItem(n, long_name, None, cq(11, 10, 9) - timedelta(days=n))
            for n in range(100, 120)
        ],
        reply_late_total=300,
    )
    text = digest_text(ZH, digest, long_name * 3)
    assert telegram_length(text) <= 4096
    assert "……还有475条" in text  # 480 overdue, the list halved to five to fit
    assert "……还有290条" in text  # 300 past their reply-by time, ten shown
    assert "……还有55条" in text  # 65 owners, ten shown
    assert "&lt;很长的楼栋名字&gt; &amp;" in text  # user text escaped, cut before escaping
    assert "<b>三率</b>：这段时间没有回访。" in text
    assert "办结一般用时 —" in text


async def test_the_chart_is_a_png_drawn_with_a_font_that_has_every_glyph(
    db: Database, clock: FakeClock
) -> None:
    digest = await _november(db, clock)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart = digest_chart(ZH, digest, "邢家桥社区")
    assert chart.png.startswith(PNG)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    drawn = "".join(chart.texts)
    for expected in ("各类新问题", "下水道堵塞", "噪音扰民", "每周新问题与办结数", "11月24日"):
        assert expected in drawn
    font = FT2Font(str(cjk_font_path()))
    missing = {ch for ch in drawn if not ch.isspace() and font.get_char_index(ord(ch)) == 0}
    assert missing == set()


async def test_the_chart_is_drawn_for_a_phone(db: Database, clock: FakeClock) -> None:
    """A narrow portrait whose smallest text, shown ~360 points wide in the chat, is as tall
    as the chat's own; a year's weeks do not crowd the axis."""
    import io

    from PIL import Image

    from handlers.secretary import charts

    digest = await _november(db, clock)
    width, height = Image.open(io.BytesIO(digest_chart(ZH, digest, "邢家桥社区").png)).size
    assert width < height and 700 <= width <= 760
    shown_pt = charts.SMALL_PT * 360 / (charts.FIGURE_INCHES[0] * 72)  # points on the phone
    assert shown_pt >= 10
    year = replace(digest, period=Period.days(date(2026, 1, 1), date(2026, 12, 31), CQ))
    weeks = [
        replace(digest.weeks[0], start=digest.weeks[0].start + timedelta(weeks=n))
        for n in range(53)
    ]
    chart = digest_chart(ZH, replace(year, weeks=weeks), "邢家桥社区")
    week_labels = [text for text in chart.texts if re.fullmatch(r"\d+月\d+日", text)]
    assert len(week_labels) <= charts.WEEK_LABELS


def _staff_errors(emulator: BotApiEmulator, *staff: Any) -> list[Any]:
    """Errors in the staff's chats. The month's residents have no chat in the emulator, and
    they are told of the promises missed in it (storage/escalation.py)."""
    chats = {user.id for user in staff}
    return [e for e in bot_errors(emulator) if e.params.get("chat_id") in chats]


async def test_the_weekly_digest_reaches_the_secretary_with_its_chart(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie, wang, li = (emulator.user(first_name=n, language_code="zh-hans") for n in "谢王李")
    await build_known_month(db, clock, secretary_tg=xie.id, worker_tg=wang.id, li_tg=li.id)
    clock.current = cq(11, 16, 8)  # Monday 08:00: the digest slot

    def digests() -> int:
        return sum("民情周报" in m.text for m in xie.messages)

    async with running_bot(emulator, db, clock) as app:
        await run_reminders(app)
        text = await xie.expect_message(contains="民情周报：邢家桥社区")
        # Monday Nov 9 - Sunday Nov 15; overdue as of the slot.
        assert "2026年11月9日至2026年11月15日" in text.text
        assert "新问题 2 · 受理 2 · 办结 1 · 关闭 1 · 重办 1" in text.text
        assert "• 6号 · 1栋 · 王网格 · 超期5天" in text.text
        chart = await xie.expect_message(predicate=lambda m: m.photo is not None)
        assert chart.photo is not None and chart.photo.startswith(PNG)
        assert "最近8周" in (chart.caption or "")
        assert chart.message_id > text.message_id  # the picture follows the text
        clock.advance(minutes=5)
        await run_reminders(app)  # the slot is queued once: no second digest
        assert digests() == 1
    assert _staff_errors(emulator, xie, wang, li) == []


async def test_digest_on_demand_for_staff_only(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    wang = emulator.user(first_name="王网格", language_code="en")
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await build_known_month(db, clock, secretary_tg=xie.id, worker_tg=wang.id, resident_tg=xu.id)
    clock.current = cq(12, 1, 8)
    async with running_bot(emulator, db, clock):
        await xie.send("/digest 2026-11")
        text = await xie.expect_message(contains="民情汇总：邢家桥社区")
        assert "响应率 80.0% · 解决率 60.0% · 满意率 76.0%" in text.text
        # both clocks, as the card names them: No. 9 was never answered (答复时限 Nov 23 09:00)
        assert "超期：已过完成期限（2件）" in text.text
        assert "• 6号 · 1栋 · 王网格 · 超期20天" in text.text
        assert "答复超时未答复（已过答复时限，1件）" in text.text
        assert "• 9号 · 3栋 · 暂无 · 答复已超时7天" in text.text
        chart = await xie.expect_message(predicate=lambda m: m.photo is not None)
        assert chart.photo is not None and chart.photo.startswith(PNG)

        await wang.send("/digest")  # the last 7 days: Nov 25 - Dec 1
        week = await wang.expect_message(contains="Nov 25, 2026 – Dec 1, 2026")
        assert "New 1 · accepted 1 · resolved 0 · closed 1 · reopened 0" in week.text
        assert "Reply-by passed, not yet answered (1)" in week.text
        assert "• No. 9 · 3栋 · nobody yet · reply 7 days overdue" in week.text
        await wang.expect_message(predicate=lambda m: m.photo is not None)

        await wang.send("/digest last month please")
        await wang.expect_message(contains="Send /digest for the last 7 days")

        await xu.send("/digest")
        await xu.expect_message(contains="民情汇总只给社区工作人员看")
        await xu.expect_no_message(timeout=1)  # and no chart
    assert bot_errors(emulator) == []


async def test_the_weekly_digest_shows_open_consent_votes_and_late_council_topics(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:

    from runtime.settings import load_settings
    from storage import consent
    from storage.council import propose_topic
    from storage.models import VoteChoice

    xie, wang, li = (emulator.user(first_name=n, language_code="zh-hans") for n in "谢王李")
    month = await build_known_month(db, clock, secretary_tg=xie.id, worker_tg=wang.id, li_tg=li.id)
    community = month.community
    assert community.id is not None
    clock.current = cq(11, 10, 9)
    async with db.session() as session:
        campaign = await make_campaign(session, community, "2栋加装电梯？", now=clock())
        await consent.open_campaign(session, campaign, now=clock())
        homes = await consent.households(session, campaign)
        await record_vote(session, campaign, homes[0], VoteChoice.AGREE, now=clock())
        await propose_topic(
            session,
            community_id=community.id,
            proposer_id=month.resident.id,
            title="楼下晾衣架",
            description="希望装一排晾衣架",
            building_id=None,
            now=clock(),
            policy=load_settings(_env_file=None).council_policy,
            tz=CQ,
        )
    clock.current = cq(11, 16, 8)  # Monday 08:00: the topic waited past its 48 hours
    async with running_bot(emulator, db, clock) as app:
        await run_reminders(app)
        text = await xie.expect_message(contains="民情周报：邢家桥社区")
    assert "2栋加装电梯？" in text.text and "25.0%" in text.text  # 1 of 4 households agrees
    assert "楼下晾衣架" in text.text
    assert _staff_errors(emulator, xie, wang, li) == []
