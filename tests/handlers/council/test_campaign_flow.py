"""A consent campaign for adding an elevator, through the emulator (the seed story: support
climbed from 23% to over 90% through meetings, door-to-door visits and mediation).

Households vote from the phone only once verified: the worker verifies residents from the card,
老许 uses the household code printed for 101.

A worker sets it up for 1栋 2单元 and imports the households from a CSV file (bad lines are
reported, good ones kept); residents vote from their phones, the worker records door-to-door
and meeting votes, the ground-floor household (own space occupied) objects, a mediation is
recorded (sound-proof panels and a security door), he changes his vote, and the project passes.
Rights: residents cannot manage the campaign or record others' votes; a resident of another
building cannot vote; forged presses change nothing."""

from __future__ import annotations

import io

from pypdf import PdfReader
from sqlmodel import select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from handlers.council import campaign_common, campaign_setup, campaign_votes
from handlers.shared.fallback import STALE
from runtime.posters import spaced_code
from storage.db import Database
from storage.models import (
    Building,
    CampaignStatus,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentMediation,
    ConsentVoteLog,
    MediationHousehold,
    Membership,
    Role,
    Unit,
    VoteChoice,
)
from tests.factories import (
    FakeClock,
    bot_errors,
    make_cast,
    make_community,
    running_bot,
)

HOUSEHOLDS_CSV = (
    "room,owner,area,occupied\n"
    "101,许大爷,60.5,yes\n"
    "102,钱阿姨,62\n"
    "201,王家,75.5\n"
    "202,赵家,75.5\n"
    "301,孙家,80\n"
    "302,李阿姨,80\n"
    "401,周家,80\n"
    "402,吴家,80\n"
    "501,郑家,85\n"
    "502,冯家,85\n"
    "601,陈家,90.25\n"
    "602,褚家,90.25\n"
    "701,卫家,92\n"
    "7O2,蒋家,abc\n"
    ",无名,70\n"
).encode("gb18030")  # as Excel on a Chinese Windows saves it


async def people(db: Database, clock: FakeClock, emulator: BotApiEmulator):
    community = await make_community(db, clock, buildings=("1栋", "2栋"))
    users = await make_cast(
        db,
        emulator,
        community,
        [
            ("王网格", Role.WORKER, "1栋"),  # the building he serves, not his home
            ("老许", Role.RESIDENT, "1栋"),
            ("李阿姨", Role.RESIDENT, "1栋"),
            ("孙叔", Role.RESIDENT, "1栋"),
            ("陈姐", Role.RESIDENT, "1栋"),
            ("赵姐", Role.RESIDENT, "2栋"),
        ],
    )
    return community, users


async def vote_from_phone(
    user: UserDriver, announcement, room: str | None, choice: str, concerns: str | None = None
):
    """Press Vote in the announcement (or /vote), choose, add concerns (the household is
    verified already; `room` is only a reminder of whose it is)."""
    if announcement is not None:
        await user.press(announcement, "Vote")
    else:
        await user.send("/vote")
    ballot = await user.expect_message(contains="Your household: room")
    answer = await user.press(ballot, choice)
    assert not answer.show_alert, answer.text
    ask = await user.expect_message(contains="If you have worries")
    if concerns is None:
        await user.press(ask, "No concerns")
        await user.expect_edit(ask, contains="Thank you for voting.")
    else:
        await user.send(concerns)
        await user.expect_message(contains="has noted your concerns")
    return await user.expect_edit(ballot, contains="Its vote:")


async def record_door_to_door(
    worker: UserDriver,
    card,
    room: str,
    choice: str,
    how: str,
    evidence: str = "ID checked at the door",
    proxy: str | None = None,
) -> None:
    await worker.press(card, "Record a vote")
    await worker.expect_message(contains="Which household? Type the room number")
    await worker.send(room)
    pick = await worker.expect_message(contains=f"Room {room}")
    await worker.press(pick, choice)
    await worker.expect_edit(pick, contains="How was it given?")
    await worker.press(pick, how)
    if proxy is not None:
        await worker.expect_edit(pick, contains="Type the proxy's name")
        await worker.send(proxy)
        await worker.expect_message(contains="What is the evidence?")
    else:
        await worker.expect_edit(pick, contains="What is the evidence?")
    await worker.send(evidence)
    ask = await worker.expect_message(contains="Did they raise concerns?")
    await worker.press(ask, "No concerns")
    await worker.expect_edit(ask, contains=f"Recorded for room {room}")


async def verify(worker: UserDriver, card, room: str, name: str) -> None:
    """The worker verifies a resident as a member of `room` from the campaign card."""
    await worker.press(card, "Verify a household")
    await worker.expect_message(contains="Which household did you check?")
    await worker.send(room)
    pick = await worker.expect_message(contains=f"Room {room}: who did you check")
    await worker.press(pick, pick_button(pick, name))
    await worker.expect_edit(pick, contains=f"is now a verified member of room {room}")


def pick_button(message, name: str) -> str:
    return next(b.text for row in message.buttons for b in row if b.text.startswith(name))


def code_for(sheet: bytes, room: str) -> str:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(sheet.decode("utf-8-sig"))))
    return next(r[2] for r in rows[1:] if r[0] == room)


async def test_an_elevator_campaign_climbs_from_23_percent_to_passing_with_a_mediation(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, u = await people(db, clock, emulator)
    wang, xu, li, sun, chen, zhao = (
        u["王网格"],
        u["老许"],
        u["李阿姨"],
        u["孙叔"],
        u["陈姐"],
        u["赵姐"],
    )
    async with running_bot(emulator, db, clock) as app:
        # residents cannot run campaigns
        await xu.send("/campaign")
        refused = await xu.expect_message(contains="Only community staff can do this.")
        denied = await xu.press_data(refused, campaign_setup.NEW.data())
        assert denied.show_alert

        # the worker sets up the vote for 1栋 2单元 (a unit typed by name)
        await wang.send("/campaign")
        menu = await wang.expect_message(contains="No consent votes yet.")
        await wang.press(menu, "New consent vote")
        where = await wang.expect_message(contains="Which building is the vote for?")
        await wang.press(where, "1栋")
        await wang.expect_edit(where, contains="whole building, or one unit")
        await wang.send("2单元")
        await wang.expect_message(contains="What question do the households answer?")
        await wang.send("Do you agree to add an elevator to 1栋 2单元?")
        rules = await wang.expect_message(contains="Which rule decides it?")
        await wang.press(rules, "Civil Code Art. 278 (2/3 take part, 3/4 agree)")
        card = await wang.expect_edit(rules, contains="Consent vote #1")
        assert "Scope: 1栋, 2单元" in card.text and "Status: being prepared" in card.text

        await wang.press(card, "Import a CSV file")
        await wang.expect_message(contains="Send the CSV file as a document")
        await wang.send_document("households.csv", "text/csv", data=HOUSEHOLDS_CSV)
        report = await wang.expect_message(contains="Saved: 13 households added, 0 corrected.")
        assert "Line 15: 7O2,蒋家,abc (floor area is not a number" in report.text
        assert "Line 16: ,无名,70 (no room number)" in report.text
        # a correction typed by hand: 102's area was measured again
        await wang.press(card, "Add households")
        await wang.expect_message(contains="Send the households, one per line")
        await wang.send("102, 钱阿姨, 62.5")
        await wang.expect_message(contains="Saved: 0 households added, 1 corrected.")
        # a room typed by mistake is taken off the list again
        await wang.press(card, "Add households")
        await wang.expect_message(contains="Send the households, one per line")
        await wang.send("999, 错录")
        await wang.expect_message(contains="Saved: 1 households added, 0 corrected.")
        await wang.press(card, "Households")
        listing = await wang.expect_message(contains="Households of vote #1")
        assert "999 错录" in listing.text and "send its line again" in listing.text
        await wang.press(listing, "Remove a household…")
        await wang.expect_message(contains="Which room should be taken off the list?")
        await wang.send("888")
        await wang.expect_message(contains="Room 888 is not on the list of vote #1.")
        await wang.press(listing, "Remove a household…")
        await wang.expect_message(contains="Which room should be taken off the list?")
        await wang.send("999室")
        await wang.expect_message(contains="Room 999室 is taken off the list of vote #1.")

        await wang.press(card, "Open voting")
        card = await wang.expect_edit(card, contains="Status: voting")
        assert "Households: 13" in card.text and "not yet 13" in card.text

        await dispatch_due(app, now=clock())
        notices = {}
        for name in ("老许", "李阿姨", "孙叔", "陈姐"):
            notices[name] = await u[name].expect_message(contains="Consent vote for 1栋, 2单元")
        await zhao.expect_no_message(timeout=0.5)  # 2栋 is not asked
        await wang.expect_no_message(timeout=0.5)  # nor the worker who serves 1栋

        # the worker verifies three households he checked; 老许 gets 101's printed code
        for room, name in (("302", "李阿姨"), ("301", "孙叔"), ("601", "陈姐")):
            await verify(wang, card, room, name)
        assert "Verified households: 3 of 13" in (await view_card(wang)).text
        await wang.press(card, "Household codes")
        sheet = await wang.expect_message(predicate=lambda m: m.document is not None)
        assert sheet.document is not None and "Household codes for vote #1" in sheet.text
        code = code_for(sheet.document, "101")
        # the slips to hand out at the door: one per household, eight to an A4 page
        slips = await wang.expect_message(predicate=lambda m: m.document is not None)
        assert "Household code slips for vote #1" in slips.text and slips.document is not None
        pages = PdfReader(io.BytesIO(slips.document)).pages
        printed = "\n".join(page.extract_text() or "" for page in pages)
        assert len(pages) == 2  # 13 households
        assert spaced_code(code) in printed and "101室" in printed and "住户核实码" in printed
        await xu.send("/vote")
        await xu.expect_message(contains="Your household is not verified yet")
        await xu.send("101")  # a room number is not a code: refused, nothing recorded
        await xu.expect_message(contains="not a household code I know")
        await xu.send(code.lower())
        await xu.expect_message(contains="room 101, is now verified")
        await xu.expect_message(contains="Your household: room 101")

        # a resident of another building cannot vote, even with a forged button
        await zhao.send("/vote")
        nothing = await zhao.expect_message(contains="There is no vote for your building")
        for data in (
            campaign_votes.CAST.data(1, VoteChoice.AGREE),
            campaign_votes.BALLOT.data(1),
            campaign_common.CHART.data(1),
        ):
            forged = await zhao.press_data(nothing, data)
            assert forged.show_alert and "another building" in (forged.text or "")

        # day one: three households agree from their phones: 23%
        await vote_from_phone(li, notices["李阿姨"], "302", "Agree")
        clock.advance(hours=2)
        await vote_from_phone(sun, notices["孙叔"], "301", "Agree")
        clock.advance(hours=2)
        ballot = await vote_from_phone(
            chen, notices["陈姐"], "601", "Agree", concerns="Please keep the stairwell window."
        )
        assert "Support (agree, of all): 23.1% of households" in ballot.text
        # the ground floor objects (his own space is occupied by the shaft)
        clock.advance(hours=2)
        ballot = await vote_from_phone(
            xu,
            notices["老许"],
            "101",
            "Disagree",
            concerns="Noise, no privacy, a narrow stairwell.",
        )
        assert "Its vote: disagree." in ballot.text
        # residents cannot record other households' votes or open/close campaigns
        for data in (
            campaign_common.RECORD.data(1),
            campaign_common.CLOSE.data(1),
            campaign_setup.CLOSE_NOW.data(1),
            campaign_common.ADD.data(1),
            campaign_common.MEDIATE.data(1),
        ):
            forged = await xu.press_data(ballot, data)
            assert forged.show_alert and "Only community staff" in (forged.text or "")

        # the next days: courtyard meeting and door-to-door visits
        for day, (room, choice, how) in enumerate(
            [
                ("102", "Agree", "On paper"),
                ("201", "Agree", "Door to door"),
                ("202", "Agree", "At a meeting"),
                ("401", "Agree", "Door to door"),
                ("402", "Disagree", "Door to door"),
                ("501", "Agree", "At a meeting"),
                ("502", "Agree", "At a meeting"),
                ("602", "Agree", "Door to door"),
                ("701", "Abstain", "Door to door"),
            ]
        ):
            clock.advance(days=1 if day % 3 == 0 else 0, minutes=20)  # daytime visits
            await record_door_to_door(wang, card, room, choice, how)

        await wang.send("/campaign")
        menu = await wang.expect_message(contains="Consent votes:")
        await wang.press(menu, "Open #1")
        card = await wang.expect_message(contains="Consent vote #1")
        # 10 of 13 agree (76.9%), 804 of 1036.5 m² (77.6%): both thresholds met, but 101 must
        # agree himself
        assert "Agree, of those who took part: 76.9% of households · 77.6% of floor area" in (
            card.text
        )
        assert "Not passing yet" in card.text
        assert "own space occupied, must agree themselves: 101" in card.text
        assert "by households: 1 more households agreeing" in card.text
        assert "Concerns from 2 households." in card.text

        # mediation: sound-proof panels and a security door
        await wang.press(card, "Record a mediation")
        await wang.expect_message(contains="Which households took part?")
        await wang.send("101, 9999")
        await wang.expect_message(contains="Not on this vote's list: 9999")
        await wang.send("101")
        await wang.expect_message(contains="Who took part in the mediation?")
        await wang.send("许大爷 (101), secretary 谢兰, the upper floors")
        await wang.expect_message(contains="What were their positions?")
        await wang.send("101 fears noise and losing privacy; the upper floors need the lift.")
        await wang.expect_message(contains="What was agreed?")
        await wang.send("Sound-proof panels and a security door for 101; the stairwell extended.")
        outcome = await wang.expect_message(contains="Did the parties reach agreement?")
        await wang.press(outcome, "Yes, agreed")
        await wang.expect_edit(outcome, contains="Mediation recorded for rooms 101.")

        # 老许 changes his vote from his phone; 402 changes at the door
        clock.advance(days=1)
        ballot = await vote_from_phone(xu, None, None, "Agree")
        assert "✅ Passes under the rule." in ballot.text
        await record_door_to_door(
            wang, card, "402", "Agree", "By proxy", "委托书 signed by 吴家", proxy="吴小明"
        )

        await wang.press(card, "Support chart")
        chart = await wang.expect_message(contains="Support now: 92.3% of households")
        assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
        # a resident of the scope may see the chart too
        await li.press(latest_ballot(li), "Support chart")
        await li.expect_message(contains="Support now: 92.3%")

        await wang.send("/campaign")
        menu = await wang.expect_message(contains="Consent votes:")
        await wang.press(menu, "Open #1")
        card = await wang.expect_message(contains="Consent vote #1")
        assert "Mediation" in card.text and "agreement reached" in card.text
        await wang.press(card, "Households")
        listing = await wang.expect_message(contains="Households of vote #1")
        assert "101 许大爷 60.5 m² ⚑: agree (from the phone)" in listing.text
        assert "Concerns: Noise, no privacy, a narrow stairwell." in listing.text
        assert "402 吴家 80 m²: agree (by proxy)" in listing.text
        await wang.press(card, "Export (CSV)")
        export = await wang.expect_message(predicate=lambda m: m.document is not None)
        assert "verified households 4 of 13" in export.text and export.document is not None
        table = export.document.decode("utf-8-sig")
        assert "Verified households,4 of 13" in table
        assert "吴小明,委托书 signed by 吴家,yes" in table and "王网格" in table

        await wang.press(card, "Close voting")
        await wang.expect_edit(
            card, predicate=lambda m: m.button("Yes, close voting now") is not None
        )
        await wang.press(card, "Yes, close voting now")
        await wang.expect_edit(card, contains="Status: voting closed")
        await dispatch_due(app, now=clock())
        for name in ("老许", "李阿姨", "孙叔", "陈姐"):
            closed = await u[name].expect_message(contains="Voting has closed")
            assert "It passed." in closed.text and "92.3% of households" in closed.text
        late = await xu.press(ballot, "Disagree")
        assert late.show_alert and "Voting has closed" in (late.text or "")

    async with db.session() as session:
        campaign = (await session.exec(select(ConsentCampaign))).one()
        unit = (await session.exec(select(Unit))).one()
        homes = {h.room: h for h in (await session.exec(select(ConsentHousehold))).all()}
        log = (
            await session.exec(
                select(ConsentVoteLog).where(ConsentVoteLog.household_id == homes["101"].id)
            )
        ).all()
        mediation = (await session.exec(select(ConsentMediation))).one()
        linked = (await session.exec(select(MediationHousehold))).all()
        xu_home = (
            await session.exec(select(Membership.room).where(Membership.room == "101"))
        ).all()
    assert campaign.status == CampaignStatus.CLOSED and campaign.unit_id == unit.id
    assert unit.name == "2单元"
    assert homes["102"].area_dm2 == 6250  # the corrected 62.5 m²
    assert homes["101"].own_space_occupied and homes["101"].choice == "agree"
    # every change is logged: the vote, the concerns given after it, the changed vote
    assert [(e.previous_choice, e.choice, e.channel) for e in log] == [
        (None, "disagree", "telegram"),
        ("disagree", "disagree", "telegram"),
        ("disagree", "agree", "telegram"),
    ]
    assert log[1].concerns == "Noise, no privacy, a narrow stairwell."
    assert homes["402"].vote_channel == Channel.PROXY and homes["402"].recorded_by_id is not None
    assert homes["102"].vote_channel == Channel.PAPER and homes["102"].vote_verified
    assert homes["302"].vote_channel == Channel.TELEGRAM and homes["302"].voted_by_id is not None
    assert mediation.reached and "security door" in mediation.agreement
    assert [m.household_id for m in linked] == [homes["101"].id]
    assert xu_home == ["101"]  # 老许's membership follows his verified household
    assert bot_errors(emulator) == []


async def view_card(worker: UserDriver):
    await worker.send("/campaign")
    menu = await worker.expect_message(contains="Consent votes:")
    await worker.press(menu, "Open #1")
    return await worker.expect_message(contains="Consent vote #1")


def latest_ballot(user: UserDriver):
    """The latest ballot the bot sent this user."""
    return [m for m in user.messages if "Your household: room" in m.text][-1]


async def open_vote_for_302(db: Database, clock: FakeClock, community) -> None:
    """An open vote for 1栋 with one household, room 302 (李阿姨's)."""
    from decimal import Decimal

    from storage import consent
    from storage.households import HouseholdRow
    from storage.models import ConsentRule

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
        rows = [
            HouseholdRow("302", "李阿姨", Decimal("80"), None),
            HouseholdRow("101", "许大爷", Decimal("60"), True),
        ]
        await consent.save_households(session, campaign, rows, now=clock())
        await consent.open_campaign(session, campaign, now=clock())
        await verify_in_storage(session, campaign, "李阿姨", "302", clock)


async def verify_in_storage(session, campaign, name: str, room: str, clock: FakeClock) -> None:
    """王网格 verifies `name` as a member of `room` (the domain function the card uses)."""
    from storage import households
    from storage.models import Person

    def member_named(person_name: str):
        return (
            select(Membership)
            .join(Person, Person.id == Membership.person_id)  # type: ignore[arg-type]
            .where(Person.full_name == person_name)
        )

    resident = (await session.exec(member_named(name))).one()
    worker = (await session.exec(member_named("王网格"))).one()
    await households.verify_by_worker(
        session,
        resident,
        worker=worker,
        building_id=campaign.building_id,
        unit_id=campaign.unit_id,
        room=room,
        now=clock(),
    )


async def test_a_message_long_after_the_vote_is_not_taken_as_concerns(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await people(db, clock, emulator)
    li = u["李阿姨"]
    await open_vote_for_302(db, clock, community)
    async with running_bot(emulator, db, clock):
        await vote_from_phone_without_concerns(li)
        clock.advance(days=1)
        await li.send("The stairwell light on the 3rd floor is broken.")
        # not "noted your concerns" but a new report, as after any other message
        await li.expect_message(contains="What is the problem about?")
        await li.expect_no_message()
    async with db.session() as session:
        home = (
            await session.exec(select(ConsentHousehold).where(ConsentHousehold.room == "302"))
        ).one()
    assert home.choice == "agree" and home.concerns is None
    assert bot_errors(emulator) == []


async def vote_from_phone_without_concerns(user: UserDriver) -> None:
    await user.send("/vote")
    ballot = await user.expect_message(contains="Your household: room")
    await user.press(ballot, "Agree")
    await user.expect_message(contains="If you have worries")


async def test_a_forged_vote_press_with_a_malformed_value_changes_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, u = await people(db, clock, emulator)
    li = u["李阿姨"]
    await open_vote_for_302(db, clock, community)
    async with running_bot(emulator, db, clock):
        await vote_from_phone_without_concerns(li)
        ballot = latest_ballot(li)
        disagree = campaign_votes.CAST.data(1, VoteChoice.DISAGREE)
        for data in (
            disagree.replace(":1:", ":one:"),  # the campaign is not a number
            disagree.replace(":1:", ":-1:"),
            disagree.replace(":1:", ":123456789012:"),  # longer than any id
            disagree.replace("disagree", "yes"),  # not one of the answers
            disagree + ":1",  # a value too many
            campaign_votes.BALLOT.data(1).replace(":1", ":1x"),
        ):
            forged = await li.press_data(ballot, data)
            assert forged.show_alert and forged.text == STALE, data
        await li.expect_no_message(timeout=0.5)
    async with db.session() as session:
        home = (
            await session.exec(select(ConsentHousehold).where(ConsentHousehold.room == "302"))
        ).one()
        votes = (await session.exec(select(ConsentVoteLog))).all()
    assert home.choice == "agree" and len(votes) == 1
    assert bot_errors(emulator) == []


async def test_an_unverified_household_or_a_worker_cannot_vote_and_nothing_is_recorded(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """赵姐 lives in 2栋 but says 1栋 in her profile and types 101 (许大爷's room, whose own
    consent the rule needs): refused, nothing recorded. 王网格 serves 1栋: he is not invited and
    cannot vote as its resident, even with a forged press or a household code."""
    community, u = await people(db, clock, emulator)
    zhao, wang, li = u["赵姐"], u["王网格"], u["李阿姨"]
    await open_vote_for_302(db, clock, community)
    async with db.session() as session:
        claimed = (await session.exec(select(Building).where(Building.name == "1栋"))).one()
        campaign = (await session.exec(select(ConsentCampaign))).one()
        from storage import consent

        invited = await consent.residents_in_scope(session, campaign)
        members = (await session.exec(select(Membership))).all()
        zhao_member = next(
            m for m in members if m.building_id != claimed.id and m.role == "resident"
        )
        zhao_member.building_id = claimed.id  # her claim, picked in /profile
        session.add(zhao_member)
        worker_id = next(m.person_id for m in members if m.role == Role.WORKER)
    assert worker_id not in invited
    async with running_bot(emulator, db, clock):
        await zhao.send("/vote")
        await zhao.expect_message(contains="Your household is not verified yet")
        await zhao.send("101")
        refused = await zhao.expect_message(contains="not a household code I know")
        assert "nothing was recorded" in refused.text
        forged = await zhao.press_data(refused, campaign_votes.CAST.data(1, VoteChoice.AGREE))
        assert forged.show_alert and "not verified" in (forged.text or "")

        await wang.send("/vote")
        staff = await wang.expect_message(contains="Community staff do not vote as residents")
        for data in (
            campaign_votes.CAST.data(1, VoteChoice.AGREE),
            campaign_votes.BALLOT.data(1),
        ):
            forged = await wang.press_data(staff, data)
            assert forged.show_alert and "do not vote as residents" in (forged.text or "")
        # the worker prints the codes; his own use of one is refused
        await wang.send("/campaign")
        menu = await wang.expect_message(contains="Consent votes:")
        await wang.press(menu, "Open #1")
        card = await wang.expect_message(contains="Verified households: 1 of 2")
        await wang.press(card, "Household codes")
        sheet = await wang.expect_message(predicate=lambda m: m.document is not None)
        assert sheet.document is not None
        code = code_for(sheet.document, "101")
        await wang.send(f"/start home-{code}")
        await wang.expect_message(contains="This household code does not work")

        # the verified member of 302 votes for 302 only
        await vote_from_phone_without_concerns(li)
    async with db.session() as session:
        homes = {h.room: h for h in (await session.exec(select(ConsentHousehold))).all()}
        votes = (await session.exec(select(ConsentVoteLog))).all()
        from storage.models import HouseholdCode

        unused = (
            await session.exec(select(HouseholdCode).where(HouseholdCode.room == "101"))
        ).one()
    assert homes["101"].choice is None and homes["302"].choice == "agree"
    assert [(v.household_id, v.channel, v.verified) for v in votes] == [
        (homes["302"].id, "telegram", True)
    ]
    assert votes[0].cast_by_id is not None and unused.used_at is None
    assert bot_errors(emulator) == []
