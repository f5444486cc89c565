"""A chat an elderly resident can use without learning anything: the menu under the chat, a
short greeting, words that are not a report answered as what they are, the words kept when the
bot has to ask, and a 👌 on every message filed."""

from __future__ import annotations

from emulator import BotApiEmulator
from handlers.residents.menu import NEW
from storage.db import Database
from storage.models import IssueStatus
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import issues, join, only_issue

MENU_ZH = [["反映问题", "我的问题"], ["📍 发送位置", "联系社区"]]


async def test_start_greets_in_few_lines_and_leaves_a_menu_under_the_chat(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("/start")
        hello = await xu.expect_message(contains="社区民情本")
        assert len(hello.text.splitlines()) <= 5
        assert xu.keyboard == MENU_ZH
        markup = hello.reply_markup or {}
        assert markup.get("is_persistent") is True and markup.get("resize_keyboard") is True
        assert hello.keyboard is not None
        location = hello.keyboard[1][0]
        assert location.request_location and not location.request_contact
        # 联系社区: how to reach the community, without leaving the chat
        await xu.tap("联系社区")
        contact = await xu.expect_message(contains="社区工作人员会看到")
        assert "110" in contact.text and "/duty" in contact.text
        # 我的问题 before anything was reported
        await xu.tap("我的问题")
        await xu.expect_message(contains="还没有")
        assert xu.keyboard == MENU_ZH  # the menu stays
    assert await issues(db) == []
    assert bot_errors(emulator) == []


async def test_thanks_and_greetings_get_a_friendly_answer_and_file_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        said = await xu.send("好的，谢谢你们")
        await xu.expect_message(contains="不客气")
        await xu.send("早上好")
        await xu.expect_message(contains="您好！有什么问题直接告诉我")
        await xu.expect_no_message()
        assert xu.reactions(said) == []  # nothing was filed, so nothing is marked
    assert await issues(db) == []
    assert bot_errors(emulator) == []


async def test_a_question_about_progress_shows_the_open_issues(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("楼道灯坏了三天了")
        question = await xu.expect_message(contains="是哪方面的问题")
        # the words point to 公共设施: offered first, and said
        assert question.button_texts()[0] == "公共设施（楼道灯、门禁等）"
        assert "👉 听起来是“公共设施（楼道灯、门禁等）”" in question.text
        await xu.press(question, "公共设施")
        await xu.expect_edit(question, contains="照片")
        await xu.press(question, "不用照片")
        await xu.expect_edit(question, contains="有人身危险")
        await xu.press(question, "不是")
        await xu.expect_edit(question, contains="请核对")
        await xu.press(question, "✅ 发送")
        await xu.expect_edit(question, contains="1号")
        await xu.send("我的问题办得怎么样了？")
        listed = await xu.expect_message(contains="您正在办理中的问题")
        assert "1号" in listed.text and "楼道灯坏了三天了" in listed.text
    assert bot_errors(emulator) == []


async def test_unclear_words_are_kept_and_one_tap_makes_them_a_report(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        first = await xu.send("Gate of 1栋")
        asked = await xu.expect_message(contains="a new problem for the community")
        assert "«Gate of 1栋»" in asked.text
        second = await xu.send("at night")  # still unclear: kept with the first, asked again
        again = await xu.expect_message(contains="«Gate of 1栋 at night»")
        # a forged token, then the older question (same words): the newer press counts
        forged = await xu.press_data(again, NEW.data("zzzzzz"))
        assert forged.show_alert
        await xu.press(asked, "Yes, report it")
        await xu.expect_edit(asked, contains="What is the problem about?")
        await xu.press(asked, "Public facilities (stairwell lights, doors)")
        await xu.expect_edit(asked, contains="photo")
        await xu.press(asked, "No photo")
        await xu.expect_edit(asked, contains="Is anyone in danger")
        await xu.press(asked, "No")
        summary = await xu.expect_edit(asked, contains="Please check your report")
        assert "Gate of 1栋\nat night" in summary.text
        await xu.press(asked, "✅ Send")
        await xu.expect_edit(asked, contains="Your issue is No. 1")
        # both messages it filed are marked as received
        assert await xu.expect_reaction(first) == ["👌"]
        assert await xu.expect_reaction(second) == ["👌"]
        stale = await xu.press(again, "Yes, report it")  # the words were filed already
        assert stale.show_alert
    issue = await only_issue(db)
    assert issue.description == "Gate of 1栋\nat night"
    assert bot_errors(emulator) == []


async def test_no_drops_the_kept_words_and_the_next_words_stand_alone(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("Something odd")
        asked = await xu.expect_message(contains="a new problem")
        await xu.press(asked, "No")
        await xu.expect_edit(asked, contains="All right")
        await xu.send("The lift is stuck")  # reads like a report: no question
        question = await xu.expect_message(contains="What is the problem about?")
        assert "The lift is stuck" in question.text and "Something odd" not in question.text
    assert await issues(db) == []
    assert bot_errors(emulator) == []


async def test_a_photo_while_asked_starts_the_report_with_the_kept_words(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("Gate of 1栋")
        await xu.expect_message(contains="a new problem")
        await xu.send_photo()
        question = await xu.expect_message(contains="What is the problem about?")
        assert "Gate of 1栋" in question.text
    assert bot_errors(emulator) == []


async def test_the_menu_reports_with_a_tap_and_sends_the_location_with_one(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("/start")
        await xu.expect_message(contains="Hello!")
        await xu.tap("Report a problem")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Noise")
        await xu.expect_edit(question, contains="Please tell me in a few words")
        await xu.tap("Report a problem")  # again, mid-report: the same report goes on
        await xu.expect_message(contains="Please tell me in a few words")
        await xu.send("Karaoke every night")
        await xu.expect_message(contains="add a photo or your location")
        sent = await xu.tap("📍 Send my location")
        more = await xu.expect_message(contains="You can send more")
        await xu.press(more, "Done")
        await xu.expect_edit(more, contains="Is anyone in danger")
        await xu.press(more, "No")
        summary = await xu.expect_edit(more, contains="Please check")
        assert "location" in summary.text
        await xu.press(more, "✅ Send")
        await xu.expect_edit(more, contains="Your issue is No. 1")
        assert await xu.expect_reaction(sent) == ["👌"]
    issue = await only_issue(db)
    assert issue.latitude is not None and issue.category == "noise"
    assert issue.status == IssueStatus.NEW
    assert bot_errors(emulator) == []


async def test_a_reply_to_the_confirmation_is_added_and_marked(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("The stairwell light is broken")
        question = await xu.expect_message(contains="What is the problem about?")
        await xu.press(question, "Public facilities (stairwell lights, doors)")
        await xu.expect_edit(question, contains="photo")
        await xu.press(question, "No photo")
        await xu.expect_edit(question, contains="Is anyone in danger")
        await xu.press(question, "No")
        await xu.expect_edit(question, contains="Please check")
        await xu.press(question, "✅ Send")
        await xu.expect_edit(question, contains="Your issue is No. 1")
        added = await xu.send("ok", reply_to=question)  # short words, but a reply: added
        await xu.expect_message(contains="Added to No. 1")
        assert await xu.expect_reaction(added) == ["👌"]
    assert bot_errors(emulator) == []
