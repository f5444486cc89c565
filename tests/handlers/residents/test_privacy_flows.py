"""/mydata and /forget as a resident uses them, through the Bot API emulator."""

from __future__ import annotations

import json

from sqlmodel import select

from emulator import BotApiEmulator
from emulator.driver import UserDriver
from handlers.residents.privacy import ANSWER
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Community, Issue, Person, Role
from storage.privacy import ANONYMOUS_NAME
from tests.factories import (
    PHONE_KEY,
    FakeClock,
    bot_errors,
    make_community,
    make_member,
    running_bot,
)

PHONE = "13812345678"


async def _resident_with_an_issue(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> tuple[Community, UserDriver, int]:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    db.set_phone_key(PHONE_KEY)
    async with db.session() as session:
        person = await make_member(session, community, name="老许", telegram_user_id=xu.id)
        person.phone = PHONE
        await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=person.id,
            category="facilities",
            description="3栋楼道灯坏了",
            now=clock(),
            limits=TimeLimits(),
        )
    assert person.id is not None
    return community, xu, person.id


async def test_mydata_sends_everything_stored_as_a_json_file(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, _person_id = await _resident_with_an_issue(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await xu.send("/mydata")
        sent = await xu.expect_message(contains="民情本记下的关于您的全部信息")
    assert sent.document is not None
    data = json.loads(sent.document)
    assert data["about"].startswith("这是社区民情本记下的关于您的全部信息")
    assert data["profile"]["phone"] == PHONE
    assert data["profile"]["telegram_user_id"] == xu.id
    assert data["memberships"][0]["community"] == "邢家桥社区"
    assert data["issues_reported"][0]["description"] == "3栋楼道灯坏了"
    assert bot_errors(emulator) == []


async def test_forget_survives_a_restart_and_leaves_the_issue_without_the_person(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, person_id = await _resident_with_an_issue(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await xu.send("/forget")
        question = await xu.expect_message(contains="您要让民情本忘掉您吗")
    async with running_bot(emulator, db, clock):  # a restart between question and answer
        await xu.press(question, "确定，忘掉我")
        await xu.expect_edit(question, contains="已删除。民情本不再知道您是谁")
    async with db.session() as session:
        person = await session.get(Person, person_id)
        assert person is not None and person.full_name == ANONYMOUS_NAME
        assert person.telegram_user_id is None and person.phone is None
        issue = (await session.exec(select(Issue))).one()
        assert issue.reporter_id == person_id and issue.description == "3栋楼道灯坏了"
    async with running_bot(emulator, db, clock):
        await xu.send("/start")  # a stranger again
        await xu.expect_message(contains="您住在哪个社区")
        stale = await xu.press_data(question, ANSWER.data("y"))  # the old answer does nothing now
        assert stale.show_alert and "这个问题已过期" in (stale.text or "")
    async with db.session() as session:
        people = (await session.exec(select(Person))).all()
        assert {p.full_name for p in people} == {ANONYMOUS_NAME, "老许"}  # the newcomer
    assert bot_errors(emulator) == []


async def test_forget_can_be_declined_and_expires(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, xu, person_id = await _resident_with_an_issue(emulator, db, clock)
    async with running_bot(emulator, db, clock):
        await xu.send("/forget")
        question = await xu.expect_message(contains="您要让民情本忘掉您吗")
        await xu.press(question, "不，保留我的信息")
        await xu.expect_edit(question, contains="什么都没有删除")
        await xu.send("/forget")
        question = await xu.expect_message(contains="您要让民情本忘掉您吗")
        clock.advance(minutes=16)
        answer = await xu.press(question, "确定，忘掉我")
        assert answer.show_alert and "这个问题已过期" in (answer.text or "")
        forged = await xu.press_data(question, ANSWER.data("y"))  # pressing again, or forging it
        assert forged.show_alert
    async with db.session() as session:
        person = await session.get(Person, person_id)
        assert person is not None and person.full_name == "老许" and person.phone == PHONE
    assert bot_errors(emulator) == []


async def test_staff_are_told_to_be_deactivated_first(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    wang = emulator.user(first_name="王网格", language_code="zh-hans")
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    async with db.session() as session:
        await make_member(session, community, Role.WORKER, name="王网格", telegram_user_id=wang.id)
        await make_member(session, community, Role.SECRETARY, name="谢兰", telegram_user_id=xie.id)
    async with running_bot(emulator, db, clock):
        await wang.send("/forget")
        await wang.expect_message(contains="请先请书记停用您的身份")
        await xie.send("/forget")
        await xie.expect_message(contains="请先把书记职责移交给一位工作人员")
    assert bot_errors(emulator) == []
