"""Whose Telegram command menu differs from a resident's: a staff member in their private chat
(by their role) and the staff groups (bot/menus.py publishes those at start). Only who and which
role; the commands themselves are in handlers/shared/commands.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Community, Membership, Role


@dataclass(frozen=True)
class GroupMenu:
    chat_id: int
    locale: str  # the community's


def menu_role(roles: list[Role]) -> Role | None:
    """The menu a person with these roles sees in their private chat: the secretary's, a
    worker's, or (None) a resident's."""
    if Role.SECRETARY in roles:
        return Role.SECRETARY
    if Role.WORKER in roles:
        return Role.WORKER
    return None


async def role_of_person(session: AsyncSession, person_id: int) -> Role | None:
    rows = await session.exec(
        select(Membership.role).where(
            Membership.person_id == person_id, col(Membership.active).is_(True)
        )
    )
    return menu_role([Role(r) for r in rows.all()])


async def group_menus(session: AsyncSession) -> list[GroupMenu]:
    rows = await session.exec(
        select(Community.staff_chat_id, Community.default_locale).where(
            col(Community.staff_chat_id).is_not(None)
        )
    )
    return [GroupMenu(chat_id=c, locale=loc) for c, loc in rows.all() if c is not None]
