"""Joining, /start, /help and /language, driven over HTTP through the Bot API emulator."""

from __future__ import annotations

from sqlmodel import func, select

from emulator import BotApiEmulator
from handlers.secretary.invites import MAKE
from storage.db import Database
from storage.models import InviteLink, Membership, Person, Role
from tests.factories import (
    FakeClock,
    bot_errors,
    make_community,
    make_invite_token,
    running_bot,
)


async def _role_of(db: Database, telegram_user_id: int) -> str | None:
    async with db.session() as session:
        row = (
            await session.exec(
                select(Membership.role)
                .join(Person, Person.id == Membership.person_id)  # type: ignore[arg-type]
                .where(Person.telegram_user_id == telegram_user_id)
            )
        ).first()
    return row


async def test_start_answers_in_the_users_language(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock, name="邢家桥社区")
    async with running_bot(emulator, db, clock):
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/start")
        reply = await xu.expect_message(contains="您住在哪个社区")
        assert reply.button("邢家桥社区") is not None

        anna = emulator.user(first_name="Anna", language_code="en")
        await anna.send("/start")
        await anna.expect_message(contains="Which community do you live in?")
    assert bot_errors(emulator) == []


async def test_secretary_link_works_once_then_secretary_invites_a_worker(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock, name="邢家桥社区")
    token = await make_invite_token(db, clock, community, Role.SECRETARY)
    async with running_bot(emulator, db, clock):
        xie = emulator.user(first_name="谢兰", language_code="zh-hans")
        await xie.send(f"/start {token}")
        await xie.expect_message(contains="您现在的身份是社区书记")

        someone = emulator.user(first_name="Someone", language_code="en")
        await someone.send(f"/start {token}")
        await someone.expect_message(contains="already been used")

        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁加入邢家桥社区")
        answer = await xie.press(menu, "新的社区工作者")
        assert not answer.show_alert
        link_msg = await xie.expect_message(contains="https://t.me/notebook_bot?start=")
        worker_token = link_msg.text.rsplit("start=", 1)[1].strip()

        wang = emulator.user(first_name="王网格", language_code="zh-CN")
        await wang.send(f"/start {worker_token}")
        await wang.expect_message(contains="社区工作者")
        await wang.send("/help")
        short = await wang.expect_message(contains="您在邢家桥社区的身份是社区工作者")
        # the five things a worker does most, the rest one tap away
        lines = short.text.split("\n")
        assert len(lines) == 6 and lines[1].startswith("/todo")
        assert "/forget" not in short.text and short.button_texts() == ["全部命令…"]
        await wang.press(short, "全部命令…")
        whole = await wang.expect_edit(short, contains="/forget")
        assert "/todo" in whole.text and "/poster" in whole.text and not whole.button_texts()
        assert "/staff" not in whole.text  # the secretary's own
    assert await _role_of(db, xie.id) == Role.SECRETARY
    assert await _role_of(db, someone.id) is None
    assert await _role_of(db, wang.id) == Role.WORKER
    assert bot_errors(emulator) == []


async def test_worker_invitations_expire(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    from datetime import timedelta

    token = await make_invite_token(db, clock, community, Role.WORKER, ttl=timedelta(hours=48))
    clock.advance(hours=49)
    async with running_bot(emulator, db, clock):
        late = emulator.user(first_name="Late", language_code="en")
        await late.send(f"/start {token}")
        await late.expect_message(contains="expired")
    assert await _role_of(db, late.id) is None


async def test_resident_joins_by_choosing_and_by_building_link(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock, name="邢家桥社区")
    await make_community(db, clock, name="Another <Estate> & Co")
    async with running_bot(emulator, db, clock):
        xu = emulator.user(first_name="老许", language_code="zh-hans")
        await xu.send("/start")
        menu = await xu.expect_message(contains="您住在哪个社区")
        # the community name with HTML characters is shown verbatim on its button
        assert menu.button("Another <Estate> & Co") is not None
        await xu.press(menu, "邢家桥社区")
        await xu.expect_edit(menu, contains="欢迎加入邢家桥社区")

        token = await make_invite_token(db, clock, community, Role.RESIDENT)
        li = emulator.user(first_name="李阿姨", language_code=None)  # no language: default zh
        await li.send(f"/start {token}")
        await li.expect_message(contains="欢迎加入邢家桥社区")
    assert await _role_of(db, xu.id) == Role.RESIDENT
    assert await _role_of(db, li.id) == Role.RESIDENT
    assert bot_errors(emulator) == []


async def test_language_choice_is_stored_and_survives_a_restart(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    token = await make_invite_token(db, clock, community, Role.RESIDENT)
    xu = emulator.user(first_name="老许", language_code="zh-hans")
    async with running_bot(emulator, db, clock):
        await xu.send(f"/start {token}")
        await xu.expect_message(contains="欢迎")
        await xu.send("/language")
        menu = await xu.expect_message(contains="您想用哪种语言")
        await xu.press(menu, "English")
        await xu.expect_edit(menu, contains="I will speak English with you from now on.")
    async with running_bot(emulator, db, clock):  # a new Application on the same database
        await xu.send("/help")
        await xu.expect_message(contains="You are in 邢家桥社区 as a resident.")


async def test_only_the_secretary_makes_invitations_even_with_a_forged_button(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    token = await make_invite_token(db, clock, community, Role.RESIDENT)
    async with running_bot(emulator, db, clock):
        resident = emulator.user(first_name="Res", language_code="en")
        await resident.send(f"/start {token}")
        welcome = await resident.expect_message(contains="Welcome")
        await resident.send("/invite")
        await resident.expect_message(contains="Only the community secretary")
        answer = await resident.press_data(welcome, MAKE.data("w"))
        assert answer.show_alert
        assert "Only the community secretary" in (answer.text or "")
    async with db.session() as session:
        links = (await session.exec(select(func.count()).select_from(InviteLink))).one()
    assert links == 1  # only the resident link the test made
