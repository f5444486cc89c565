"""A voice report that can be read: until someone puts it in words its title says what it is
("12秒的语音留言"); the resident's first words in reply name it, everywhere."""

from __future__ import annotations

from emulator import BotApiEmulator
from storage.db import Database
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import join, only_issue


async def test_the_residents_reply_names_a_voice_report(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        voice = await xu.send_voice(duration=12)
        question = await xu.expect_message(contains="是哪方面的问题")
        await xu.press(question, "公共设施（楼道灯、门禁等）")
        await xu.expect_edit(question, contains="照片")
        await xu.press(question, "不用照片")
        await xu.expect_edit(question, contains="有人身危险")
        await xu.press(question, "不是")
        summary = await xu.expect_edit(question, contains="请核对")
        assert "附件：语音" in summary.text
        await xu.press(question, "✅ 发送")
        done = await xu.expect_edit(question, contains="1号")
        assert "回复这条消息写几个字" in done.text
        assert await xu.expect_reaction(voice) == ["👌"]
        await xu.send("/my")
        listed = await xu.expect_message(contains="1号")
        assert "12秒的语音留言" in listed.text and "🎤" not in listed.text
        await xu.send("三楼楼道灯不亮\n晚上看不见", reply_to=question)
        named = await xu.expect_message(contains="已补充到1号")
        assert "标题现在是“三楼楼道灯不亮”" in named.text
        await xu.send("/my")
        listed = await xu.expect_message(contains="1号")
        assert "三楼楼道灯不亮" in listed.text and "语音留言" not in listed.text
        # a second reply is added, but the title stays
        await xu.send("还有二楼", reply_to=question)
        again = await xu.expect_message(contains="已补充到1号")
        assert "标题" not in again.text
    issue = await only_issue(db)
    assert issue.summary == "三楼楼道灯不亮" and issue.description == "🎤 0:12"
    assert bot_errors(emulator) == []
