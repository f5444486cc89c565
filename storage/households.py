"""Households: a campaign's list as staff give it (typed lines: room, owner, floor area in m²,
own space occupied; or a CSV file saved from Excel, checked line by line), floor areas as stored
(in dm², exact), and which households the community has verified.

A household is verified, and so votes from the phone, only when the community confirmed who
belongs to it: a worker checked it (at the door, from the household list) or the resident
redeemed a single-use household code the community printed for it. What someone types or picks
in /profile is a claim, never proof. Every confirmation is a line of `household_event`; undoing
one (storage/household_checks.py) is another. Staff never vote as residents: the building a worker
serves is not their home. Used by storage/consent.py and consent_votes.py.
"""

from __future__ import annotations

import csv
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import join_community
from storage.models import (
    STAFF_ROLES,
    Building,
    Community,
    ConsentCampaign,
    HouseholdCode,
    HouseholdEvent,
    Membership,
    Person,
    Role,
    Unit,
    VerifiedHome,
)

MAX_ROOM = 50
MAX_OWNER = 200
MAX_AREA = Decimal(10_000)
YES = {"1", "y", "yes", "true", "x", "是", "有", "占用", "√", "✓"}
NO = {"", "0", "n", "no", "false", "否", "无", "不"}
HEADER_WORDS = {"room", "房号", "室号", "房间", "户号", "门牌"}


@dataclass(frozen=True)
class HouseholdRow:
    room: str
    owner_name: str | None
    area: Decimal | None
    flagged: bool | None  # None: the column was left out (an existing flag is kept)


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str  # a msgid, translated where shown


@dataclass
class ParsedRows:
    rows: list[HouseholdRow] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)


# Reasons (msgids, marked with N_ in handlers/council/campaigns.py where they are translated).
BAD_NO_ROOM = "no room number"
BAD_ROOM_TOO_LONG = "room number too long"
BAD_AREA = "floor area is not a number of m² (up to two decimals)"
BAD_FLAG = "the last column must be yes or no (own space occupied)"
BAD_COLUMNS = "too many columns"
BAD_DUPLICATE = "this room appears twice"


def parse_area(raw: str) -> Decimal | None:
    """ "85.5", "85.5㎡", "85.5 m2", "85.5平米" -> Decimal("85.5"); "" -> None; else ValueError."""
    text = raw.strip().lower()
    for unit in ("平方米", "平米", "㎡", "m²", "m2", "sqm"):
        text = text.removesuffix(unit).strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite() or value <= 0 or value > MAX_AREA:
        raise ValueError(raw)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(raw)
    return value


def _split(line: str) -> list[str]:
    if any(sep in line for sep in (",", "，", "\t", ";", "；")):
        return [cell.strip() for cell in re.split(r"[,，\t;；]", line)]
    return line.split()


def _row(cells: list[str]) -> HouseholdRow | str:
    cells = [c.strip() for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    if not cells or not cells[0]:
        return BAD_NO_ROOM
    if len(cells) > 4:
        return BAD_COLUMNS
    room = cells[0]
    if len(room) > MAX_ROOM:
        return BAD_ROOM_TOO_LONG
    owner = cells[1][:MAX_OWNER] if len(cells) > 1 and cells[1] else None
    try:
        area = parse_area(cells[2]) if len(cells) > 2 else None
    except ValueError:
        return BAD_AREA
    flag = cells[3].lower() if len(cells) > 3 else None
    if flag is not None and flag not in YES and flag not in NO:
        return BAD_FLAG
    flagged = None if flag is None else flag in YES
    return HouseholdRow(room=room, owner_name=owner, area=area, flagged=flagged)


def _collect(numbered: Iterable[tuple[int, str, list[str]]]) -> ParsedRows:
    result = ParsedRows()
    seen: dict[str, int] = {}
    for number, text, cells in numbered:
        if not any(c.strip() for c in cells) or text.lstrip().startswith("#"):
            continue
        if not result.rows and not result.bad and cells[0].strip().lower() in HEADER_WORDS:
            continue  # a header line
        parsed = _row(cells)
        if isinstance(parsed, str):
            result.bad.append(BadLine(number, text.strip(), parsed))
        elif parsed.room in seen:
            result.bad.append(BadLine(number, text.strip(), BAD_DUPLICATE))
        else:
            seen[parsed.room] = number
            result.rows.append(parsed)
    return result


def parse_household_lines(text: str) -> ParsedRows:
    """Households typed one per line: "room, owner, area, occupied" (commas, Chinese commas,
    tabs or spaces); only the room is required. Bad lines are reported, good ones kept."""
    return _collect((n, line, _split(line)) for n, line in enumerate(text.splitlines(), start=1))


def decode_csv(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GB18030 (Excel on Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def parse_household_csv(data: bytes) -> ParsedRows:
    """A CSV file of households (same columns as typed lines; a header line is skipped)."""
    text = decode_csv(data)
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t，")
    except csv.Error:
        dialect = csv.excel
    lines = text.splitlines()
    reader = csv.reader(lines, dialect)
    return _collect((n, lines[n - 1], cells) for n, cells in enumerate(reader, start=1))


def to_dm2(area: Decimal | None) -> int | None:
    return None if area is None else int(area * 100)


def from_dm2(value: int | None) -> Decimal | None:
    return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


# --- verified households ----------------------------------------------------------------------

VIA_WORKER = "worker"
VIA_CODE = "code"
VERIFIED, UNDONE = "verified", "undone"  # the kinds of household_event
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off paper and typed
CODE_LENGTH = 10  # 50 bits: not guessable, short enough to type
LINK_PREFIX = "home-"  # /start home-<code>: the deep link printed with the code


class Refusal(StrEnum):
    """Why a vote or a verification is refused (a msgid-like key the handlers translate)."""

    STAFF = "staff"  # a worker is not a resident of the building they serve
    NOT_VERIFIED = "not_verified"  # no household confirmed for this person
    OTHER_SCOPE = "other_scope"  # their verified household is in another building or unit
    OTHER_HOUSEHOLD = "other_household"  # a household that is not theirs (or not on the list)
    UNKNOWN_CODE = "unknown_code"
    USED_CODE = "used_code"
    NOT_RESIDENT = "not_resident"  # not an active resident of the community


class HouseholdError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


def normalise_room(room: str) -> str:
    """ "301室", " 301 ", "３０１" all mean room 301."""
    text = room.strip().translate({ord(c): ord(c) - 0xFEE0 for c in "０１２３４５６７８９"})
    return text.removesuffix("室").removesuffix("号").strip().lower()


def normalise_code(typed: str) -> str:
    """What someone typed or scanned, as stored: "k7qm-3xpa 9b" -> "K7QM3XPA9B"."""
    text = typed.strip()
    text = text.removeprefix(LINK_PREFIX)
    return re.sub(r"[\s\-_]", "", text).upper()[:64]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def may_vote_as_resident(role: str | Role) -> bool:
    """Staff vote for nobody from their phone: they record others' votes, with evidence."""
    return Role(role) not in STAFF_ROLES


def home_in_scope(home: VerifiedHome, campaign: ConsentCampaign) -> bool:
    """A verified household lies in the campaign's building (and unit, when it has one)."""
    if home.community_id != campaign.community_id or home.building_id != campaign.building_id:
        return False
    return campaign.unit_id is None or home.unit_id == campaign.unit_id


def chat_vote_refusal(
    member: Membership | None,
    home: VerifiedHome | None,
    campaign: ConsentCampaign,
    room: str | None,
) -> Refusal | None:
    """May this person vote from the phone for the household `room` of `campaign`? None: yes.
    Only an active resident (not staff) whose verified household is that very room."""
    if member is None or not member.active or member.community_id != campaign.community_id:
        return Refusal.NOT_RESIDENT
    if not may_vote_as_resident(member.role):
        return Refusal.STAFF
    if home is None or home.person_id != member.person_id:
        return Refusal.NOT_VERIFIED
    if not home_in_scope(home, campaign):
        return Refusal.OTHER_SCOPE
    if room is None or normalise_room(room) != normalise_room(home.room):
        return Refusal.OTHER_HOUSEHOLD
    return None


async def verified_home(
    session: AsyncSession, *, person_id: int, community_id: int
) -> VerifiedHome | None:
    return (
        await session.exec(
            select(VerifiedHome).where(
                VerifiedHome.person_id == person_id, VerifiedHome.community_id == community_id
            )
        )
    ).first()


async def _check_place(
    session: AsyncSession, community_id: int, building_id: int, unit_id: int | None
) -> None:
    building = await session.get(Building, building_id)
    if building is None or building.community_id != community_id:
        raise HouseholdError(Refusal.OTHER_HOUSEHOLD)
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None or unit.building_id != building_id:
            raise HouseholdError(Refusal.OTHER_HOUSEHOLD)


async def _confirm(
    session: AsyncSession,
    member: Membership,
    *,
    building_id: int,
    unit_id: int | None,
    room: str,
    via: str,
    by_id: int | None,
    code_id: int | None,
    now: datetime,
) -> VerifiedHome:
    """Record the member's confirmed household (replacing an earlier one); their profile's
    home follows it, so notices and /profile say the same."""
    if not member.active:
        raise HouseholdError(Refusal.NOT_RESIDENT)
    if not may_vote_as_resident(member.role):
        raise HouseholdError(Refusal.STAFF)
    room = room.strip()[:50]
    if not room:
        raise HouseholdError(Refusal.OTHER_HOUSEHOLD)
    await _check_place(session, member.community_id, building_id, unit_id)
    home = await verified_home(
        session, person_id=member.person_id, community_id=member.community_id
    )
    if home is None:
        home = VerifiedHome(
            person_id=member.person_id,
            community_id=member.community_id,
            building_id=building_id,
            room=room,
            via=via,
            verified_at=now,
        )
    home.building_id, home.unit_id, home.room = building_id, unit_id, room
    home.via, home.verified_by_id, home.code_id, home.verified_at = via, by_id, code_id, now
    session.add(home)
    member.building_id, member.unit_id, member.room = building_id, unit_id, room
    session.add(member)
    session.add(
        HouseholdEvent(
            community_id=member.community_id,
            person_id=member.person_id,
            kind=VERIFIED,
            building_id=building_id,
            unit_id=unit_id,
            room=room,
            via=via,
            by_id=by_id if via == VIA_WORKER else None,
            at=now,
        )
    )
    await session.flush()
    return home


async def verify_by_worker(
    session: AsyncSession,
    member: Membership,
    *,
    worker: Membership,
    building_id: int,
    unit_id: int | None,
    room: str,
    now: datetime,
) -> VerifiedHome:
    """A worker confirms a resident's household (they checked it at the door or know them)."""
    if worker.community_id != member.community_id or not worker.active:
        raise HouseholdError(Refusal.NOT_RESIDENT)
    if may_vote_as_resident(worker.role):
        raise HouseholdError(Refusal.STAFF)  # only staff verify
    return await _confirm(
        session,
        member,
        building_id=building_id,
        unit_id=unit_id,
        room=room,
        via=VIA_WORKER,
        by_id=worker.person_id,
        code_id=None,
        now=now,
    )


async def codes_for(
    session: AsyncSession,
    *,
    community_id: int,
    building_id: int,
    unit_id: int | None,
    rooms: Sequence[str],
    created_by_id: int | None,
    now: datetime,
) -> list[HouseholdCode]:
    """An unused code for each room (the one already printed and still unused, or a new one):
    printing the sheet again reissues nothing that still works."""
    unused = (
        await session.exec(
            select(HouseholdCode).where(
                HouseholdCode.community_id == community_id,
                HouseholdCode.building_id == building_id,
                col(HouseholdCode.used_at).is_(None),
            )
        )
    ).all()
    by_room = {(c.unit_id, normalise_room(c.room)): c for c in unused}
    result = []
    for room in rooms:
        code = by_room.get((unit_id, normalise_room(room)))
        if code is None:
            code = HouseholdCode(
                token=new_code(),
                community_id=community_id,
                building_id=building_id,
                unit_id=unit_id,
                room=room,
                created_by_id=created_by_id,
                created_at=now,
            )
            session.add(code)
        result.append(code)
    await session.flush()
    return result


@dataclass(frozen=True)
class Redeemed:
    home: VerifiedHome
    membership: Membership
    community: Community
    joined: bool  # they became a member of the community with this code


async def redeem_code(
    session: AsyncSession, *, typed: str, person: Person, now: datetime
) -> Redeemed:
    """A resident uses a household code (typed, or the printed link): they become a verified
    member of its household, joining the community first if needed. Each code works once."""
    code = (
        await session.exec(
            select(HouseholdCode).where(HouseholdCode.token == normalise_code(typed))
        )
    ).first()
    if code is None:
        raise HouseholdError(Refusal.UNKNOWN_CODE)
    if code.used_at is not None:
        raise HouseholdError(Refusal.USED_CODE)
    community = await session.get(Community, code.community_id)
    assert community is not None and person.id is not None
    member = (
        await session.exec(
            select(Membership).where(
                Membership.person_id == person.id, Membership.community_id == code.community_id
            )
        )
    ).first()
    joined = False
    if member is None or not member.active:
        member = (
            await join_community(
                session, person=person, community=community, building_id=code.building_id
            )
        ).membership
        joined = True
        assert member is not None
    home = await _confirm(
        session,
        member,
        building_id=code.building_id,
        unit_id=code.unit_id,
        room=code.room,
        via=VIA_CODE,
        by_id=code.created_by_id,
        code_id=code.id,
        now=now,
    )
    # Used in the statement that checks it: two people racing for one code, one gets it.
    claimed = await session.exec(
        update(HouseholdCode)
        .where(col(HouseholdCode.id) == code.id, col(HouseholdCode.used_at).is_(None))
        .values(used_at=now, used_by_id=person.id)
    )
    if claimed.rowcount == 0:
        raise HouseholdError(Refusal.USED_CODE)
    return Redeemed(home=home, membership=member, community=community, joined=joined)


async def verified_members(
    session: AsyncSession, campaign: ConsentCampaign
) -> dict[str, list[int]]:
    """The verified members of each household in the campaign's scope (normalised room ->
    person ids): active residents, never staff."""
    query = (
        select(VerifiedHome, Membership)
        .join(
            Membership,
            (col(Membership.person_id) == VerifiedHome.person_id)
            & (col(Membership.community_id) == VerifiedHome.community_id),
        )
        .where(
            VerifiedHome.community_id == campaign.community_id,
            VerifiedHome.building_id == campaign.building_id,
            col(Membership.active).is_(True),
            col(Membership.role).not_in([str(r) for r in STAFF_ROLES]),
        )
        .order_by(col(VerifiedHome.id))
    )
    members: dict[str, list[int]] = {}
    for home, _member in (await session.exec(query)).all():
        if home_in_scope(home, campaign):
            members.setdefault(normalise_room(home.room), []).append(home.person_id)
    return members
