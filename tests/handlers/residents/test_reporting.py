"""Reporting in one's own words: free text or a voice message with photos, at most four taps to
an issue number, "me too", the hourly limit, a restart mid-report, bad input and /cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from emulator import BotApiEmulator
from emulator.driver import UserDriver
from handlers.residents.report_draft import CATEGORY
from storage import issues as rules
from storage.db import Database
from storage.models import IssueStatus, Person, Role, Urgency
from storage.notifications import STAFF_CARD
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import (
    attachments,
    bind_staff_group,
    issues,
    join,
    only_issue,
    outbox_rows,
    report_with_taps,
    say_me_too,
)

OLDER_MESSAGE = (
    "This button belongs to an older message. Please use the newest message, or send /start."
)


async def test_free_text_to_an_issue_number_in_four_taps(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    await bind_staff_group(db, community, emulator)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        taps, final = await report_with_taps(
            xu, "The stairwell light has been broken for three days", "Public facilities"
        )
        assert taps == 4
        # the number and the promised time limit for the category (general: 7 days)
        assert "Your issue is No. 1." in final.text
        assert "within 7 days (by 11/9/26, 9:00\u202fAM)" in final.text
    issue = await only_issue(db)
    assert issue.category == "facilities" and issue.status == IssueStatus.NEW
    assert issue.description == "The stairwell light has been broken for three days"
    assert issue.building_id is not None  # from where the resident lives
    assert issue.source_update_id is not None
    cards = await outbox_rows(db, STAFF_CARD)
    assert [c.payload["issue_id"] for c in cards] == [issue.id]  # the staff card is queued
    assert bot_errors(emulator) == []


async def _walk(user: Any, question: Any, *steps: tuple[str, str]) -> Any:
    """Press each button of the report's question in turn, waiting for the edit it leads to
    (which contains the second text); the last edit."""
    edited = question
    for label, expect in steps:
        await user.press(question, label)
        edited = await user.expect_edit(question, contains=expect)
    return edited


async def test_chinese_resident_gets_the_answer_in_chinese(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("楼道灯坏了三天了")
        question = await xu.expect_message(contains="是哪方面的问题")
        final = await _walk(
            xu,
            question,
            ("水电气暖", "照片"),
            ("不用照片", "有人身危险"),
            ("不是", "请核对"),
            ("✅ 发送", "1号"),
        )
        assert "1天内" in final.text  # utilities: 24 hours, said as one day
    assert bot_errors(emulator) == []


async def test_voice_message_with_an_album_of_two_photos(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send_voice(duration=12)
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Blocked drains")
        await xu.expect_edit(question, contains="add a photo")
        await xu.send_media_group(photos=2)
        got = await xu.expect_message(contains="You can send more, or press Done")
        await xu.press(got, "Done")
        await xu.expect_edit(got, contains="Is anyone in danger")
        await xu.press(got, "Yes, it is urgent")
        summary = await xu.expect_edit(got, contains="Please check your report")
        assert "2 photos, voice message" in summary.text
        assert "Urgent: yes" in summary.text
        await xu.press(got, "✅ Send")
        final = await xu.expect_edit(got, contains="Your issue is No. 1")
        assert "within 2 hours" in final.text  # an emergency: 2 h
        assert "call 110, 119 or 120" in final.text
        await xu.expect_no_message()  # the album's second photo got no reply of its own
    issue = await only_issue(db)
    assert issue.description == "🎤 0:12"
    assert issue.urgency == Urgency.EMERGENCY and issue.time_limit_hours == 2
    kinds = sorted(a.kind for a in await attachments(db, issue))
    assert kinds == ["photo", "photo", "voice"]
    assert bot_errors(emulator) == []


async def test_a_photo_with_a_caption_and_a_location(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send_photo("Rubbish piled up by the gate")
        question = await xu.expect_message(contains="What is the problem about?")
        assert "Rubbish piled up by the gate" in question.text
        await xu.press(question, "Cleanliness and rubbish")
        await xu.expect_edit(question, contains="You can send more")  # a photo is there already
        await xu.send_location(29.56, 106.55)
        more = await xu.expect_message(contains="You can send more")
        await xu.press(more, "Done")
        await xu.expect_edit(more, contains="Is anyone in danger")
        await xu.press(more, "No")
        summary = await xu.expect_edit(more, contains="Please check")
        assert "1 photo, location" in summary.text
        await xu.press(more, "✅ Send")
        await xu.expect_edit(more, contains="Your issue is No. 1")
    issue = await only_issue(db)
    assert issue.latitude == 29.56 and issue.longitude == 106.55
    assert issue.description == "Rubbish piled up by the gate"
    assert bot_errors(emulator) == []


async def test_slash_report_starts_empty_and_asks_for_the_description(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("/report")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Service desk matters")
        await xu.expect_edit(
            question, predicate=lambda m: m.button("Medical insurance") is not None
        )
        await xu.press(question, "Medical insurance")
        await xu.expect_edit(question, contains="tell me in a few words")
        await xu.send("How do I pay the medical insurance for my grandson?")
        photo_question = await xu.expect_message(contains="add a photo")
        await xu.press(photo_question, "No photo")
        await xu.expect_edit(photo_question, contains="danger")
        await xu.press(photo_question, "No")
        await xu.expect_edit(photo_question, contains="Please check")
        await xu.press(photo_question, "Change")
        await xu.expect_edit(photo_question, contains="What would you like to change?")
        await xu.press(photo_question, "Urgency")
        await xu.expect_edit(photo_question, contains="danger")
        await xu.press(photo_question, "Yes, it is urgent")
        await xu.expect_edit(photo_question, contains="Urgent: yes")
        await xu.press(photo_question, "✅ Send")
        await xu.expect_edit(photo_question, contains="Your issue is No. 1")
    issue = await only_issue(db)
    assert issue.category == "medical_insurance" and issue.urgency == Urgency.EMERGENCY
    assert bot_errors(emulator) == []


async def test_me_too_joins_the_open_issue_of_the_building_instead_of_a_duplicate(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    li = emulator.user(first_name="Auntie Li", language_code="en")
    zhao = emulator.user(first_name="Zhao", language_code="en")
    await join(db, community, xu, building=0)
    await join(db, community, li, building=0)
    await join(db, community, zhao, building=1)  # another building: no offer
    async with running_bot(emulator, db, clock):
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await li.send("No light on the stairs <again> & it's dark")
        question = await li.expect_message(contains="What is the problem about?")
        await li.press(question, "Public facilities")
        offer = await li.expect_edit(question, contains="already reported")
        assert (
            "No. 1 · Public facilities (stairwell lights, doors) · 1栋: "
            "«Stairwell light broken» (new)" in offer.text
        )
        await li.press(question, "No. 1 is my problem too")
        joined = await li.expect_edit(question, contains="You now back No. 1 (new)")
        assert joined.buttons == []

        _taps, _final = await report_with_taps(zhao, "Light broken here too", "Public facilities")
    found = await issues(db)
    assert len(found) == 2  # Xu's and Zhao's; Li backs Xu's
    assert found[0].support_count == 1
    assert bot_errors(emulator) == []


async def test_the_offer_shows_a_neighbours_words_without_their_phone_or_room(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    li = emulator.user(first_name="Auntie Li", language_code="en")
    await join(db, community, xu, building=0)
    await join(db, community, li, building=0)
    async with running_bot(emulator, db, clock):
        await report_with_taps(
            xu,
            "Leak above 1502室 <ceiling>, call １３８.１２３４.５６７８ or 3-2-1502",
            "Public facilities",
        )
        await li.send("Water dripping in the stairwell")
        question = await li.expect_message(contains="What is the problem about?")
        await li.press(question, "Public facilities")
        offer = await li.expect_edit(question, contains="already reported")
    line = next(x for x in offer.text.splitlines() if x.startswith("No. 1"))
    assert line.startswith(
        "No. 1 · Public facilities (stairwell lights, doors) · 1栋: "
        "«Leak above ***室 <ceiling>, call *** or ***» (new)"
    )
    for secret in ("1502", "１３８", "５６７８", "Lao Xu"):
        assert secret not in offer.text
    assert bot_errors(emulator) == []  # the neighbour's words are escaped


async def _xu_li_and_worker_wang(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> tuple[UserDriver, UserDriver, UserDriver, Person]:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    li = emulator.user(first_name="Auntie Li", language_code="en")
    wang = emulator.user(first_name="Wang", language_code="en")
    await join(db, community, xu)
    await join(db, community, li)
    return xu, li, wang, await join(db, community, wang, Role.WORKER)


async def _xu_reports_and_wang_takes_it_on(
    db: Database, clock: FakeClock, xu: UserDriver, wang: UserDriver, owner: Person
) -> None:
    await wang.send("/help")  # the bot may only write to people who started it
    await wang.expect_message()
    await report_with_taps(xu, "Stairwell light broken", "Public facilities")
    async with db.session() as session:
        assert owner.id is not None
        await rules.claim(session, (await issues(db))[0], actor_id=owner.id, now=clock())


async def test_me_too_keeps_what_the_neighbour_wrote_for_the_staff(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu, li, wang, owner = await _xu_li_and_worker_wang(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await _xu_reports_and_wang_takes_it_on(db, clock, xu, wang, owner)
        await say_me_too(li, "Dark on floor 3 <again> & my grandson fell")

        told = await wang.expect_message(contains="has the same problem")
        assert told.text.startswith("No. 1: Auntie Li has the same problem and wrote:")
        assert "Dark on floor 3 <again> & my grandson fell" in told.text
        await wang.send("/issue 1")
        history = await wang.expect_message(contains="History of No. 1")
        assert "said “me too”: Dark on floor 3 <again> & my grandson fell" in history.text
    assert len(await issues(db)) == 1
    assert bot_errors(emulator) == []  # escaped: the emulator refuses HTML it cannot parse


async def test_a_neighbour_who_only_pinned_a_place_backs_the_issue_with_it(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    xu, li, wang, owner = await _xu_li_and_worker_wang(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await _xu_reports_and_wang_takes_it_on(db, clock, xu, wang, owner)
        await li.send_location(29.5630, 106.5516)
        question = await li.expect_message(contains="What is the problem about?")
        await li.press(question, "Public facilities")
        await li.expect_edit(question, contains="already reported")
        await li.press(question, "No. 1 is my problem too")
        await li.expect_edit(question, contains="You now back No. 1")
        told = await wang.expect_message(contains="has the same problem")
        assert "📍 location" in told.text

        await wang.send("/issue 1")
        history = await wang.expect_message(contains="History of No. 1")
        assert "said “me too” · 📍 location" in history.text
    assert len(await issues(db)) == 1
    assert bot_errors(emulator) == []


async def test_mine_is_different_goes_on_with_the_report(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    li = emulator.user(first_name="Auntie Li", language_code="en")
    await join(db, community, xu)
    await join(db, community, li)
    async with running_bot(emulator, db, clock):
        await report_with_taps(xu, "Stairwell light broken", "Public facilities")
        await li.send("The entrance door does not lock")
        question = await li.expect_message(contains="What is the problem about?")
        await li.press(question, "Public facilities")
        await li.expect_edit(question, contains="already reported")
        await li.press(question, "No, mine is different")
        await li.expect_edit(question, contains="add a photo")
        await li.press(question, "No photo")
        await li.expect_edit(question, contains="danger")
        await li.press(question, "No")
        await li.expect_edit(question, contains="Please check")
        await li.press(question, "✅ Send")
        await li.expect_edit(question, contains="Your issue is No. 2")
    assert len(await issues(db)) == 2
    assert bot_errors(emulator) == []


async def test_more_than_the_hourly_limit_is_refused_politely(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock, max_reports_per_hour=2):
        await report_with_taps(xu, "First problem", "Noise")
        await report_with_taps(xu, "Second problem", "Parking")
        await xu.send("Third problem")
        refusal = await xu.expect_message(contains="within the last hour")
        assert "Please wait a little" in refusal.text
        clock.advance(minutes=61)
        await report_with_taps(xu, "Third problem, later", "Parking")
    assert len(await issues(db)) == 3
    assert bot_errors(emulator) == []


async def test_a_restart_in_the_middle_of_a_report_loses_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("Water leaking from the ceiling")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Water, power, gas, heating")
        await xu.expect_edit(question, contains="add a photo")
        await xu.send_photo()
        await xu.expect_message(contains="You can send more")
    async with running_bot(emulator, db, clock):  # a new process on the same database
        await xu.send_photo()
        more = await xu.expect_message(contains="You can send more")
        await xu.press(more, "Done")  # a button of the new process's message
        await xu.expect_edit(more, contains="danger")
        await xu.press(more, "No")
        summary = await xu.expect_edit(more, contains="Please check")
        assert "Water leaking from the ceiling" in summary.text and "2 photos" in summary.text
        await xu.press(more, "✅ Send")
        await xu.expect_edit(more, contains="Your issue is No. 1")
    issue = await only_issue(db)
    assert len(await attachments(db, issue)) == 2
    assert bot_errors(emulator) == []


async def test_old_buttons_and_a_double_tap_change_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        _taps, final = await report_with_taps(xu, "Broken bench", "Public facilities")
        answer = await xu.press_data(
            final, final.versions[-2].reply_markup["inline_keyboard"][0][0]["callback_data"]
        )  # type: ignore[index]
        assert answer.show_alert and answer.text == OLDER_MESSAGE
        answer = await xu.press_data(final, "rp:zzzzzz:c:noise")
        assert answer.show_alert
    assert len(await issues(db)) == 1
    assert bot_errors(emulator) == []


async def test_a_forged_or_pre_codec_press_is_told_to_use_the_newest_message(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """Malformed data on the open draft's own token (a made-up category, an id that is not a
    number) and buttons in the format from before runtime/buttons.py reach no handler: the
    resident is told where to go, and the draft carries on as if nothing was pressed."""
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("Broken bench")
        question = await xu.expect_message(contains="What is the problem about?")
        pressed = CATEGORY.parse(question.buttons[0][0].callback_data)
        assert pressed is not None
        token = pressed[0]
        for forged in (
            f"1rp.cat:{token}:spaceships",  # a category that does not exist
            f"1rp.dup:{token}:abc",  # "my problem too" with an id that is not a number
            f"1rp.dup:{token}:-1",
            f"1rp.dup:{token}:{'9' * 12}",  # a number too long to be an id
            f"1rp.urgent:{token}:maybe",
            f"1rp.send:{token}:extra",
            f"rp:{token}:c:noise",  # the same buttons before the codec
            f"rp:{token}:u:y",
            f"rp:{token}:ok",
            "my:s:1",
            "fl:x",
        ):
            answer = await xu.press_data(question, forged)
            assert answer.show_alert and answer.text == OLDER_MESSAGE, forged
        assert question.edits == []
        assert await issues(db) == []
        await xu.press(question, "Public facilities")  # the draft is where it was
        await xu.expect_edit(question, contains="photo")
    assert await issues(db) == []
    assert bot_errors(emulator) == []


async def test_text_with_html_characters_is_stored_and_shown_verbatim(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao <Xu> & Co", language_code="en")
    await join(db, community, xu)
    words = "Light <b>broken</b> & *dark* _again_ 😡 a<b"
    async with running_bot(emulator, db, clock):
        await xu.send(words)
        question = await xu.expect_message(contains=words)
        await xu.press(question, "Public facilities")
        await xu.expect_edit(question, contains="photo")
        await xu.press(question, "No photo")
        await xu.expect_edit(question, contains="danger")
        await xu.press(question, "No")
        summary = await xu.expect_edit(question, contains="Please check")
        assert words in summary.text
        await xu.press(question, "✅ Send")
        await xu.expect_edit(question, contains="Your issue is No. 1")
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        assert words in listing.text
        await xu.press(listing, callback_data=listing.buttons[0][0].callback_data)
        detail = await xu.expect_message(contains="History" if False else words)
        assert words in detail.text
    issue = await only_issue(db)
    assert issue.description == words
    assert bot_errors(emulator) == []


async def test_bad_input_gets_a_friendly_hint_and_long_text_is_kept_whole(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    long_text = ("The drains <smell> & overflow *every* night_ 🤢 " * 100)[:4000]
    async with running_bot(emulator, db, clock):
        await xu.send_sticker()
        await xu.expect_message(contains="I cannot read stickers")
        await xu.share_contact()
        await xu.expect_message(contains="I cannot use a contact card here")
        await xu.send_document("minutes.pdf", "application/pdf")
        await xu.expect_message(contains="I cannot open this kind of file")
        await xu.send(long_text)
        question = await xu.expect_message(contains="What is the problem about?")
        assert len(question.text) < 4096
        await xu.press(question, "Blocked drains")
        await xu.expect_edit(question, contains="photo")
        await xu.send_document("scan.png", "image/png")  # a photo sent as a file is a photo
        more = await xu.expect_message(contains="You can send more")
        await xu.press(more, "Done")
        await xu.expect_edit(more, contains="danger")
        await xu.press(more, "No")
        summary = await xu.expect_edit(more, contains="Please check")
        assert long_text[:1000] in summary.text and len(summary.text) <= 4096
        await xu.press(more, "✅ Send")
        await xu.expect_edit(more, contains="Your issue is No. 1")
        await xu.send("/my")
        listing = await xu.expect_message(contains="Your issues")
        await xu.press(listing, callback_data=listing.buttons[0][0].callback_data)
        detail = await xu.expect_message(contains="No. 1 ·")
        assert len(detail.text) <= 4096
        await xu.press(detail, "Show the full text")
        full = await xu.expect_message(contains=long_text[-200:])
        assert full.text == long_text
    issue = await only_issue(db)
    assert issue.description == long_text
    assert [a.kind for a in await attachments(db, issue)] == ["document"]
    assert bot_errors(emulator) == []


async def test_cancel_leaves_any_flow_and_says_so(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("The bench is broken")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.send("/cancel")
        await xu.expect_message(contains="Stopped. Nothing was sent.")
        answer = await xu.press(question, "Noise")
        assert answer.show_alert  # the cancelled draft's buttons are dead
        await xu.send("/cancel")
        await xu.expect_message(contains="There is nothing to stop.")
        await xu.tap("Report a problem")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Cancel")
        await xu.expect_edit(question, contains="Cancelled. Nothing was sent.")
    assert await issues(db) == []
    assert bot_errors(emulator) == []


async def test_someone_who_has_not_joined_is_told_how_and_their_words_are_kept(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock, buildings=())
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    async with running_bot(emulator, db, clock):
        await xu.send("The lift has been stuck since Monday")
        await xu.expect_message(contains="Please send /start to join")
        await xu.send("/start")
        menu = await xu.expect_message(contains="Which community do you live in?")
        await xu.press(menu, "邢家桥社区")
        await xu.expect_edit(menu, contains="Welcome to 邢家桥社区")
        language = await xu.expect_message(contains="Which language")
        await xu.press(language, "Skip")
        await xu.expect_message(contains="May the community call you")
        await xu.tap("Skip")
        await xu.expect_message(contains="All set")
        resumed = await xu.expect_message(contains="Now, about what you wrote before")
        assert "The lift has been stuck since Monday" in resumed.text
        await xu.press(resumed, "Public facilities")
        await xu.expect_edit(resumed, contains="photo")
    assert await issues(db) == []  # not sent yet: the draft continues
    assert bot_errors(emulator) == []


async def test_an_emergency_promises_two_hours_from_now(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("Smell of gas in the stairwell")
        question = await xu.expect_message(contains="What is the problem about?")
        await _walk(
            xu,
            question,
            ("Water, power, gas, heating", "photo"),
            ("No photo", "danger"),
            ("Yes, it is urgent", "Please check"),
            ("✅ Send", "within 2 hours (by 11/2/26, 11:00\u202fAM)"),
        )
    issue = await only_issue(db)
    assert issue.respond_by == clock() + timedelta(hours=2)
