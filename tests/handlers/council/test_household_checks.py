"""Verified households end to end, through the emulator: a resident starts it from /profile,
the building's worker confirms it, the resident is told; the worker undoes it with a reason, the
undoing is recorded, the resident is told and their phone vote in the open vote stops counting.
A household code typed in /profile verifies at once. Forged presses change nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from emulator import BotApiEmulator
from handlers.council import household_checks
from storage import consent, consent_votes, households
from storage.db import Database
from storage.households import HouseholdRow
from storage.models import (
    Building,
    ConsentCampaign,
    ConsentHousehold,
    ConsentRule,
    ConsentVoteLog,
    HouseholdEvent,
    Membership,
    Outbox,
    Person,
    Role,
    VerifiedHome,
    VoteChoice,
)
from tests.factories import FakeClock, bot_errors, make_cast, make_community, running_bot


async def _cast(db: Database, clock: FakeClock, emulator: BotApiEmulator):
    community = await make_community(db, clock, buildings=("1栋", "2栋"))
    users = await make_cast(
        db,
        emulator,
        community,
        [
            ("王网格", Role.WORKER, "1栋"),  # serves 1栋; nobody serves 2栋
            ("谢书记", Role.SECRETARY, None),
            ("老许", Role.RESIDENT, "1栋"),
            ("赵姐", Role.RESIDENT, "2栋"),
        ],
    )
    return community, users


async def _open_vote_for_301(db: Database, clock: FakeClock, community) -> int:
    async with db.session() as session:
        building = (await session.exec(select(Building).where(Building.name == "1栋"))).one()
        assert community.id is not None and building.id is not None
        campaign = await consent.create_campaign(
            session,
            community_id=community.id,
            building_id=building.id,
            question="Add an elevator?",
            rule=ConsentRule.ART278,
            created_by_id=None,
            now=clock(),
        )
        rows = [HouseholdRow("301", "许大爷", Decimal("80"), None)]
        await consent.save_households(session, campaign, rows, now=clock())
        await consent.open_campaign(session, campaign, now=clock())
        assert campaign.id is not None
        return campaign.id


async def _person_id(db: Database, name: str) -> int:
    async with db.session() as session:
        person = (await session.exec(select(Person).where(Person.full_name == name))).one()
        assert person.id is not None
        return person.id


async def test_a_resident_asks_from_the_profile_the_worker_confirms_then_undoes_it(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await _cast(db, clock, emulator)
    wang, xu, xie = u["王网格"], u["老许"], u["谢书记"]
    campaign_id = await _open_vote_for_301(db, clock, community)
    xu_id = await _person_id(db, "老许")
    async with running_bot(emulator, db, clock):
        # /profile says the household is not verified, and offers to start
        await xu.send("/profile")
        profile = await xu.expect_message(contains="Household: not verified")
        await xu.press(profile, "🏠 Verify my household")
        await xu.expect_message(contains="type the household code from the slip")
        await xu.send("301")
        await xu.expect_message(contains="Noted: 1栋, room 301. I have asked the community")
        # the worker serving 1栋 is asked (not the secretary: a worker serves it)
        request = await wang.expect_message(contains="老许 asks to be verified")
        assert "1栋, room 301" in request.text
        await xie.expect_no_message(timeout=0.5)
        await xu.send("/profile")
        await xu.expect_message(contains="room 301 is waiting for a check")

        # a resident cannot confirm himself with a forged press
        async with db.session() as session:
            (asked,) = (
                await session.exec(select(Outbox).where(Outbox.kind == "household_request"))
            ).all()
        forged = await xu.press_data(profile, household_checks.CONFIRM.data(asked.id or 0))
        assert forged.show_alert and "Only community staff" in (forged.text or "")
        async with db.session() as session:
            assert (await session.exec(select(VerifiedHome))).all() == []

        # the worker confirms; the resident hears it
        await wang.press(request, "✅ Confirm: room 301")
        done = await wang.expect_edit(request, contains="老许 is now a verified member of room 301")
        told = await xu.expect_message(contains="✅ Your household 1栋, room 301, is verified")
        assert "checked by 王网格" in told.text
        await xu.send("/profile")
        profile = await xu.expect_message(contains="Verified household: 1栋, room 301")
        assert "checked by 王网格" in profile.text
        assert all("Verify my household" not in b.text for row in profile.buttons for b in row)

        # verified, he votes from the phone: it counts
        await xu.send("/vote")
        ballot = await xu.expect_message(contains="Your household: room 301")
        await xu.press(ballot, "Agree")
        ask = await xu.expect_message(contains="If you have worries")
        await xu.press(ask, "No concerns")
        await xu.expect_edit(ask, contains="Thank you for voting.")

        # a resident cannot undo with a forged press either
        forged = await xu.press_data(profile, household_checks.UNDO.data(community.id or 0, xu_id))
        assert forged.show_alert
        # the worker undoes it (they moved out): the reason is asked for and recorded
        await wang.press(done, "↩ Undo: 老许")
        prompt = await wang.expect_message(contains="Undo the verification of 老许 (room 301)?")
        await wang.send("   ")
        await wang.expect_message(contains="Please type the reason")
        await wang.send("Moved out <last month>")
        await wang.expect_message(contains="老许 is no longer a verified member of room 301")
        undone = await xu.expect_message(contains="is no longer verified: 王网格")
        assert "Reason: Moved out &lt;last month&gt;" not in undone.text  # shown, not escaped twice
        assert "Moved out <last month>" in undone.text
        assert "no longer counts" in undone.text
        assert prompt is not None
    async with db.session() as session:
        events = (await session.exec(select(HouseholdEvent).order_by(HouseholdEvent.id))).all()
        wang_id = await _person_id(db, "王网格")
        assert [(e.kind, e.room, e.via, e.by_id, e.reason) for e in events] == [
            ("verified", "301", "worker", wang_id, None),
            ("undone", "301", None, wang_id, "Moved out <last month>"),
        ]
        assert (await session.exec(select(VerifiedHome))).all() == []
        campaign = await session.get(ConsentCampaign, campaign_id)
        assert campaign is not None
        home = (await session.exec(select(ConsentHousehold))).one()
        assert home.choice == VoteChoice.AGREE and not home.vote_verified  # no longer counts
        verdict = await consent_votes.verdict(session, campaign)
        assert verdict.heads.agreeing == 0 and verdict.heads.participating == 0
        log = (await session.exec(select(ConsentVoteLog).order_by(ConsentVoteLog.id))).all()
        assert [(v.cast_by_id, v.recorded_by_id, v.verified, v.evidence) for v in log] == [
            (xu_id, None, True, None),  # the vote as cast: history kept
            (xu_id, wang_id, False, "Moved out <last month>"),  # and its undoing
        ]
    assert bot_errors(emulator) == []


async def test_a_code_in_the_profile_verifies_and_without_a_worker_the_secretary_is_asked(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await _cast(db, clock, emulator)
    xu, zhao, xie, wang = u["老许"], u["赵姐"], u["谢书记"], u["王网格"]
    async with db.session() as session:
        building = (await session.exec(select(Building).where(Building.name == "1栋"))).one()
        assert community.id is not None and building.id is not None
        (code,) = await households.codes_for(
            session,
            community_id=community.id,
            building_id=building.id,
            unit_id=None,
            rooms=["101"],
            created_by_id=None,
            now=clock(),
        )
        token = code.token
    async with running_bot(emulator, db, clock):
        await xu.send("/profile")
        profile = await xu.expect_message(contains="Household: not verified")
        await xu.press(profile, "🏠 Verify my household")
        await xu.expect_message(contains="type the household code")
        await xu.send("ZZZZ-ZZZ-ZZZ")  # a code's shape, but no such code
        await xu.expect_message(contains="This household code does not work")
        await xu.send(f"{token[:4]}-{token[4:7]}-{token[7:]}".lower())
        await xu.expect_message(contains="room 101, is now verified")
        await xu.send("/profile")
        shown = await xu.expect_message(contains="Verified household: 1栋, room 101")
        assert "with a household code" in shown.text
        await wang.expect_no_message(timeout=0.5)  # nobody had to check it

        # 2栋 has no worker: the secretary is asked
        await zhao.send("/profile")
        profile = await zhao.expect_message(contains="Household: not verified")
        await zhao.press(profile, "🏠 Verify my household")
        await zhao.expect_message(contains="type the household code")
        await zhao.send("502")
        await zhao.expect_message(contains="Noted: 2栋, room 502")
        await xie.expect_message(contains="赵姐 asks to be verified")
        # asking again for the same room asks nobody twice
        await zhao.send("/profile")
        profile = await zhao.expect_message(contains="room 502 is waiting for a check")
        await zhao.press(profile, "🏠 Verify my household")
        await zhao.expect_message(contains="type the household code")
        await zhao.send("502")
        await zhao.expect_message(contains="The community already has your request")
        await xie.expect_no_message(timeout=0.5)

        # staff get no such button, and a worker's press of it is refused
        await wang.send("/profile")
        staff_profile = await wang.expect_message(contains="Your details")
        assert all("Verify my household" not in b.text for r in staff_profile.buttons for b in r)
    async with db.session() as session:
        members = {m.person_id: m for m in (await session.exec(select(Membership))).all()}
        homes = (await session.exec(select(VerifiedHome))).all()
        events = (await session.exec(select(HouseholdEvent))).all()
    assert [(h.room, h.via) for h in homes] == [("101", "code")]
    assert [(e.kind, e.via) for e in events] == [("verified", "code")]
    assert any(m.room == "502" for m in members.values())  # her claim, not a verification
    assert bot_errors(emulator) == []


async def test_stale_forged_and_unknown_presses_verify_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await _cast(db, clock, emulator)
    wang = u["王网格"]
    xu_id = await _person_id(db, "老许")
    async with running_bot(emulator, db, clock):
        await wang.send("/profile")
        anything = await wang.expect_message(contains="Your details")
        refused = await wang.press_data(
            anything, household_checks.UNDO.data(community.id or 0, xu_id)
        )
        assert refused.show_alert and "is not verified" in (refused.text or "")
        other = await wang.press_data(anything, household_checks.CONFIRM.data(999))
        assert other.show_alert  # no such request

        # 老许 asks about 301, then thinks better of it and asks about 302: the first request's
        # button no longer verifies anything; the second does, for 302
        xu = u["老许"]
        for room in ("301", "302"):
            await xu.send("/profile")
            profile = await xu.expect_message(contains="Your details")
            await xu.press(profile, "🏠 Verify my household")
            await xu.expect_message(contains="type the household code")
            await xu.send(room)
            await xu.expect_message(contains=f"Noted: 1栋, room {room}")
        first = await wang.expect_message(contains="1栋, room 301")
        second = await wang.expect_message(contains="1栋, room 302")
        stale = await wang.press(first, "✅ Confirm: room 301")
        assert stale.show_alert and "asked about another room" in (stale.text or "")
        await wang.press(second, "✅ Confirm: room 302")
        await wang.expect_edit(second, contains="verified member of room 302")
    async with db.session() as session:
        events = (await session.exec(select(HouseholdEvent))).all()
        homes = (await session.exec(select(VerifiedHome))).all()
    assert [(e.kind, e.room) for e in events] == [("verified", "302")]
    assert [h.room for h in homes] == ["302"]
    assert bot_errors(emulator) == []
