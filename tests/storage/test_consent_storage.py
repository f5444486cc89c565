"""Campaign storage rules, tested directly: who belongs to the scope, verified households (a
worker's check, a single-use code; never a typed room; never staff), one vote per household
changeable only while open and always logged with who and how, only verified votes counting,
mediations, corrections."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from sqlmodel import select

from storage import consent, consent_votes, households
from storage.consent import ConsentError
from storage.db import Database
from storage.households import HouseholdError, HouseholdRow, Refusal
from storage.models import (
    Building,
    Channel,
    ConsentRule,
    ConsentVoteLog,
    Membership,
    Person,
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


async def _members(session, *people: Person) -> list[Membership]:
    found = {m.person_id: m for m in (await session.exec(select(Membership))).all()}
    return [found[p.id] for p in people]  # type: ignore[index]


async def test_scope_and_verifying_a_household(db: Database, clock: FakeClock) -> None:
    community, b1, b2, unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        here = await make_member(session, community, building_id=b1.id, name="老许")
        there = await make_member(session, community, building_id=b2.id, name="赵姐")
        unknown = await make_member(session, community, name="无楼栋")
        worker = await make_member(session, community, Role.WORKER, building_id=b1.id, name="王")
        m_here, m_there, m_unknown, m_worker = await _members(session, here, there, unknown, worker)
        assert consent_votes.lives_in_scope(m_here, campaign)
        assert not consent_votes.lives_in_scope(m_there, campaign)
        assert not consent_votes.lives_in_scope(
            m_unknown, campaign
        )  # building not known: not asked
        assert not consent_votes.lives_in_scope(m_worker, campaign)  # 1栋 is where he works
        other_unit = await consent.unit_named(session, building_id=b1.id or 0, name="1单元")
        m_here.unit_id = other_unit.id
        assert not consent_votes.lives_in_scope(m_here, campaign)  # same building, another unit
        m_here.unit_id = None
        # a claim is not a household: nobody may vote until the community verifies them
        assert await consent_votes.household_of(session, campaign, m_here) is None
        with pytest.raises(HouseholdError) as refused:  # only staff verify
            await households.verify_by_worker(
                session,
                m_here,
                worker=m_there,
                building_id=b1.id or 0,
                unit_id=unit.id,
                room="101",
                now=clock(),
            )
        assert refused.value.refusal is Refusal.STAFF
        with pytest.raises(HouseholdError):  # a worker's building is not his home
            await households.verify_by_worker(
                session,
                m_worker,
                worker=m_worker,
                building_id=b1.id or 0,
                unit_id=unit.id,
                room="101",
                now=clock(),
            )
        home = await households.verify_by_worker(
            session,
            m_here,
            worker=m_worker,
            building_id=b1.id or 0,
            unit_id=unit.id,
            room="１０１室",
            now=clock(),
        )
        assert home.via == households.VIA_WORKER and home.verified_by_id == worker.id
        assert m_here.room == "１０１室" and m_here.unit_id == unit.id  # the profile follows
        found = await consent_votes.household_of(session, campaign, m_here)
        assert found is not None and found.room == "101"
        assert set(await consent.residents_in_scope(session, campaign)) == {here.id}
        checked = await consent_votes.verification(
            session, campaign, await consent.households(session, campaign)
        )
        assert (checked.verified, checked.households) == (1, 2)
        assert checked.members[found.id or 0] == 1


async def test_a_household_code_works_once_and_never_for_staff(
    db: Database, clock: FakeClock
) -> None:
    community, b1, _b2, unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        wife = await make_member(session, community, building_id=b1.id, name="许阿姨")
        worker = await make_member(session, community, Role.WORKER, building_id=b1.id, name="王")
        newcomer = Person(full_name="许小明", telegram_user_id=77)
        session.add(newcomer)
        await session.flush()
        [code, again] = [
            (
                await households.codes_for(
                    session,
                    community_id=community.id or 0,
                    building_id=b1.id or 0,
                    unit_id=unit.id,
                    rooms=["101"],
                    created_by_id=worker.id,
                    now=clock(),
                )
            )[0]
            for _ in range(2)
        ]
        assert code.id == again.id  # printing again reissues the unused code
        assert len(code.token) == households.CODE_LENGTH
        with pytest.raises(HouseholdError) as refused:
            await households.redeem_code(session, typed="101", person=wife, now=clock())
        assert refused.value.refusal is Refusal.UNKNOWN_CODE
        with pytest.raises(HouseholdError) as refused:
            await households.redeem_code(session, typed=code.token, person=worker, now=clock())
        assert refused.value.refusal is Refusal.STAFF
        typed = " " + code.token[:4].lower() + "-" + code.token[4:] + " "
        redeemed = await households.redeem_code(session, typed=typed, person=wife, now=clock())
        assert redeemed.home.room == "101" and not redeemed.joined
        assert redeemed.home.via == households.VIA_CODE and code.used_by_id == wife.id
        with pytest.raises(HouseholdError) as refused:
            await households.redeem_code(session, typed=code.token, person=newcomer, now=clock())
        assert refused.value.refusal is Refusal.USED_CODE
        # a second code for the same household: a second verified member, joining with it
        [second] = await households.codes_for(
            session,
            community_id=community.id or 0,
            building_id=b1.id or 0,
            unit_id=unit.id,
            rooms=["101"],
            created_by_id=worker.id,
            now=clock(),
        )
        assert second.id != code.id
        joined = await households.redeem_code(
            session, typed=households.LINK_PREFIX + second.token, person=newcomer, now=clock()
        )
        assert joined.joined and joined.membership.building_id == b1.id
        members = await households.verified_members(session, campaign)
        assert sorted(members["101"]) == sorted([wife.id, newcomer.id])


def test_who_may_vote_from_the_phone_for_a_household() -> None:
    """The rule itself, over plain rows: only an active resident, for their verified room."""
    from storage.models import ConsentCampaign, VerifiedHome

    campaign = ConsentCampaign(id=1, community_id=1, building_id=10, unit_id=None, question="?")
    resident = Membership(person_id=5, community_id=1, role=Role.RESIDENT, building_id=10)
    home = VerifiedHome(
        person_id=5, community_id=1, building_id=10, room="101", via="worker", verified_at=None
    )
    refusal = households.chat_vote_refusal
    assert refusal(resident, home, campaign, "101室") is None
    assert refusal(resident, home, campaign, "102") is Refusal.OTHER_HOUSEHOLD
    assert refusal(resident, None, campaign, "101") is Refusal.NOT_VERIFIED
    elsewhere = VerifiedHome(
        person_id=5, community_id=1, building_id=11, room="101", via="code", verified_at=None
    )
    assert refusal(resident, elsewhere, campaign, "101") is Refusal.OTHER_SCOPE
    worker = Membership(person_id=5, community_id=1, role=Role.WORKER, building_id=10)
    assert refusal(worker, home, campaign, "101") is Refusal.STAFF
    gone = Membership(person_id=5, community_id=1, role=Role.RESIDENT, active=False)
    assert refusal(gone, home, campaign, "101") is Refusal.NOT_RESIDENT
    lead = Membership(person_id=5, community_id=1, role=Role.BUILDING_LEAD, building_id=10)
    assert refusal(lead, home, campaign, "101") is None  # a building lead is a resident


async def _verified_voter(session, community, campaign, room: str, clock: FakeClock):
    """A resident verified by a worker as a member of `room`, and the worker."""
    voter = await make_member(session, community, building_id=campaign.building_id, name="许")
    worker = await make_member(session, community, Role.WORKER, name="王网格")
    m_voter, m_worker = await _members(session, voter, worker)
    await households.verify_by_worker(
        session,
        m_voter,
        worker=m_worker,
        building_id=campaign.building_id,
        unit_id=campaign.unit_id,
        room=room,
        now=clock(),
    )
    return voter, worker


async def test_one_vote_per_household_changeable_while_open_and_logged(
    db: Database, clock: FakeClock
) -> None:
    community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        voter, worker = await _verified_voter(session, community, campaign, "101", clock)
        neighbour = await make_member(session, community, building_id=_b1.id, name="邻居")
        home, other = await consent.households(session, campaign)
        with pytest.raises(ConsentError):  # a draft takes no votes
            await consent_votes.cast_vote(
                session, campaign, home, choice=VoteChoice.AGREE, cast_by_id=voter.id, now=clock()
            )
        await consent.open_campaign(session, campaign, now=clock())
        with pytest.raises(ConsentError):
            await consent.open_campaign(session, campaign, now=clock())
        # from the phone: only a verified member, only for their own household
        for person, household, why in (
            (neighbour, home, Refusal.NOT_VERIFIED),
            (voter, other, Refusal.OTHER_HOUSEHOLD),
            (worker, home, Refusal.STAFF),
            (None, home, Refusal.NOT_RESIDENT),
        ):
            with pytest.raises(ConsentError) as refused:
                await consent_votes.cast_vote(
                    session,
                    campaign,
                    household,
                    choice=VoteChoice.AGREE,
                    cast_by_id=person.id if person else None,
                    now=clock(),
                )
            assert refused.value.refusal is why
        await consent_votes.cast_vote(
            session,
            campaign,
            home,
            choice=VoteChoice.DISAGREE,
            now=clock(),
            concerns="噪音",
            cast_by_id=voter.id,
        )
        clock.advance(days=2)
        # in person: a worker, with the evidence; a proxy is named
        for recorder, evidence, channel, proxy in (
            (voter.id, "signed", Channel.VISIT, None),  # a resident records nothing
            (worker.id, " ", Channel.VISIT, None),  # no evidence
            (worker.id, "委托书", Channel.PROXY, None),  # a proxy without a name
            (worker.id, "signed", Channel.VISIT, "张三"),  # a name without a proxy
        ):
            with pytest.raises(ConsentError):
                await consent_votes.cast_vote(
                    session,
                    campaign,
                    home,
                    choice=VoteChoice.AGREE,
                    channel=channel,
                    recorded_by_id=recorder,
                    evidence=evidence,
                    proxy_name=proxy,
                    now=clock(),
                )
        await consent_votes.cast_vote(
            session,
            campaign,
            home,
            choice=VoteChoice.AGREE,
            channel=Channel.PROXY,
            recorded_by_id=worker.id,
            proxy_name="许小明",
            evidence="委托书 seen",
            now=clock(),
        )
        assert home.choice == VoteChoice.AGREE and home.concerns == "噪音"  # concerns kept
        with pytest.raises(ConsentError):
            await consent_votes.cast_vote(
                session,
                campaign,
                home,
                choice=VoteChoice.AGREE,
                channel=Channel.PHONE,
                recorded_by_id=worker.id,
                evidence="x",
                now=clock(),
            )
        await consent.close_campaign(session, campaign, now=clock())
        with pytest.raises(ConsentError):
            await consent_votes.cast_vote(
                session,
                campaign,
                home,
                choice=VoteChoice.DISAGREE,
                cast_by_id=voter.id,
                now=clock(),
            )
        with pytest.raises(ConsentError):
            await consent.save_households(
                session, campaign, [HouseholdRow("301", None, None, None)], now=clock()
            )
        log = (await session.exec(select(ConsentVoteLog).order_by(ConsentVoteLog.id))).all()  # type: ignore[arg-type]
    assert [
        (e.previous_choice, e.choice, e.channel, e.cast_by_id, e.recorded_by_id, e.verified)
        for e in log
    ] == [
        (None, "disagree", "telegram", voter.id, None, True),
        ("disagree", "agree", "proxy", None, worker.id, True),
    ]
    assert (log[1].proxy_name, log[1].evidence) == ("许小明", "委托书 seen")


async def test_only_verified_votes_count(db: Database, clock: FakeClock) -> None:
    """A vote from before households were verified (anyone could type a room) is shown as not
    counted and plays no part in the rule or the support chart."""
    community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        homes = await _open_with_201_agreeing(session, community, campaign, clock)
        legacy = homes["101"]
        legacy.choice, legacy.vote_verified, legacy.vote_channel = "agree", False, "telegram"
        session.add(legacy)
        session.add(
            ConsentVoteLog(
                campaign_id=campaign.id or 0,
                household_id=legacy.id or 0,
                at=clock(),
                choice="agree",
                channel="telegram",
                verified=False,
            )
        )
        await session.flush()
        verdict = await consent_votes.verdict(session, campaign)
        checked = await consent_votes.verification(session, campaign, list(homes.values()))
        points = await consent_votes.series(session, campaign, now=clock())
    assert verdict.heads.agreeing == 1 and verdict.heads.participating == 1
    assert checked.uncounted == 1 and checked.verified == 1
    assert [p.heads for p in points][-1] == Fraction(1, 2)


async def _open_with_201_agreeing(session, community, campaign, clock: FakeClock):
    """The campaign opened, with 201's verified member having agreed; its households by room."""
    voter, _worker = await _verified_voter(session, community, campaign, "201", clock)
    await consent.open_campaign(session, campaign, now=clock())
    homes = {h.room: h for h in await consent.households(session, campaign)}
    await consent_votes.cast_vote(
        session,
        campaign,
        homes["201"],
        choice=VoteChoice.AGREE,
        cast_by_id=voter.id,
        now=clock(),
    )
    return homes


async def test_corrections_keep_votes_and_mediations_name_their_households(
    db: Database, clock: FakeClock
) -> None:
    community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        homes = await _open_with_201_agreeing(session, community, campaign, clock)
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


async def test_a_household_is_removed_only_if_it_never_voted_or_was_mediated(
    db: Database, clock: FakeClock
) -> None:
    community, _b1, _b2, _unit, campaign = await _setup(db, clock)
    async with db.session() as session:
        homes = await _open_with_201_agreeing(session, community, campaign, clock)
        await consent.record_mediation(
            session,
            campaign,
            household_ids=[homes["101"].id or 0],
            parties="许大爷",
            positions="噪音",
            agreement="隔音板",
            reached=True,
            recorded_by_id=None,
            now=clock(),
        )
        for kept in ("201", "101", "999"):  # voted, mediated, not on the list
            with pytest.raises(ConsentError):
                await consent.remove_household(session, campaign, kept)
        await consent.save_households(
            session, campaign, [HouseholdRow("701", "错录", None, None)], now=clock()
        )
        await consent.remove_household(session, campaign, "７０１室")  # as people type it
        rooms = [h.room for h in await consent.households(session, campaign)]
        assert "701" not in rooms and {"101", "201"} <= set(rooms)


def test_staff_manage_campaigns_residents_do_not() -> None:
    assert consent.may_manage(Role.SECRETARY) and consent.may_manage(Role.WORKER)
    for role in (Role.RESIDENT, Role.BUILDING_LEAD, Role.VOLUNTEER, None):
        assert not consent.may_manage(role)
