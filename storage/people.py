"""People and their roles: who someone is, and what they may do in which community."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.chat_state import CHAT_STATE, remember
from storage.fast.direct import Direct, adopt, insert_new
from storage.models import STAFF_ROLES, Community, Membership, Person, Role


@dataclass(frozen=True)
class TelegramIdentity:
    """The few facts about a Telegram user the notebook keeps (no Telegram import here)."""

    user_id: int
    full_name: str
    username: str | None
    language_code: str | None


PERSON = Person.metadata.tables["person"]
MEMBERSHIP = Membership.metadata.tables["membership"]
COMMUNITY = Community.metadata.tables["community"]
# Every update asks first: who is this, where do they act, and where are they in a conversation
# in this chat. One query, built once and run directly (storage/fast/direct.py): through the ORM it
# cost more than anything else an update did.
_IDENTIFY = Direct(
    select(*PERSON.c, *MEMBERSHIP.c, *COMMUNITY.c, *CHAT_STATE.c)
    .select_from(PERSON)
    .outerjoin(
        MEMBERSHIP,
        and_(MEMBERSHIP.c.person_id == PERSON.c.id, MEMBERSHIP.c.active.is_(True)),
    )
    .outerjoin(COMMUNITY, COMMUNITY.c.id == MEMBERSHIP.c.community_id)
    .outerjoin(
        CHAT_STATE,
        and_(
            CHAT_STATE.c.chat_id == bindparam("chat_id"),
            CHAT_STATE.c.user_id == PERSON.c.telegram_user_id,
        ),
    )
    .where(PERSON.c.telegram_user_id == bindparam("telegram_user_id"))
    .order_by(MEMBERSHIP.c.created_at)
)
# where each table's columns sit in a row
_M = len(PERSON.c)
_C = _M + len(MEMBERSHIP.c)
_S = _C + len(COMMUNITY.c)


async def upsert_person(
    session: AsyncSession, identity: TelegramIdentity, *, in_private_chat: bool = True
) -> Person:
    """The Person behind a Telegram user, created on first contact, refreshed on each."""
    person, _acting_in = await identify(session, identity, in_private_chat=in_private_chat)
    return person


async def identify(
    session: AsyncSession,
    identity: TelegramIdentity,
    *,
    in_private_chat: bool = True,
    chat_id: int | None = None,
) -> tuple[Person, tuple[Membership, Community] | None]:
    """The Person behind a Telegram user (created on first contact, refreshed on each) and the
    community they act in (`current_membership`), in one query: what every update needs first.
    With `chat_id`, the same query reads their conversation state there (storage/chat_state.py
    keeps it for the update)."""
    params = {"telegram_user_id": identity.user_id, "chat_id": chat_id}
    rows = await _IDENTIFY.rows(session, params)
    if rows and chat_id is not None:
        state = rows[0][_S:]
        remember(
            session,
            chat_id=chat_id,
            user_id=identity.user_id,
            row=state if state[0] is not None else None,
        )
    seen: dict[str, Any] = {
        "full_name": identity.full_name[:200],
        "username": identity.username,
        "telegram_language_code": identity.language_code,
    }
    if in_private_chat:  # they wrote to the bot itself, so they have not blocked it
        seen["unreachable_since"] = None
    if not rows:  # first contact: inserted now for its id, past the ORM's flush
        person = await insert_new(session, Person, {"telegram_user_id": identity.user_id, **seen})
        return person, None
    person = adopt(session, Person, rows[0][:_M])
    # Only what changed is set: an attribute set, even to the value it had, makes the commit
    # compare the whole person with what was read (most updates change nothing here); changes
    # to a known person are flushed with the update.
    for name, value in seen.items():
        if getattr(person, name) != value:
            setattr(person, name, value)
    held = [
        (adopt(session, Membership, row[_M:_C]), adopt(session, Community, row[_C:_S]))
        for row in rows
        if row[_M] is not None and row[_C] is not None  # an active membership, its community
    ]
    return person, _acting(held, person.current_community_id)


async def set_locale(session: AsyncSession, person: Person, locale: str) -> None:
    person.locale = locale
    session.add(person)
    await session.flush()


async def membership(
    session: AsyncSession, *, person_id: int, community_id: int
) -> Membership | None:
    return (
        await session.exec(
            select(Membership).where(
                Membership.person_id == person_id,
                Membership.community_id == community_id,
                col(Membership.active).is_(True),
            )
        )
    ).first()


async def memberships(session: AsyncSession, person_id: int) -> list[tuple[Membership, Community]]:
    rows = await session.exec(
        select(Membership, Community)
        .join(Community, col(Community.id) == Membership.community_id)
        .where(Membership.person_id == person_id, col(Membership.active).is_(True))
        .order_by(col(Membership.created_at))
    )
    return list(rows.all())


async def current_membership(
    session: AsyncSession, person: Person
) -> tuple[Membership, Community] | None:
    """The community a person is acting in: the one they chose last, else their first."""
    return _acting(await memberships(session, person.id or 0), person.current_community_id)


def _acting(
    held: list[tuple[Membership, Community]], chosen: int | None
) -> tuple[Membership, Community] | None:
    for m, c in held:
        if c.id == chosen:
            return m, c
    return held[0] if held else None


async def role_in(session: AsyncSession, *, person_id: int, community_id: int) -> Role | None:
    m = await membership(session, person_id=person_id, community_id=community_id)
    return Role(m.role) if m else None


async def is_staff(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    return await role_in(session, person_id=person_id, community_id=community_id) in STAFF_ROLES


async def is_secretary(session: AsyncSession, *, person_id: int, community_id: int) -> bool:
    role = await role_in(session, person_id=person_id, community_id=community_id)
    return role is Role.SECRETARY


async def mark_unreachable(session: AsyncSession, person: Person, *, now: datetime) -> None:
    """Telegram answered 403: the person blocked the bot. Kept until they write again."""
    if person.unreachable_since is None:
        person.unreachable_since = now
        session.add(person)
        await session.flush()


async def mark_unreachable_by_id(
    session: AsyncSession, person_id: int | None, *, now: datetime
) -> None:
    """`mark_unreachable` for a message sent outside its person's update (the outbox, the
    answers after the commit), which knows them by id; nothing for a person since erased."""
    person = await session.get(Person, person_id) if person_id is not None else None
    if person is not None:
        await mark_unreachable(session, person, now=now)
