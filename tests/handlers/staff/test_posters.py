"""Staff print a poster per building (PNG and PDF, in Chinese) whose QR code is that building's
deep link; scanning it joins the building."""

from __future__ import annotations

import io
import re
import zlib

from fontTools.ttLib import TTFont
from PIL import Image
from sqlmodel import select

from emulator import BotApiEmulator
from handlers.staff.posters import POSTER
from runtime.fonts import CJK_FONT_NAME
from runtime.posters import PosterText, qr_matrix, render_pdf
from storage.db import Database
from storage.models import InviteLink, Membership, Role
from tests.factories import BOT_USERNAME, FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import building_ids, join


async def _building_token(db: Database, building_id: int) -> str:
    async with db.session() as session:
        link = (
            await session.exec(select(InviteLink).where(InviteLink.building_id == building_id))
        ).one()
    return link.token


def _qr_in_png(png: bytes) -> tuple[str, list[list[bool]], tuple[int, int]]:
    """The link a poster says it holds, the modules actually drawn, and the image size."""
    image = Image.open(io.BytesIO(png))
    image.load()
    link = image.text["link"]  # type: ignore[attr-defined]
    left, top, box, count = (int(v) for v in image.text["qr"].split(","))  # type: ignore[attr-defined]
    gray = image.convert("L")
    drawn = [
        [
            gray.getpixel((left + x * box + box // 2, top + y * box + box // 2)) < 128
            for x in range(count)
        ]
        for y in range(count)
    ]
    return link, drawn, image.size


def _pdf_streams(pdf: bytes) -> dict[bytes, bytes]:
    streams = {}
    for dictionary, raw in re.findall(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            streams[dictionary] = zlib.decompress(raw)
        except zlib.error:
            continue  # ASCII85-wrapped page content: not needed here
    return streams


def test_the_pdf_embeds_a_chinese_font_with_every_glyph_it_uses() -> None:
    text = PosterText(
        community="邢家桥社区",
        building="1栋",
        call_to_action="用手机扫描二维码，加入社区民情本",
        lines=("楼道灯坏了？下水道堵了？", "直接发文字、照片或语音。"),
        link="https://t.me/notebook_bot?start=abc",
    )
    pdf = render_pdf(text)
    assert pdf.startswith(b"%PDF")
    streams = _pdf_streams(pdf)
    cmap = next(s for d, s in streams.items() if b"/Length1" not in d and b"begincmap" in s)
    mapped = {
        int(code, 16): chr(int(uni, 16))
        for code, uni in re.findall(rb"<([0-9A-F]{2})> <([0-9A-F]{4})>", cmap)
    }
    font_file = next(s for d, s in streams.items() if b"/Length1" in d)
    font = TTFont(io.BytesIO(font_file))
    # reportlab's subsets map one-byte codes to glyphs (a Macintosh cmap); ToUnicode says
    # which character each code stands for
    code_to_glyph = font["cmap"].getcmap(1, 0).cmap
    outlines = font["glyf"]
    used = set("".join([text.community, text.building, text.call_to_action, *text.lines]))
    for char in used - {" "}:
        codes = [code for code, mapped_char in mapped.items() if mapped_char == char]
        assert codes, f"{char!r} is not in the embedded font's ToUnicode map"
        glyph = outlines[code_to_glyph[codes[0]]]
        assert glyph.numberOfContours != 0, f"{char!r} has an empty glyph"  # -1: composite
    assert b"/FontFile2" in pdf and CJK_FONT_NAME.encode() in pdf


async def test_staff_get_png_and_pdf_posters_that_join_the_building(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    ids = await building_ids(db, community)
    wang = emulator.user(first_name="Wang", language_code="en")
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, wang, Role.WORKER)
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("/poster")
        await xu.expect_message(contains="Only community staff can print posters")
        await wang.send("/poster")
        menu = await wang.expect_message(contains="Which building is the poster for?")
        answer = await xu.press_data(xu.messages[-1], POSTER.data(ids[1]))  # forged by a resident
        assert answer.show_alert
        await wang.press(menu, "2栋")
        png_message = await wang.expect_message(predicate=lambda m: m.mime_type == "image/png")
        pdf_message = await wang.expect_message(
            predicate=lambda m: (m.filename or "").endswith(".pdf")
        )
        token = await _building_token(db, ids[1])
        url = f"https://t.me/{BOT_USERNAME}?start={token}"
        assert url in png_message.text  # the caption
        assert png_message.document is not None and pdf_message.document is not None
        link, drawn, size = _qr_in_png(png_message.document)
        assert link == url and size == (1240, 1754)
        assert drawn == qr_matrix(url)  # the code drawn is the code of that building's link
        assert pdf_message.document.startswith(b"%PDF")
        # no office number set: the poster sends people without Telegram to the desk, and
        # staff are told how to put a number on it
        assert "Set OFFICE_PHONE" in png_message.text
        assert "不用 Telegram？请到社区百通岗来。" in _pdf_text(pdf_message.document)

        await wang.send("/poster")  # a second poster: the same link (old posters keep working)
        menu = await wang.expect_message(contains="Which building")
        await wang.press(menu, "2栋")
        again = await wang.expect_message(predicate=lambda m: m.mime_type == "image/png")
        await wang.expect_message(predicate=lambda m: (m.filename or "").endswith(".pdf"))
        assert url in again.text

        neighbour = emulator.user(first_name="Neighbour", language_code="en")
        await neighbour.send(f"/start {token}")  # what scanning the poster does
        await neighbour.expect_message(contains="Welcome to 邢家桥社区")
        await neighbour.expect_message(contains="Which language")  # the building is known
    async with db.session() as session:
        member = (
            await session.exec(
                select(Membership).where(
                    Membership.building_id == ids[1], Membership.role == Role.RESIDENT
                )
            )
        ).one()
    assert member.person_id is not None
    assert bot_errors(emulator) == []


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_poster_gives_the_office_number_to_people_without_telegram(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    wang = emulator.user(first_name="Wang", language_code="zh-hans")
    await join(db, community, wang, Role.WORKER)
    async with running_bot(emulator, db, clock, office_phone="023-6888 1234"):
        await wang.send("/poster")
        menu = await wang.expect_message(contains="海报")
        await wang.press(menu, "2栋")
        png = await wang.expect_message(predicate=lambda m: m.mime_type == "image/png")
        pdf = await wang.expect_message(predicate=lambda m: (m.filename or "").endswith(".pdf"))
        assert "OFFICE_PHONE" not in png.text
        assert pdf.document is not None
        text = _pdf_text(pdf.document)
        assert "不用 Telegram？请打电话 023-6888 1234，或到社区百通岗来。" in text
        assert "用手机扫一扫" in text  # the rest of the poster is still there
    assert bot_errors(emulator) == []
