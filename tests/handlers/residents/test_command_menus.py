"""Commands where they belong: the menu Telegram shows each person, as Telegram picks it among
the scopes the bot set (residents' in private chats, the staff group's, a worker's and the
secretary's own, following their role), and the description a resident sees before Start."""

from __future__ import annotations

from emulator import BotApiEmulator
from storage.db import Database
from storage.models import Role
from tests.factories import FakeClock, bot_errors, make_community, make_invite_token, running_bot
from tests.resident_helpers import join
from tests.staffroom import bind, staffroom

STAFF_ONLY = {"/todo", "/log", "/desk", "/issue", "/digest"}
SECRETARY_ONLY = {"/invite", "/staff", "/export"}


async def test_residents_see_their_commands_and_the_description_in_their_language(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    anna = emulator.user(first_name="Anna", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        mine = xu.commands()
        assert mine[:3] == ["/start", "/report", "/my"] and "/forget" in mine
        assert not STAFF_ONLY & set(mine)
        described = {
            c["command"]: c["description"] for c in emulator.commands_seen(xu.id, xu.id, "zh")
        }
        assert described["report"] == "反映问题"
        english = emulator.commands_seen(anna.id, anna.id, "en")
        assert {c["command"]: c["description"] for c in english}["report"] == "Report a problem"
        # before pressing Start: what the notebook is, in both languages (within Telegram's limits)
        zh = emulator.bot_texts[("description", "zh")]
        en = emulator.bot_texts[("description", "en")]
        assert "社区民情本" in zh and "voice message" in en and len(zh) <= 512
        assert len(emulator.bot_texts[("short_description", "zh")]) <= 120
        assert "Tell your community" in emulator.bot_texts[("short_description", "en")]
        assert "语音" in emulator.bot_texts[("short_description", "")]  # the community's language
    assert bot_errors(emulator) == []


async def test_the_staff_group_shows_staff_commands_and_no_residents_ones(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await bind(room)
        in_group = await room.group.expect_commands(room.wang, lambda shown: "/issue" in shown)
        assert "/issue" in in_group and "/notebook" in in_group
        assert "/forget" not in in_group and "/report" not in in_group
    # the next start sets it again from what the database knows
    async with running_bot(emulator, db, clock):
        assert "/issue" in room.group.commands(room.li)
    # any other group the bot is in shows no residents' commands
    other = emulator.group(title="楼栋群", members=[room.xu])
    async with running_bot(emulator, db, clock):
        assert other.commands(room.xu) == []
    assert bot_errors(emulator) == []


async def test_a_worker_gets_the_staff_menu_on_joining_and_loses_it_on_leaving(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en")
    token = await make_invite_token(db, clock, room.community, Role.WORKER)
    zhao = emulator.user(first_name="Zhao", language_code="en")
    xie = room.secretary
    async with running_bot(emulator, db, clock):
        assert not STAFF_ONLY & set(zhao.commands())  # a stranger: the residents' menu
        await zhao.send(f"/start {token}")
        await zhao.expect_message(contains="You are now a community worker")
        await zhao.expect_commands(lambda shown: set(shown) >= STAFF_ONLY)
        assert not SECRETARY_ONLY & set(zhao.commands())
        # the secretary's own, once she opens her chat
        await xie.send("/start")
        await xie.expect_message(contains="Hello!")
        await xie.expect_commands(lambda shown: set(shown) >= SECRETARY_ONLY | STAFF_ONLY)
        # Zhao leaves: deactivated by the secretary, back to a resident's menu
        await xie.send("/staff")
        page = await xie.expect_message(contains="Choose a worker")
        await xie.press(page, "Zhao (0 items)")
        await xie.expect_edit(page, contains="Zhao, community worker.")
        await xie.press(page, "They have left: deactivate")
        await xie.expect_edit(page, predicate=lambda m: m.button("Yes, deactivate") is not None)
        await xie.press(page, "Yes, deactivate")
        await xie.expect_edit(page, contains="Zhao is deactivated.")
        shown = await zhao.expect_commands(lambda shown: "/todo" not in shown)
        assert not STAFF_ONLY & set(shown) and "/report" in shown
    assert bot_errors(emulator) == []
