"""What the card shows and its information buttons: long descriptions with HTML characters,
the full text, the photos, where the resident said it is, the logged phone number, English
cards, time limits running out, and a reporter who blocked the bot."""

from __future__ import annotations

from datetime import timedelta

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from emulator.text import utf16_len
from handlers.staff.card_info import split_for_messages
from handlers.staff.cards import cut
from storage.db import Database
from storage.issues import NewAttachment, add_attachments
from storage.models import Issue, Person, Urgency
from storage.notifications import issue_changed
from storage.staff import CONTACT_SHOWN
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import PHONE, bind, events_of, post_cards, report, staffroom

NASTY = '<b>楼道</b> & "灯" 坏了 <script>alert(1)</script> 1 < 2 > 0 &amp; '


async def test_a_4000_character_description_gives_a_valid_short_card_and_the_full_text(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    description = (NASTY * 100)[:4000]
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            description=description,
        )
        await post_cards(app, clock)
        card = await room.group.expect_message(contains="1号 · ")
        assert utf16_len(card.text) < 2000  # well under Telegram's 4096
        assert '<b>楼道</b> & "灯" 坏了 <script>' in card.text  # shown as typed, not as markup
        assert "（内容较长，点“全文”看完整内容）" in card.text
        answer = await room.group.press(room.wang, card, "全文")
        assert not answer.show_alert
        first = await room.group.expect_message(contains="1号全文（1/2）：")
        second = await room.group.expect_message(contains="1号全文（2/2）：")
        parts = [m.text.split("\n", 1)[1] for m in (first, second)]
        assert all(utf16_len(m.text) <= 4096 for m in (first, second))
        assert "".join(parts) == description.strip()
    assert bot_errors(emulator) == []


def test_long_texts_are_split_by_what_telegram_counts() -> None:
    emoji = "🚰" * 4000  # 8000 UTF-16 units
    pieces = split_for_messages(emoji)
    assert len(pieces) == 3 and all(utf16_len(p) <= 3800 for p in pieces)
    assert "".join(pieces) == emoji
    lines = "\n".join(f"第{n}行：下水道又堵了" for n in range(600))
    pieces = split_for_messages(lines)
    assert all(p.startswith("第") for p in pieces)  # broken at line ends
    assert "\n".join(pieces) == lines
    assert cut("短", 10) == ("短", False)
    text, was_cut = cut("word " * 100, 50)
    assert was_cut and text.endswith("…") and len(text) <= 51


async def test_photos_button_sends_the_files_and_show_contact_is_logged(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, wang = room.group, room.wang
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(
            emulator, db, clock, room.community, reporter_id=room.pid(room.xu), photos=12
        )
        voice = emulator.user_voice_body(3, None)["voice"]
        async with db.session() as session:
            stored = await session.get(Issue, issue.id)
            assert stored is not None
            await add_attachments(
                session,
                stored,
                None,
                [NewAttachment(kind="voice", telegram_file_id=voice["file_id"])],
                now=clock(),
            )
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        assert "照片：12张 · 其他文件：1个" in card.text
        await group.press(wang, card, "图片和文件（13）")
        await group.expect_message(predicate=lambda m: m.media_type == "voice")
        photos = [m for m in group.messages if m.media_type == "photo"]
        assert len(photos) == 12 and len({m.media_group_id for m in photos}) == 2  # 10 + 2

        answer = await group.press(wang, card, "查看电话")
        assert answer.show_alert and answer.text == f"1号：老许，电话 {PHONE}"
        assert PHONE not in card.text
    shown = [e for e in await events_of(db, issue.id) if e.kind == CONTACT_SHOWN]
    assert len(shown) == 1 and shown[0].actor_id == room.pid(wang) and not shown[0].public
    assert shown[0].at == clock()
    assert bot_errors(emulator) == []


async def test_an_english_card_counts_down_the_time_limit_and_warns_about_a_blocked_reporter(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(
        emulator, db, clock, name="Riverside", locale="en", names=("Sue", "Tom", "Ann", "Bob")
    )
    group = room.group
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            category="utilities",
            description="Gas smell in the stairwell of building 1 & the lift",
            urgency=Urgency.EMERGENCY,
        )
        await post_cards(app, clock)
        card = await group.expect_message(contains="No. 1 · Water, power, gas, heating")
        assert card.text.startswith("🚨")
        for part in (
            "Urgency: emergency · Difficulty: not classified yet",
            "Gas smell in the stairwell of building 1 & the lift",
            "Reported by Bob, 11/2/26, 9:00\u202fAM",
            "Reply by: 2 hours, 2 hours left (until 11/2/26, 11:00\u202fAM)",
            "Status: new",
            "Owner: nobody yet",
        ):
            assert part in card.text, part
        assert {"Accept", "Claim", "Assign…", "On the spot"} <= set(card.button_texts())

        clock.advance(hours=4)
        async with db.session() as session:
            reporter = await session.get(Person, room.pid(room.xu))
            assert reporter is not None
            reporter.unreachable_since = clock()
            stored = await session.get(Issue, issue.id)
            assert stored is not None
            assert await issue_changed(session, stored, now=clock())
        await dispatch_due(app, now=clock())
        await group.expect_edit(card, contains="Reply by: 2 hours, ⚠️ overdue by 2 hours")
        assert "⚠️ Bob has blocked the bot since Nov 2, 2026: please call them." in card.text

        await group.press(room.wang, card, "Claim")
        await group.expect_edit(card, contains="Owner: Tom")
        # claiming stopped the response clock: missed, said once, no longer "overdue"
        assert "Reply by: 2 hours, answered 2 hours late (11/2/26, 1:00\u202fPM)" in card.text
        assert "overdue" not in card.text
    assert bot_errors(emulator) == []
    assert timedelta(hours=2) == timedelta(hours=issue.time_limit_hours)


async def test_the_location_a_resident_sent_is_one_tap_away_on_the_card(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group = room.group
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            description="路灯不亮，就在小区东门外",
            location=(29.5630, 106.5516),
        )
        await post_cards(app, clock)
        without = await group.expect_message(contains="1号")
        card = await group.expect_message(contains="2号")
        assert not any("位置" in t for t in without.button_texts())  # no pin, no button

        await group.press(room.wang, card, "📍 位置")
        pin = await group.expect_message(predicate=lambda m: m.media_type == "location")
        assert pin.raw["location"] == {"latitude": 29.5630, "longitude": 106.5516}
        assert pin.raw["reply_to_message"]["message_id"] == card.message_id  # under its card
    assert [m for m in group.messages if m.media_type == "location"] == [pin]
    assert bot_errors(emulator) == []
