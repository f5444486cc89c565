"""Communities, their buildings, and the deep links that let people join them.

Joining is always through a link (a row in `invite_link`) or, for residents, by choosing a
community in /start. Links that grant a staff role are single-use and expire; community and
building links for residents are reusable and go on posters.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Building, Community, InviteLink, Membership, Person, Role

ROLE_RANK = {
    Role.RESIDENT: 0,
    Role.VOLUNTEER: 1,
    Role.BUILDING_LEAD: 2,
    Role.WORKER: 3,
    Role.SECRETARY: 4,
}


async def create_community(
    session: AsyncSession, *, name: str, timezone: str, default_locale: str, now: datetime
) -> Community:
    name = name.strip()
    if not name:
        raise ValueError("a community needs a name")
    community = Community(
        name=name[:200], timezone=timezone, default_locale=default_locale, created_at=now
    )
    session.add(community)
    await session.flush()
    return community


async def list_communities(session: AsyncSession) -> list[Community]:
    return list((await session.exec(select(Community).order_by(col(Community.id)))).all())


async def add_building(
    session: AsyncSession, *, community_id: int, name: str, sort_order: int = 0
) -> Building:
    building = Building(community_id=community_id, name=name.strip()[:100], sort_order=sort_order)
    session.add(building)
    await session.flush()
    return building


def _new_token() -> str:
    # 16 url-safe chars (96 bits): short enough for a QR code, fits Telegram's 64-char payload.
    return secrets.token_urlsafe(12)


async def create_invite(
    session: AsyncSession,
    *,
    community_id: int,
    role: Role,
    now: datetime,
    created_by_id: int | None = None,
    building_id: int | None = None,
    ttl: timedelta | None = None,
) -> InviteLink:
    """A link granting `role`; staff roles are single-use, resident links are reusable."""
    single_use = role in (Role.SECRETARY, Role.WORKER)
    link = InviteLink(
        token=_new_token(),
        community_id=community_id,
        role=role,
        building_id=building_id,
        created_by_id=created_by_id,
        max_uses=1 if single_use else None,
        expires_at=now + ttl if ttl else None,
        created_at=now,
    )
    session.add(link)
    await session.flush()
    return link


async def new_secretary_link(
    session: AsyncSession, *, community_id: int, now: datetime, ttl: timedelta
) -> tuple[InviteLink, int]:
    """A fresh single-use secretary link that works for `ttl`, and how many older ones it
    revoked: every secretary link of the community not yet used stops working, so a link
    printed once and lost (or seen by someone) is worth nothing once a new one is made."""
    revoked = await session.exec(
        update(InviteLink)
        .where(
            col(InviteLink.community_id) == community_id,
            col(InviteLink.role) == str(Role.SECRETARY),
            col(InviteLink.revoked_at).is_(None),
            (col(InviteLink.max_uses).is_(None))
            | (col(InviteLink.use_count) < col(InviteLink.max_uses)),
        )
        .values(revoked_at=now)
    )
    link = await create_invite(
        session, community_id=community_id, role=Role.SECRETARY, now=now, ttl=ttl
    )
    return link, int(revoked.rowcount or 0)


class RedeemOutcome(StrEnum):
    JOINED = "joined"
    ALREADY_MEMBER = "already_member"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Redeemed:
    outcome: RedeemOutcome
    community: Community | None = None
    membership: Membership | None = None


async def redeem_invite(
    session: AsyncSession, *, token: str, person: Person, now: datetime
) -> Redeemed:
    """Use a deep-link token. A link never lowers a role someone already has."""
    link = (await session.exec(select(InviteLink).where(InviteLink.token == token))).first()
    if link is None:
        return Redeemed(RedeemOutcome.UNKNOWN)
    if link.revoked_at is not None:
        return Redeemed(RedeemOutcome.REVOKED)
    if link.expires_at is not None and link.expires_at <= now:
        return Redeemed(RedeemOutcome.EXPIRED)
    if link.max_uses is not None and link.use_count >= link.max_uses:
        return Redeemed(RedeemOutcome.USED)
    community = await session.get(Community, link.community_id)
    assert community is not None and community.id is not None and person.id is not None
    result = await join_community(
        session,
        person=person,
        community=community,
        role=Role(link.role),
        building_id=link.building_id,
    )
    if result.outcome is RedeemOutcome.JOINED:
        # Count the use in the same statement that checks it, so two people racing for a
        # single-use link cannot both get it.
        stmt = (
            update(InviteLink)
            .where(col(InviteLink.id) == link.id)
            .where(
                (col(InviteLink.max_uses).is_(None))
                | (col(InviteLink.use_count) < col(InviteLink.max_uses))
            )
            .values(use_count=col(InviteLink.use_count) + 1)
        )
        claimed = await session.exec(stmt)
        if claimed.rowcount == 0:
            raise LinkRaceLost
    return result


class LinkRaceLost(Exception):
    """Another person used the single-use link in the same instant; roll back and say so."""


async def join_community(
    session: AsyncSession,
    *,
    person: Person,
    community: Community,
    role: Role = Role.RESIDENT,
    building_id: int | None = None,
) -> Redeemed:
    existing = (
        await session.exec(
            select(Membership).where(
                Membership.person_id == person.id, Membership.community_id == community.id
            )
        )
    ).first()
    person.current_community_id = community.id
    session.add(person)
    if existing is not None and existing.active:
        changed = False
        if ROLE_RANK[Role(role)] > ROLE_RANK[Role(existing.role)]:
            existing.role = role
            changed = True
        if building_id is not None and existing.building_id != building_id:
            existing.building_id = building_id
            existing.unit_id = None
            changed = True
        session.add(existing)
        await session.flush()
        outcome = RedeemOutcome.JOINED if changed else RedeemOutcome.ALREADY_MEMBER
        return Redeemed(outcome, community, existing)
    if existing is not None:  # an inactive membership is revived, with the new role only
        existing.active = True
        existing.role = role
        existing.building_id = building_id
        member = existing
    else:
        assert person.id is not None and community.id is not None
        member = Membership(
            person_id=person.id, community_id=community.id, role=role, building_id=building_id
        )
    session.add(member)
    await session.flush()
    return Redeemed(RedeemOutcome.JOINED, community, member)
