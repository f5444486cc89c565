"""Campaign storage rules, tested directly: who belongs to the scope, linking a home by room,
one vote per household changeable only while open and always logged, mediations, corrections."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from storage import consent
from storage.consent import ConsentError, HouseholdRow
from storage.db import Database
from storage.models import (
    Building,
    Channel,
    ConsentRule,
    ConsentVoteLog,
    Membership,
    Role,
    VoteChoice,
)
from tests.factories import FakeClock, make_community, make_member


async def _setup(db: Database, clock: FakeClock):
    community = await make_community(db, clock)
    async with db.session() as session:
        b1, b2 = (await session.exec(select(Building).order_by(Building.id))).all()[:2]  # type: ignore[arg-type]
        assert community.id and b1.id and b2.id
        unit = await consent.unit_named(session, building_id=b1.id, name="2单元")
        campaign = await consent.create_campaign(
            session,
            community_id=community.id,
            building_id=b1.id,
            unit_id=unit.id,
            question="加装电梯？",
            rule=ConsentRule.ART278,
            created_by_id=None,
            now=clock(),
        )
        rows = [
            HouseholdRow("101", "许大爷", Decimal("60.5"), True),
            HouseholdRow("201", None, Decimal("75"), None),
        ]
        await consent.save_households(session, campaign, rows, now=clock())
    return community, b1, b2, unit, campaign


async def test_scope_and_linking_a_home_by_room(db: Database, clock: FakeClock) -> None:
    community, b1, b2, unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        here = await make_member(session, community, building_id=b1.id, name="老许")
        there = await make_member(session, community, building_id=b2.id, name="赵姐")
        unknown = await make_member(session, community, name="无楼栋")
        members = {m.person_id: m for m in (await session.exec(select(Membership))).all()}
        m_here, m_there, m_unknown = members[here.id], members[there.id], members[unknown.id]  # type: ignore[index]
        assert consent.lives_in_scope(m_here, campaign)
        assert not consent.lives_in_scope(m_there, campaign)
        assert not consent.lives_in_scope(m_unknown, campaign)  # building not known: not asked
        other_unit = await consent.unit_named(session, building_id=b1.id or 0, name="1单元")
        m_here.unit_id = other_unit.id
        assert not consent.lives_in_scope(m_here, campaign)  # same building, another unit
        m_here.unit_id = None
        assert await consent.link_home(session, campaign, m_there, "101") is None
        assert await consent.link_home(session, campaign, m_here, "909") is None
        home = await consent.link_home(session, campaign, m_here, "１０１室")
        assert home is not None and home.room == "101"
        assert m_here.room == "101" and m_here.unit_id == unit.id
        # once linked, a resident cannot move themselves to another household
        assert await consent.link_home(session, campaign, m_here, "201") is None
        assert (await consent.household_of(session, campaign, m_here)) == home
        assert set(await consent.residents_in_scope(session, campaign)) == {here.id}


async def test_one_vote_per_household_changeable_while_open_and_logged(
    db: Database, clock: FakeClock
) -> None:
    _community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        home = (await consent.households(session, campaign))[0]
        with pytest.raises(ConsentError):  # a draft takes no votes
            await consent.cast_vote(session, campaign, home, choice=VoteChoice.AGREE, now=clock())
        await consent.open_campaign(session, campaign, now=clock())
        with pytest.raises(ConsentError):
            await consent.open_campaign(session, campaign, now=clock())
        await consent.cast_vote(
            session, campaign, home, choice=VoteChoice.DISAGREE, now=clock(), concerns="噪音"
        )
        clock.advance(days=2)
        await consent.cast_vote(
            session,
            campaign,
            home,
            choice=VoteChoice.AGREE,
            channel=Channel.VISIT,
            recorded_by_id=None,
            now=clock(),
        )
        assert home.choice == VoteChoice.AGREE and home.concerns == "噪音"  # concerns kept
        with pytest.raises(ConsentError):
            await consent.cast_vote(
                session, campaign, home, choice=VoteChoice.AGREE, channel=Channel.PHONE, now=clock()
            )
        await consent.close_campaign(session, campaign, now=clock())
        with pytest.raises(ConsentError):
            await consent.cast_vote(
                session, campaign, home, choice=VoteChoice.DISAGREE, now=clock()
            )
        with pytest.raises(ConsentError):
            await consent.save_households(
                session, campaign, [HouseholdRow("301", None, None, None)], now=clock()
            )
        log = (await session.exec(select(ConsentVoteLog).order_by(ConsentVoteLog.id))).all()  # type: ignore[arg-type]
    assert [(e.previous_choice, e.choice, e.channel) for e in log] == [
        (None, "disagree", "telegram"),
        ("disagree", "agree", "visit"),
    ]


async def test_corrections_keep_votes_and_mediations_name_their_households(
    db: Database, clock: FakeClock
) -> None:
    _community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        await consent.open_campaign(session, campaign, now=clock())
        homes = {h.room: h for h in await consent.households(session, campaign)}
        await consent.cast_vote(
            session, campaign, homes["201"], choice=VoteChoice.AGREE, now=clock()
        )
        saved = await consent.save_households(
            session,
            campaign,
            [
                HouseholdRow("201", "王家", Decimal("75.25"), None),
                HouseholdRow("301", None, None, None),
            ],
            now=clock(),
        )
        assert (saved.added, saved.updated) == (1, 1)
        assert homes["201"].choice == VoteChoice.AGREE and homes["201"].area_dm2 == 7525
        assert homes["101"].own_space_occupied  # untouched by rows that leave the flag out
        with pytest.raises(ConsentError):
            await consent.record_mediation(
                session,
                campaign,
                household_ids=[homes["101"].id or 0],
                parties="",
                positions="x",
                agreement="y",
                reached=True,
                recorded_by_id=None,
                now=clock(),
            )
        with pytest.raises(ConsentError):
            await consent.record_mediation(
                session,
                campaign,
                household_ids=[999_999],
                parties="许大爷",
                positions="噪音",
                agreement="隔音板",
                reached=True,
                recorded_by_id=None,
                now=clock(),
            )
        mediation = await consent.record_mediation(
            session,
            campaign,
            household_ids=[homes["101"].id or 0, homes["201"].id or 0],
            parties="许大爷，王家，谢书记",
            positions="101担心噪音和隐私",
            agreement="加装隔音板和防盗门",
            reached=True,
            recorded_by_id=None,
            now=clock(),
        )
        [(found, rooms)] = await consent.mediations(session, campaign)
    assert found.id == mediation.id and rooms == ["101", "201"]


def test_staff_manage_campaigns_residents_do_not() -> None:
    assert consent.may_manage(Role.SECRETARY) and consent.may_manage(Role.WORKER)
    for role in (Role.RESIDENT, Role.BUILDING_LEAD, Role.VOLUNTEER, None):
        assert not consent.may_manage(role)
