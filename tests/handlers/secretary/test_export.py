"""/export: spreadsheets that hold the residents' words verbatim (and never run them as
formulas), and a printable PDF in red and black ink whose embedded font has every glyph."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import re
import zlib
from datetime import datetime
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from openpyxl import load_workbook

from emulator import BotApiEmulator
from handlers.secretary import export
from handlers.secretary.documents import CsvFile, XlsxFile, defuse, notebook_pdf
from handlers.secretary.export import FILE, printed_notebook, spreadsheet
from runtime.fonts import CJK_FONT_INDEX, CJK_FONT_NAME, cjk_font_path
from runtime.i18n import I18n
from storage.db import Database
from storage.export import ExportRow
from storage.models import Community
from storage.periods import Period
from tests.factories import FakeClock, bot_errors, running_bot
from tests.known_month import CQ, build_known_month, cq

I18N = I18n(default_locale="zh_Hans")
ZH = I18N.translator("zh_Hans", CQ)
NOVEMBER = Period.month(2026, 11, CQ)
LATER = cq(12, 1, 8)  # the month is over: files hold what stood at its end
HEADER = [
    "编号",
    "反映时间",
    "新增/重办/结转",
    "渠道",
    "类别",
    "问题",
    "楼栋",
    "单元",
    "紧急程度",
    "难易程度",
    "期末状态",
    "负责人",
    "方案",
    "答复时限",
    "期末答复情况",
    "办结期限",
    "期末办结情况",
    "转办答复期限",
    "受理时间",
    "首次答复时间",
    "办结时间",
    "关闭时间",
    "满意度",
    "附议人数",
    "重办次数",
]


def test_cells_that_could_run_as_formulas_get_an_apostrophe() -> None:
    for dangerous in ("=1+1", "+86 138", "-5", "@SUM(A1)", "\tx", "\rx"):
        assert defuse(dangerous) == "'" + dangerous
    for harmless in ("楼道灯坏了", "3楼 = 三楼", "a-b", "", None):
        assert defuse(harmless) == (harmless or "")

    row = ExportRow(
        number=1,
        created_at=cq(11, 2, 9),
        channel="phone",
        category="other",
        description='=HYPERLINK("http://x","点我")',
        building="@楼",
        unit="-1",
        urgency="normal",
        difficulty=None,
        status="new",
        owner="+王",
        plan="普通方案 <b>&amp;",
        due_at=None,
        transfer_answer_by=None,
        accepted_at=None,
        first_response_at=None,
        resolved_at=None,
        closed_at=None,
        satisfaction=None,
        supporters=0,
        reopened=0,
    )
    sheet_file = XlsxFile(ZH, "测试")
    sheet_file.add([row])
    sheet = load_workbook(io.BytesIO(sheet_file.finish())).active
    assert sheet is not None
    cells = {sheet.cell(1, c).value: sheet.cell(2, c) for c in range(1, len(HEADER) + 1)}
    assert cells["问题"].value == '\'=HYPERLINK("http://x","点我")'
    assert cells["问题"].data_type == "s"  # a string, not a formula
    assert (cells["楼栋"].value, cells["单元"].value) == ("'@楼", "'-1")
    assert cells["负责人"].value == "'+王"
    assert cells["方案"].value == "普通方案 <b>&amp;"  # verbatim: no HTML escaping
    csv_file = CsvFile(ZH)
    csv_file.add([row])
    lines = list(csv.reader(io.StringIO(csv_file.finish().decode("utf-8-sig"))))
    assert lines[1][5] == '\'=HYPERLINK("http://x","点我")' and lines[1][12] == "普通方案 <b>&amp;"


async def test_spreadsheets_of_the_month_open_and_hold_the_words_verbatim(
    db: Database, clock: FakeClock
) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        community = await session.get(Community, month.community.id)
        assert community is not None
        xlsx = await spreadsheet(session, ZH, community, NOVEMBER, "xlsx", now=LATER)
        raw_csv = await spreadsheet(session, ZH, community, NOVEMBER, "csv", now=LATER)

    assert raw_csv.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(raw_csv.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    # every issue open in November: Nos. 3 to 12 reported in it, and No. 2, reported in
    # October and open until it was resolved on November 1
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(2, 13)]
    by_number = {int(r[0]): dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    assert (by_number[2]["新增/重办/结转"], by_number[3]["新增/重办/结转"]) == (
        "上期结转",
        "本期新反映",
    )
    assert (by_number[6]["期末办结情况"], by_number[6]["期末答复情况"]) == ("已超期", "按时答复")
    assert by_number[4]["期末答复情况"] == "超时答复"  # claimed after 26 h of 24
    three = by_number[3]
    assert three["问题"] == "下水道堵了 <厨房> & 卫生间"
    assert three["反映时间"] == "2026-11-02 09:00"
    assert (three["渠道"], three["类别"], three["楼栋"]) == ("Telegram", "下水道堵塞", "1栋")
    assert (three["期末状态"], three["负责人"], three["方案"]) == (
        "已结案",
        "王网格",
        "联系物业疏通",
    )
    assert (three["办结期限"], three["首次答复时间"]) == (
        "2026-11-03 18:00",
        "2026-11-02 10:00",
    )
    assert (three["办结时间"], three["关闭时间"], three["满意度"]) == (
        "2026-11-03 09:00",
        "2026-11-05 10:00",
        "满意",
    )
    assert by_number[6]["方案"] == "'=请环卫车抽污"  # defused, otherwise verbatim
    assert (by_number[5]["重办次数"], by_number[5]["满意度"]) == ("1", "基本满意")
    assert by_number[8]["附议人数"] == "1"  # No. 11's reporter backs No. 8 after the merge
    assert by_number[9]["负责人"] == "" and by_number[9]["期末状态"] == "待受理"

    book = load_workbook(io.BytesIO(xlsx))
    sheet = book.active
    assert sheet is not None and sheet.title == "邢家桥社区"
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADER
    assert len(values) == 12
    xlsx_three = dict(zip(HEADER, values[2], strict=True))
    assert xlsx_three["问题"] == "下水道堵了 <厨房> & 卫生间"
    assert xlsx_three["反映时间"] == datetime(2026, 11, 2, 9, 0)  # a real date cell, local time
    assert xlsx_three["编号"] == 3 and xlsx_three["附议人数"] == 0
    assert dict(zip(HEADER, values[5], strict=True))["方案"] == "'=请环卫车抽污"


def _pdf_objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Each object's dictionary and decoded stream (the filters reportlab uses)."""
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    for match in re.finditer(rb"(\d+) 0 obj(.*?)endobj", pdf, re.S):
        head, found, rest = match.group(2).partition(b"stream")
        data = None
        if found:
            data = rest.lstrip(b"\r\n").rsplit(b"endstream", 1)[0].strip()
            if b"/ASCII85Decode" in head:
                data = base64.a85decode(data.removesuffix(b"~>"))
            if b"/FlateDecode" in head:
                data = zlib.decompress(data)
        objects[int(match.group(1))] = (head, data)
    return objects


def _embedded_glyphs(pdf: bytes) -> dict[str, bool]:
    """Every character the PDF's embedded Chinese font's subsets can draw -> whether its glyph has
    outlines (ToUnicode maps subset codes to characters; the subset's cmap maps codes to
    glyphs)."""
    objects = _pdf_objects(pdf)
    drawable: dict[str, bool] = {}
    for head, _ in objects.values():
        font_file = re.search(rb"/FontFile2 (\d+) 0 R", head)
        if font_file is None or CJK_FONT_NAME.encode() not in head:
            continue
        descriptor_id = next(i for i, (h, _d) in objects.items() if h is head)
        font_dict = next(
            h for h, _d in objects.values() if f"/FontDescriptor {descriptor_id} 0 R".encode() in h
        )
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", font_dict)
        assert to_unicode is not None
        cmap_data = objects[int(to_unicode.group(1))][1] or b""
        font_data = objects[int(font_file.group(1))][1] or b""
        subset = TTFont(io.BytesIO(font_data))
        # reportlab's subsets map one-byte codes to glyphs in a (1, 0) cmap
        code_to_glyph = subset["cmap"].getcmap(1, 0).cmap
        glyf = subset["glyf"]
        for code, char in re.findall(rb"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4,8})>", cmap_data):
            glyph_name = code_to_glyph.get(int(code, 16))
            text = bytes.fromhex(char.decode()).decode("utf-16-be")
            drawable[text] = glyph_name is not None and glyf[glyph_name].numberOfContours != 0
    return drawable


async def test_the_printed_notebook_embeds_a_font_with_every_chinese_glyph(
    db: Database, clock: FakeClock
) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        community = await session.get(Community, month.community.id)
        assert community is not None
        printed = await printed_notebook(session, community, NOVEMBER, now=LATER)
    assert [d.day.first_day.day for d in printed.days][:3] == [1, 2, 3]
    # every issue open in November: those reported in it, then No. 2, carried over
    assert [e.number for e in printed.open_in_period] == [*range(3, 13), 2]
    pdf = notebook_pdf(ZH, printed)
    assert pdf.startswith(b"%PDF")
    assert re.search(rb"/BaseFont /[A-Z]{6}\+" + CJK_FONT_NAME.encode(), pdf)  # a subset
    glyphs = _embedded_glyphs(pdf)
    source = TTFont(str(cjk_font_path()), fontNumber=CJK_FONT_INDEX).getBestCmap()
    for text in (
        "邢家桥社区民情本",
        "下水道堵了<厨房>&卫生间",
        "红笔黑笔",
        "已找到住户谈话",
        "王网格认领",
    ):
        for char in text:
            assert ord(char) in source, char
            assert glyphs.get(char), f"{char!r} is not drawable in the PDF"
    # Red ink for problems, black ink for owners and plans (the content streams' colours).
    content = b"".join(d or b"" for _h, d in _pdf_objects(pdf).values())
    assert b".752941 .223529 .168627 rg" in content  # #c0392b
    assert b".101961 .101961 .101961 rg" in content  # #1a1a1a


async def test_a_long_period_prints_up_to_the_limit_and_says_what_is_left_out(
    db: Database, clock: FakeClock
) -> None:
    month = await build_known_month(db, clock)
    async with db.session() as session:
        community = await session.get(Community, month.community.id)
        assert community is not None
        printed = await printed_notebook(session, community, NOVEMBER, limit=5, now=LATER)
    printed_entries = sum(len(d.red) + len(d.black) for d in printed.days)
    assert printed_entries + len(printed.open_in_period) == 5
    # November: 10 reports (No. 5's reopening is in the month it was reported); 24 black-pen
    # steps (2 on No. 2, 4 on No. 3, 3 on No. 4, 5 on No. 5, 2 on No. 6, 3 on No. 8, 2 on
    # No. 10, 1 on No. 11, 2 on No. 12); 11 issues open at some time in it.
    assert printed.left_out == 10 + 24 + 11 - 5
    assert notebook_pdf(ZH, printed).startswith(b"%PDF")


async def test_a_file_is_made_after_the_press_is_answered_and_the_chat_goes_on_meanwhile(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making a file takes seconds over a big notebook: the press is answered at once, and the
    secretary's next message is answered while the file is still being made."""
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    await build_known_month(db, clock, secretary_tg=xie.id, worker_tg=None, resident_tg=None)
    clock.current = LATER
    made = asyncio.Event()
    real_spreadsheet = export.spreadsheet

    async def slow_spreadsheet(*args: Any, **kwargs: Any) -> bytes:
        with contextlib.suppress(TimeoutError):  # being made until the test says so
            await asyncio.wait_for(made.wait(), 10)
        return await real_spreadsheet(*args, **kwargs)

    monkeypatch.setattr(export, "spreadsheet", slow_spreadsheet)
    async with running_bot(emulator, db, clock):
        await xie.send("/export 2026-11")
        menu = await xie.expect_message(contains="邢家桥社区，2026年11月1日至2026年11月30日")
        answer = await xie.press(menu, "表格（Excel）")
        assert answer.text == "正在准备文件……"
        await xie.send("/export 香蕉")  # not a period: the chat answers while the file is made
        await xie.expect_message(contains="“香蕉”我没看懂是哪几天")
        assert not [m for m in xie.messages if m.document is not None]
        made.set()
        xlsx = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert xlsx.filename == "notebook-2026-11-01-2026-11-30.xlsx"
    assert bot_errors(emulator) == []


async def test_the_secretary_gets_each_file_as_a_document(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    wang = emulator.user(first_name="王网格", language_code="zh-hans")
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await build_known_month(db, clock, secretary_tg=xie.id, worker_tg=wang.id, resident_tg=xu.id)
    clock.current = cq(12, 1, 8)
    async with running_bot(emulator, db, clock):
        await xie.send("/export 2026-11")
        menu = await xie.expect_message(contains="邢家桥社区，2026年11月1日至2026年11月30日")
        answer = await xie.press(menu, "表格（Excel）")
        assert not answer.show_alert
        xlsx = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert xlsx.filename == "notebook-2026-11-01-2026-11-30.xlsx"
        assert "邢家桥社区：2026年11月1日至2026年11月30日所有在办问题" in (xlsx.caption or "")
        assert xlsx.document is not None
        sheet = load_workbook(io.BytesIO(xlsx.document)).active
        assert sheet is not None and sheet.max_row == 12

        await xie.press(menu, "表格（CSV）")
        table = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert table.filename is not None and table.filename.endswith(".csv")
        assert table.document is not None
        assert "下水道堵了 <厨房> & 卫生间" in table.document.decode("utf-8-sig")

        await xie.press(menu, "打印用的民情本（PDF）")
        pdf = await xie.expect_message(predicate=lambda m: m.document is not None)
        assert pdf.document is not None and pdf.document.startswith(b"%PDF")
        assert pdf.filename == "notebook-2026-11-01-2026-11-30.pdf"
        assert "upload_document" in xie.actions

        # periods are named as people say them, and read back before any file is made
        await xie.send("/export 上个月")
        await xie.expect_message(contains="2026年11月1日至2026年11月30日：您要哪种文件？")
        await xie.send("/export 11-01 到 11-15")
        await xie.expect_message(contains="2026年11月1日至2026年11月15日：您要哪种文件？")
        await xie.send("/export 下辈子")
        await xie.expect_message(contains="“下辈子”我没看懂是哪几天")

        for not_secretary in (wang, xu):
            await not_secretary.send("/export 2026-11")
            await not_secretary.expect_message(contains="只有社区书记可以导出民情本")
        answer = await wang.press_data(
            menu, FILE.data("csv", "20261101", "20261130")
        )  # forged by a worker
        assert answer.show_alert and "只有社区书记" in (answer.text or "")
        for forged in (
            "1ex.file:exe:20261101:20261130",  # not a format
            FILE.data("csv", "20261130", "20261101"),  # the last day before the first
            FILE.data("csv", "1", "2"),  # not days
            "ex:csv:20261101:20261130",  # a button from before the codec
        ):
            answer = await xie.press_data(menu, forged)
            assert answer.show_alert, forged
        await wang.expect_no_message(timeout=1)
        await xu.expect_no_message(timeout=1)
    assert bot_errors(emulator) == []
