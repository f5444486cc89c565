"""Residents' homes and contacts: buildings and units to pick from, a phone number, the
reusable link printed on each building's poster, and finding a resident for staff who log an
issue on their behalf (by name, building or phone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.communities import create_invite
from storage.crypto import blind_index, session_dialect
from storage.db import INSERTS
from storage.fast.direct import Direct
from storage.models import (
    STAFF_ROLES,
    Building,
    ContactLook,
    InviteLink,
    IssueMessage,
    Membership,
    Person,
    Role,
    Unit,
)
from storage.phones import parse_phone


async def buildings_of(session: AsyncSession, community_id: int) -> list[Building]:
    """A community's buildings in the order its staff set (then by name): the one list every
    menu, poster and vote shows."""
    rows = await session.exec(
        select(Building)
        .where(Building.community_id == community_id)
        .order_by(col(Building.sort_order), col(Building.name), col(Building.id))
    )
    return list(rows.all())


async def units_of(session: AsyncSession, building_id: int) -> list[Unit]:
    rows = await session.exec(
        select(Unit)
        .where(Unit.building_id == building_id)
        .order_by(col(Unit.sort_order), col(Unit.id))
    )
    return list(rows.all())


async def add_unit(
    session: AsyncSession, *, building_id: int, name: str, sort_order: int = 0
) -> Unit:
    unit = Unit(building_id=building_id, name=name.strip()[:100], sort_order=sort_order)
    session.add(unit)
    await session.flush()
    return unit


class NotInCommunity(ValueError):
    """A building or unit id that does not belong where it was offered (a forged press)."""


async def set_home(
    session: AsyncSession,
    member: Membership,
    *,
    building_id: int | None,
    unit_id: int | None = None,
) -> None:
    """Where a resident lives; ids are checked against their community (buttons are forgeable)."""
    if building_id is not None:
        building = await session.get(Building, building_id)
        if building is None or building.community_id != member.community_id:
            raise NotInCommunity(f"building {building_id}")
    if unit_id is not None:
        unit = await session.get(Unit, unit_id)
        if unit is None or building_id is None or unit.building_id != building_id:
            raise NotInCommunity(f"unit {unit_id}")
    member.building_id, member.unit_id = building_id, unit_id
    session.add(member)
    await session.flush()


def normalise_phone(raw: str) -> str | None:
    """The number as stored (storage/phones.py: 13812345678 for +86 138-1234-5678, + and the
    digits for another country's); None when the text is not a phone number."""
    return parse_phone(raw)


async def set_phone(session: AsyncSession, person: Person, phone: str) -> None:
    """The number a person shared from Telegram (international, with or without its +)."""
    person.phone = parse_phone(phone, shared=True) or phone[:64]
    session.add(person)
    await session.flush()


async def building_link(
    session: AsyncSession,
    *,
    community_id: int,
    building_id: int,
    now: datetime,
    created_by_id: int | None = None,
) -> InviteLink:
    """The building's reusable resident link. Posters already on the wall must keep working, so
    it is made once and then reused, never replaced."""
    existing = (
        await session.exec(
            select(InviteLink)
            .where(
                InviteLink.community_id == community_id,
                InviteLink.building_id == building_id,
                InviteLink.role == Role.RESIDENT,
                col(InviteLink.max_uses).is_(None),
                col(InviteLink.expires_at).is_(None),
                col(InviteLink.revoked_at).is_(None),
            )
            .order_by(col(InviteLink.id))
        )
    ).first()
    if existing is not None:
        return existing
    return await create_invite(
        session,
        community_id=community_id,
        role=Role.RESIDENT,
        now=now,
        created_by_id=created_by_id,
        building_id=building_id,
    )


async def find_residents(
    session: AsyncSession, *, community_id: int, query: str, limit: int = 8
) -> list[tuple[Person, Membership]]:
    """Residents of the community whose name or building matches what staff typed, or whose
    phone is the number typed (however it is written).

    Phones are encrypted at rest (storage/crypto.py); the number typed is found by its blind
    index, one indexed equality: a whole number finds its owner, a few digits find nobody (they
    would let anyone enumerate the residents' phones).
    """
    text = query.strip()
    if not text:
        return []
    residents = (
        select(Person, Membership)
        .join(Membership, col(Membership.person_id) == Person.id)
        .outerjoin(Building, col(Building.id) == Membership.building_id)
        .where(
            Membership.community_id == community_id,
            col(Membership.active).is_(True),
            col(Membership.role).not_in([str(r) for r in STAFF_ROLES]),
        )
    )
    by_name_or_building = await session.exec(
        residents.where(
            or_(
                func.lower(col(Person.full_name)).contains(text.lower()),
                func.lower(col(Building.name)) == text.lower(),
            )
        )
    )
    found = {person.id: (person, member) for person, member in by_name_or_building.all()}
    number = parse_phone(text)
    index = blind_index(session_dialect(session), number) if number else None
    if index is not None:
        with_phone = await session.exec(residents.where(col(Person.phone_index) == index))
        for person, member in with_phone.all():
            found.setdefault(person.id, (person, member))
    ordered = sorted(found.values(), key=lambda pm: (pm[0].full_name, pm[0].id or 0))
    return ordered[:limit]


LOOK_VIA_LOG = "log"  # a look at a phone in /log's search for a resident


async def record_phone_look(
    session: AsyncSession,
    *,
    community_id: int,
    person_id: int,
    actor_id: int,
    via: str,
    now: datetime,
) -> ContactLook:
    """A worker revealed a resident's phone outside any issue: who, whose, when (a look from
    an issue card is that issue's `contact_shown` event, storage/staff.py)."""
    look = ContactLook(
        community_id=community_id, person_id=person_id, actor_id=actor_id, via=via, at=now
    )
    session.add(look)
    await session.flush()
    return look


async def phone_looks(session: AsyncSession, *, person_id: int) -> list[ContactLook]:
    """Every recorded look at a person's phone outside an issue, oldest first."""
    rows = await session.exec(
        select(ContactLook)
        .where(ContactLook.person_id == person_id)
        .order_by(col(ContactLook.at), col(ContactLook.id))
    )
    return list(rows.all())


async def register_offline_resident(
    session: AsyncSession,
    *,
    community_id: int,
    name: str,
    phone: str | None,
    building_id: int | None,
    unit_id: int | None = None,
) -> Person:
    """A resident who reached the community by phone or in person and has no Telegram: known
    by name and phone from now on, so the next call finds them."""
    person = Person(full_name=name.strip()[:200], phone=parse_phone(phone or "") or None)
    session.add(person)
    await session.flush()
    assert person.id is not None
    session.add(
        Membership(
            person_id=person.id,
            community_id=community_id,
            role=Role.RESIDENT,
            building_id=building_id,
            unit_id=unit_id,
        )
    )
    await session.flush()
    return person


async def remember_issue_message(
    session: AsyncSession, *, chat_id: int, message_id: int, issue_id: int, now: datetime
) -> None:
    """Note that this bot message speaks of the issue (a reply to it will add to the issue);
    a message already noted keeps its issue. One statement: every report and every notice
    sent runs it."""
    await _REMEMBER.execute(
        session,
        {
            "chat_id": chat_id,
            "message_id": message_id,
            "issue_id": issue_id,
            "created_at": now,
        },
    )


def _remember_statement(insert: Any) -> Any:
    return (
        insert(IssueMessage)
        .values(
            chat_id=bindparam("chat_id"),
            message_id=bindparam("message_id"),
            issue_id=bindparam("issue_id"),
            created_at=bindparam("created_at"),
        )
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
    )


_REMEMBER = Direct({dialect: _remember_statement(insert) for dialect, insert in INSERTS.items()})


async def issue_of_message(session: AsyncSession, *, chat_id: int, message_id: int) -> int | None:
    row = await session.get(IssueMessage, (chat_id, message_id))
    return row.issue_id if row else None
