"""The one phone recogniser (storage/phones.py), on a table of the ways residents really write
numbers, and of the numbers that are not phones; and the users of it: masking for /forget and
retention, the wall, the log filter, and the blind index that finds a resident by phone."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from bot.logs import RedactPhones
from handlers.secretary.notebook_entries import hide_phones
from storage import crypto, migrate
from storage.db import Database
from storage.models import Person
from storage.phones import find_phones, last_four, mask_phones, parse_phone, scan_text
from storage.privacy import redact
from storage.residents import find_residents
from tests.factories import PHONE_KEY, FakeClock, make_community, make_member

MOBILE = "13812345678"
BEIJING = "01065123456"

# (what a resident wrote, the numbers in it)
PHONES = [
    ("13812345678", [MOBILE]),
    ("电话13812345678", [MOBILE]),
    ("手机：138-1234-5678", [MOBILE]),
    ("138 1234 5678", [MOBILE]),
    ("138.1234.5678", [MOBILE]),
    ("138·1234·5678", [MOBILE]),
    ("138—1234—5678", [MOBILE]),
    ("138 - 1234 - 5678", [MOBILE]),
    ("１３８１２３４５６７８", [MOBILE]),
    ("１３８－１２３４－５６７８", [MOBILE]),
    ("１３８\u3000１２３４\u3000５６７８", [MOBILE]),
    ("138\u00a01234\u00a05678", [MOBILE]),
    ("138１２３４5678", [MOBILE]),
    ("一三八一二三四五六七八", [MOBILE]),
    ("幺三八 幺二三四 五六七八", [MOBILE]),
    ("一三八1234五六七八", [MOBILE]),
    ("+86 138 1234 5678", [MOBILE]),
    ("+86-138-1234-5678", [MOBILE]),
    ("+8613812345678", [MOBILE]),
    ("(+86) 138-1234-5678", [MOBILE]),
    ("+８６ １３８ １２３４ ５６７８", [MOBILE]),
    ("0086 138 1234 5678", [MOBILE]),
    ("8613812345678", [MOBILE]),
    ("tel13812345678", [MOBILE]),
    ("找王师傅13812345678，或者13912345678", [MOBILE, "13912345678"]),
    ("2026-12-08 13812345678 来电", [MOBILE]),
    ("13812345678 2号楼", [MOBILE]),
    ("010-6512 3456", [BEIJING]),
    ("(010) 6512-3456", [BEIJING]),
    ("（010）65123456", [BEIJING]),
    ("01065123456", [BEIJING]),
    ("+86 10 6512 3456", [BEIJING]),
    ("0755-8888 9999", ["075588889999"]),
    ("023-6388 1234", ["02363881234"]),
    ("物业电话：6388 1234", ["63881234"]),
    ("座机 638-1234", ["6381234"]),
    ("call 6388-1234", ["63881234"]),
    ("+1 415 555 2671", ["+14155552671"]),
    ("+44 20 7946 0958 或 13812345678", ["+442079460958", MOBILE]),
    ("0044 20 7946 0958", ["+442079460958"]),
]

# Numbers that are not phones: never masked.
NOT_PHONES = [
    "2026-12-08",
    "2026.12.08",
    "2026/12/08",
    "20261208",
    "2026年12月8日 下午3点",
    "联系时间 20261208",
    "12:30 到 13:45",
    "No. 12345",
    "#123",
    "第138号",
    "3-2-1501",
    "3栋2单元1501室",
    "¥13812345678",
    "13812345678元",
    "价格 1380元，押金 ¥2000.00",
    "1,380,000.00",
    "身份证 110105194912310021",
    "130105194912310021",
    "银行卡 6222021234567890123",
    "6388 1234",  # a local number needs a word saying it is a phone
    "楼道灯坏了三天了，一二三楼都黑",
    "12345678",
    "10086",
]


@pytest.mark.parametrize(("written", "numbers"), PHONES)
def test_every_real_world_form_is_found_and_read(written: str, numbers: list[str]) -> None:
    assert [p.number for p in find_phones(written)] == numbers
    masked = mask_phones(written)
    assert masked.count("***") == len(numbers)
    for number in numbers:  # nothing of the number is left beside the mask
        assert number[-4:] not in scan_text(masked)


@pytest.mark.parametrize("written", NOT_PHONES)
def test_dates_money_and_issue_or_room_numbers_are_not_phones(written: str) -> None:
    assert find_phones(written) == []
    assert mask_phones(written) == written


def test_masking_keeps_the_words_around_and_can_show_part_of_the_number() -> None:
    assert mask_phones("王师傅 138.1234.5678，明天来") == "王师傅 ***，明天来"
    assert mask_phones("１３８１２３４５６７８", lambda p: "…" + p.last_four) == "…5678"
    assert last_four("+86 138 1234 5678") == "****5678"
    assert last_four(None) == ""


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("13812345678", MOBILE),
        ("+86 138-1234-5678", MOBILE),
        ("１３８ １２３４ ５６７８", MOBILE),
        ("一三八一二三四五六七八", MOBILE),
        ("010-6512 3456", BEIJING),
        ("6388 1234", "63881234"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("no idea", None),
        ("12", None),
        ("1234", None),
        ("2026-12-08", None),
        ("13812345678 or 13912345678", None),
    ],
)
def test_a_number_typed_on_its_own_is_read_or_refused(typed: str, number: str | None) -> None:
    assert parse_phone(typed) == number


def test_a_shared_contact_is_international_with_or_without_its_plus() -> None:
    assert parse_phone("8613812345678", shared=True) == MOBILE
    assert parse_phone("+8613812345678", shared=True) == MOBILE
    assert parse_phone("447700900123", shared=True) == "+447700900123"


def test_forget_retention_the_wall_and_the_log_filter_share_it() -> None:
    written = "王师傅 １３８．１２３４．５６７８，座机 010-6512 3456，2026-12-08 修好"
    assert redact(written, ["王师傅"]) == "*** ***，座机 ***，2026-12-08 修好"
    assert hide_phones(written) == "王师傅 138****78，座机 010****56，2026-12-08 修好"
    record = logging.LogRecord(
        "x", logging.INFO, "f", 1, "call %s", ("一三八一二三四五六七八",), None
    )
    RedactPhones().filter(record)
    assert record.getMessage() == "call [phone]"


# --- the blind index -------------------------------------------------------------------------


async def test_the_blind_index_is_a_keyed_hash_of_the_normalised_number(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = "+86 138-1234-5678"
        li = await make_member(session, community, name="李阿姨")
        li.phone = MOBILE
    async with db.session() as session:
        rows = (await session.exec(text("SELECT id, phone, phone_index FROM person"))).all()
        index = {row[0]: row[2] for row in rows}
        assert index[xu.id] == index[li.id] and len(index[xu.id]) == 64
        assert MOBILE not in index[xu.id]
        assert index[xu.id] != crypto.PhoneCipher(crypto.new_key()).index(MOBILE)  # keyed
        found = await find_residents(
            session, community_id=community.id or 0, query="一三八一二三四五六七八"
        )
        assert sorted(p.full_name for p, _m in found) == ["李阿姨", "老许"]
        person = await session.get(Person, li.id)
        assert person is not None
        person.phone = None  # a forgotten phone leaves no index behind
    async with db.session() as session:
        assert (await session.get(Person, li.id)).phone_index is None  # type: ignore[union-attr]
        found = await find_residents(session, community_id=community.id or 0, query=MOBILE)
        assert [p.full_name for p, _m in found] == ["老许"]


async def test_the_search_by_phone_reads_no_phone(db: Database, clock: FakeClock) -> None:
    """The lookup is one equality on the index: it never decrypts the residents' phones."""
    community = await make_community(db, clock)
    async with db.session() as session:
        for n in range(5):
            member = await make_member(session, community, name=f"居民{n}")
            member.phone = f"1391234567{n}"
    opened: list[str] = []
    cipher = db.phone_cipher
    assert cipher is not None
    real_open = cipher.open

    def counting_open(sealed: str) -> str:
        opened.append(sealed)
        return real_open(sealed)

    cipher.open = counting_open  # type: ignore[method-assign]
    async with db.session() as session:
        statement = select(Person.id).where(Person.phone_index == cipher.index("13912345673"))  # type: ignore[call-overload]
        assert len((await session.exec(statement)).all()) == 1
        found = await find_residents(session, community_id=community.id or 0, query="13912345673")
    assert [p.full_name for p, _m in found] == ["居民3"]
    assert len(opened) == 1  # only the one resident found is loaded (and so opened)


async def test_the_migration_fills_the_index_of_existing_phones(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = MOBILE
    await migrate.downgrade(db, "i22_verified_households")
    async with db.engine.connect() as conn:
        columns = await conn.run_sync(lambda c: inspect(c).get_columns("person"))
    assert "phone_index" not in {c["name"] for c in columns}
    await migrate.upgrade(db)  # the key is at hand: the rows are indexed as the column comes
    async with db.session() as session:
        found = await find_residents(session, community_id=community.id or 0, query="138 1234 5678")
        assert [p.full_name for p, _m in found] == ["老许"]
    assert await migrate.drift(db) == []


async def test_without_the_key_the_start_fills_the_index_later(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = MOBILE
    await migrate.downgrade(db, "i22_verified_households")
    keyless = Database(db.url, schema=db.schema)
    try:
        await migrate.upgrade(keyless)
    finally:
        await keyless.dispose()
    async with db.session() as session:
        assert not await find_residents(session, community_id=community.id or 0, query=MOBILE)
        assert db.phone_cipher is not None
        assert await crypto.reseal_phones(session, db.phone_cipher) == 1  # what start-up runs
    async with db.session() as session:
        found = await find_residents(session, community_id=community.id or 0, query=MOBILE)
        assert [p.full_name for p, _m in found] == ["老许"]


async def test_rotating_the_key_rekeys_the_index(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = MOBILE
    new = crypto.new_key()
    db.set_phone_key(f"{new},{PHONE_KEY}")
    async with db.session() as session:
        assert await crypto.reseal_phones(session, db.phone_cipher) == 1  # type: ignore[arg-type]
    db.set_phone_key(new)
    async with db.session() as session:
        found = await find_residents(session, community_id=community.id or 0, query=MOBILE)
        assert [p.full_name for p, _m in found] == ["老许"]
