"""Joining as a resident: building and unit with buttons, language, a phone number only through
"share contact" (never typed), all skippable; a building's link presets the building; /profile
changes them later."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from emulator import BotApiEmulator
from handlers.residents.profile import CHOOSE_BUILDING, CHOOSE_UNIT
from runtime.settings import load_settings
from storage.communities import add_building
from storage.db import Database
from storage.models import Community, Membership, Person, Role
from storage.residents import add_unit, building_link, buildings_of, units_of
from tests.factories import FakeClock, bot_errors, make_community, make_invite_token, running_bot
from tests.resident_helpers import building_ids


async def _with_units(db: Database, clock: FakeClock) -> Community:
    community = await make_community(db, clock, buildings=("1栋", "2栋"))
    ids = await building_ids(db, community)
    async with db.session() as session:
        for order, name in enumerate(("1单元", "2单元")):
            await add_unit(session, building_id=ids[0], name=name, sort_order=order)
    return community


async def _member_and_person(db: Database, telegram_user_id: int) -> tuple[Membership, Person]:
    async with db.session() as session:
        person = (
            await session.exec(select(Person).where(Person.telegram_user_id == telegram_user_id))
        ).one()
        member = (
            await session.exec(select(Membership).where(Membership.person_id == person.id))
        ).one()
    return member, person


async def test_joining_asks_building_unit_language_and_phone_by_contact_only(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await _with_units(db, clock)
    ids = await building_ids(db, community)
    xu = emulator.user(first_name="Lao Xu", language_code="zh-hans")
    async with running_bot(emulator, db, clock):
        await xu.send("/start")
        menu = await xu.expect_message(contains="您住在哪个社区")
        await xu.press(menu, "邢家桥社区")
        await xu.expect_edit(menu, contains="欢迎加入邢家桥社区")
        question = await xu.expect_message(predicate=lambda m: m.button("1栋") is not None)
        await xu.press(question, "1栋")
        await xu.expect_edit(question, predicate=lambda m: m.button("2单元") is not None)
        await xu.press(question, "2单元")
        await xu.expect_edit(question, predicate=lambda m: m.button("English") is not None)
        await xu.press(question, "English")  # from here on, English
        ask = await xu.expect_message(contains="May the community call you")
        # the language question, answered, keeps no buttons to press again
        await xu.expect_edit(question, predicate=lambda m: not m.buttons)
        assert xu.keyboard == [["📱 Share my phone number"], ["Skip"]]
        assert ask.keyboard is not None and ask.keyboard[0][0].request_contact
        await xu.send("138 0000 0000")  # typed: not taken
        await xu.expect_message(contains="please do not type it")
        someone = emulator.user(first_name="Someone")
        # a contact card of someone else, forwarded from the address book
        xu._post(
            {
                "contact": {
                    "phone_number": "+8613911112222",
                    "first_name": "S",
                    "user_id": someone.id,
                }
            }
        )
        await xu.expect_message(contains="Please share your own number")
        await xu.tap("📱 Share my phone number")
        done = await xu.expect_message(contains="All set")
        # the phone question's keyboard makes way for the resident's menu
        assert done.reply_markup is not None and done.reply_markup.get("is_persistent")
        assert xu.keyboard == [
            ["Report a problem", "My issues"],
            ["📍 Send my location", "Contact the community"],
        ]
    member, person = await _member_and_person(db, xu.id)
    assert member.building_id == ids[0] and member.unit_id is not None
    assert person.phone == "13800000000" and person.locale == "en"  # as storage/phones.py reads it
    assert bot_errors(emulator) == []


async def test_everything_but_the_community_can_be_skipped(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await _with_units(db, clock)
    token = await make_invite_token(db, clock, community, Role.RESIDENT)
    anna = emulator.user(first_name="Anna", language_code="en")
    async with running_bot(emulator, db, clock):
        await anna.send(f"/start {token}")
        await anna.expect_message(contains="Welcome to 邢家桥社区")
        question = await anna.expect_message(contains="Which building do you live in?")
        await anna.press(question, "Skip")  # no building: no unit question either
        await anna.expect_edit(question, contains="Which language")
        await anna.press(question, "Skip")
        await anna.expect_message(contains="May the community call you")
        await anna.tap("Skip")
        await anna.expect_message(contains="All set")
    member, person = await _member_and_person(db, anna.id)
    assert member.building_id is None and person.phone is None and person.locale is None
    assert bot_errors(emulator) == []


async def test_a_building_link_presets_the_building(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await _with_units(db, clock)
    ids = await building_ids(db, community)
    async with db.session() as session:
        link = await building_link(
            session, community_id=community.id or 0, building_id=ids[0], now=clock()
        )
    anna = emulator.user(first_name="Anna", language_code="en")
    async with running_bot(emulator, db, clock):
        await anna.send(f"/start {link.token}")
        await anna.expect_message(contains="Welcome to 邢家桥社区")
        question = await anna.expect_message(contains="Which unit")  # no building question
        await anna.press(question, "1单元")
        await anna.expect_edit(question, contains="Which language")
    member, _person = await _member_and_person(db, anna.id)
    assert member.building_id == ids[0]
    assert bot_errors(emulator) == []


async def test_staff_joining_by_their_link_are_not_asked_about_a_home(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await _with_units(db, clock)
    token = await make_invite_token(db, clock, community, Role.WORKER)
    wang = emulator.user(first_name="Wang", language_code="en")
    async with running_bot(emulator, db, clock):
        await wang.send(f"/start {token}")
        await wang.expect_message(contains="You are now a community worker")
        await wang.expect_no_message()
    assert bot_errors(emulator) == []


async def test_profile_changes_building_and_phone_later_and_refuses_forged_buttons(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await _with_units(db, clock)
    other = await make_community(db, clock, name="Other estate", buildings=("A",))
    ids = await building_ids(db, community)
    foreign = (await building_ids(db, other))[0]
    token = await make_invite_token(db, clock, community, Role.RESIDENT)
    anna = emulator.user(first_name="Anna", language_code="en")
    async with running_bot(emulator, db, clock):
        await anna.send(f"/start {token}")
        await anna.expect_message(contains="Welcome")
        first = await anna.expect_message(contains="Which building")
        await anna.send("/cancel")
        await anna.expect_message(contains="Stopped")
        await anna.send("/profile")
        card = await anna.expect_message(contains="Your details in 邢家桥社区")
        assert "Building: not given" in card.text and "Phone: not given" in card.text
        await anna.press(card, "Building")
        await anna.expect_edit(card, contains="Which building")
        answer = await anna.press_data(
            card, CHOOSE_BUILDING.data(foreign)
        )  # another community's building
        assert answer.show_alert
        answer = await anna.press_data(
            first, CHOOSE_UNIT.data(1)
        )  # a unit question that was never asked
        assert answer.show_alert
        await anna.press(card, "2栋")
        await anna.expect_message(contains="All set")  # 2栋 has no units
        await anna.expect_edit(card, predicate=lambda m: not m.buttons)
        await anna.send("/profile")
        card = await anna.expect_message(contains="Building: 2栋")
        await anna.press(card, "Phone")
        await anna.expect_message(contains="May the community call you")
        await anna.tap("📱 Share my phone number")
        await anna.expect_message(contains="All set")
        await anna.send("/profile")
        card = await anna.expect_message(contains="Phone: 13800000000")
    member, _person = await _member_and_person(db, anna.id)
    assert member.building_id == ids[1]
    assert bot_errors(emulator) == []


async def test_add_building_keeps_its_units_apart(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock, buildings=())
    async with db.session() as session:
        building = await add_building(session, community_id=community.id or 0, name="9栋")
        assert building.id is not None
        await add_unit(session, building_id=building.id, name="1单元")
        first = await building_link(
            session, community_id=community.id or 0, building_id=building.id, now=clock()
        )
        again = await building_link(
            session, community_id=community.id or 0, building_id=building.id, now=clock()
        )
    assert first.token == again.token  # posters on the wall keep working


async def test_the_cli_creates_buildings_with_their_units(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import community_create

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    settings = load_settings(_env_file=None, database_url=url, telegram_bot_username="nb_bot")
    await community_create(settings, "邢家桥社区", ["1栋=1单元, 2单元", "2栋"])
    assert "https://t.me/nb_bot?start=" in capsys.readouterr().out
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            buildings = await buildings_of(session, 1)
            units = [[u.name for u in await units_of(session, b.id or 0)] for b in buildings]
    finally:
        await db.dispose()
    assert [b.name for b in buildings] == ["1栋", "2栋"]
    assert units == [["1单元", "2单元"], []]
