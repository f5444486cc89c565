"""/forget as a resident uses it, after they have left traces in every corner of the notebook
through the bot's own flows: a report with their name and phone in the words and a photo with
a caption, a staff note about them, a reply, a follow-up comment, a council topic, a consent
vote with concerns, a draft left open. Afterwards every column of every table (found by
reflection over the models, so a new table is scanned without anyone remembering to) is free
of their name, phone, Telegram id and their own words; the staff card in the group no longer
shows them; the figures the rates are computed from stay."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import SQLModel, col, select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from emulator.driver import UserDriver
from storage import consent, households
from storage.db import Database
from storage.inbox import REDUCED
from storage.models import (
    Building,
    ConsentCampaign,
    FollowUp,
    Issue,
    IssueSupporter,
    Membership,
    Person,
)
from storage.privacy import ANONYMOUS_NAME
from tests.factories import FakeClock, bot_errors, make_campaign, running_bot
from tests.resident_helpers import report_with_taps
from tests.staffroom import PHONE, bind, staffroom

NAME = "老许"
PHONE_DIGITS = re.sub(r"\D", "", PHONE)  # 8613800001234, as a phone's digits run in text
TYPED_PHONE = "138-0000-1234"  # how he writes it himself
REPORT = f"Stairwell light broken on the 3rd floor. {NAME} here, call {TYPED_PHONE}"
CAPTION = f"Photo from the balcony of {NAME}"
REPLY = f"Also the door downstairs; ask for {NAME}"
FOLLOW_UP_WORDS = "Thanks, my knees feel safer now"
CONCERNS = "My mother sleeps next to the shaft"
DRAFT = "Half-written: my neighbour's dog"
TOPIC = f"The bins by 1栋 overflow; {NAME} can show you, {TYPED_PHONE}"
THEIR_OWN_WORDS = (FOLLOW_UP_WORDS, CONCERNS, DRAFT, "neighbour's dog")


async def _propose(user: UserDriver, title: str, description: str) -> None:
    await user.send("/propose")
    await user.expect_message(contains="Please send a short title")
    await user.send(title)
    await user.expect_message(contains="tell us more")
    await user.send(description)
    chooser = await user.expect_message(contains="Who does it concern?")
    await user.press(chooser, "The whole community")
    await user.expect_edit(chooser, contains="is now before the courtyard council")


def _flat(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _traces(db: Database, telegram_id: int) -> dict[str, list[str]]:
    """Every table.column holding one of the resident's traces, by trace."""
    found: dict[str, list[str]] = {}
    tid = re.compile(rf"(?<!\d){telegram_id}(?!\d)")
    async with db.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await session.exec(core_select(table))).mappings().all()
            for row in rows:
                for column, value in row.items():
                    if value is None:
                        continue
                    text = _flat(value)
                    digits = re.sub(r"\D", "", text)
                    where = f"{table.name}.{column}"
                    for trace, hit in (
                        ("name", NAME in text),
                        ("phone", "0000 1234" in text or "0000-1234" in text),
                        ("phone digits", "800001234" in digits),
                        ("telegram id", bool(tid.search(text))),
                        *((f"words: {w}", w in text) for w in THEIR_OWN_WORDS),
                    ):
                        if hit and where not in found.get(trace, []):
                            found.setdefault(trace, []).append(where)
    return found


async def _counts(db: Database) -> tuple[int, ...]:
    """What the three rates and a campaign's verdict are computed from."""
    async with db.session() as session:
        issues = (await session.exec(select(Issue))).all()
        follow_ups = (await session.exec(select(FollowUp))).all()
        supporters = (await session.exec(select(IssueSupporter))).all()
        campaign = (await session.exec(select(ConsentCampaign))).one()
        voted = [h for h in await consent.households(session, campaign) if h.choice]
    return (
        len(issues),
        sum(1 for i in issues if i.first_response_at),
        sum(1 for i in issues if i.resolved_at),
        sum(1 for f in follow_ups if f.satisfaction),
        len(supporters),
        len(voted),
    )


async def test_forget_leaves_no_trace_in_any_column_of_any_table(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en")
    group, xu, wang = room.group, room.xu, room.wang
    async with db.session() as session:  # a campaign for his building, he is verified for 101
        community = room.community
        building = (
            await session.exec(select(Building).where(Building.community_id == community.id))
        ).first()
        assert building is not None and building.id is not None
        campaign = await make_campaign(session, community, "Add an elevator?", now=clock())
        member = (
            await session.exec(select(Membership).where(Membership.person_id == room.pid(xu)))
        ).one()
        member.building_id = building.id
        worker = (
            await session.exec(select(Membership).where(Membership.person_id == room.pid(wang)))
        ).one()
        await households.verify_by_worker(
            session,
            member,
            worker=worker,
            building_id=building.id,
            unit_id=None,
            room="101",
            now=clock(),
        )
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report_with_taps(xu, REPORT, "Public facilities")
        confirmation = xu.messages[-1]
        await dispatch_due(app, now=clock())
        card = await group.expect_message(contains="No. 1")
        assert NAME in card.text and TYPED_PHONE in card.text

        # the worker claims it and notes how he reached the resident
        await group.press(wang, card, "Claim")
        await group.expect_edit(card, contains="Owner: 王网格")
        await group.press(wang, card, "Internal note…")
        prompt = await group.expect_message(contains="write the internal note for No. 1")
        await group.send(wang, f"Called {NAME} on {PHONE}, he is home after 6", reply_to=prompt)
        await group.expect_edit(card, contains="Last internal note")

        # the resident adds words and a photo by replying to the confirmation
        await xu.send(REPLY, reply_to=confirmation)
        await xu.expect_message(contains="Added to No. 1")
        await xu.send_photo(CAPTION, reply_to=confirmation)
        await xu.expect_message(contains="Added to No. 1")

        # resolved; his follow-up, with a comment
        await group.press(wang, card, "Resolve…")
        prompt = await group.expect_message(contains="how was No. 1 resolved?")
        await group.send(wang, f"New bulb; {NAME} was pleased", reply_to=prompt)
        await group.expect_message(contains="No. 1 is resolved")
        await dispatch_due(app, now=clock())
        question = await xu.expect_message(contains="Is the problem really solved?")
        await xu.press(question, "Solved")
        await xu.expect_edit(question, contains="How satisfied are you")
        await xu.press(question, "Satisfied")
        await xu.expect_edit(question, contains="Anything you would like")
        await xu.send(FOLLOW_UP_WORDS)
        await xu.expect_message(contains="I have passed it on with No. 1.")

        # a council topic, a consent vote with concerns, and a draft left open
        await _propose(xu, "Bins", TOPIC)
        await dispatch_due(app, now=clock())
        topic_card = await group.expect_message(contains="Topic #1: Bins")
        assert NAME in topic_card.text and TYPED_PHONE in topic_card.text
        async with db.session() as session:
            stored = await session.get(ConsentCampaign, campaign.id)
            assert stored is not None
            await consent.open_campaign(session, stored, now=clock())
        await xu.send("/vote")
        ballot = await xu.expect_message(contains="Your household: room 101")
        await xu.press(ballot, "Disagree")
        await xu.expect_message(contains="If you have worries")
        await xu.send(CONCERNS)
        await xu.expect_message(contains="has noted your concerns")
        await xu.send(DRAFT)
        await xu.expect_message(contains="What is the problem about?")
        await dispatch_due(app, now=clock())

        # /mydata shows all of it, the council's and the vote's too
        await xu.send("/mydata")
        sent = await xu.expect_message(predicate=lambda m: m.document is not None)
        assert sent.document is not None
        mine = json.loads(sent.document)
        assert mine["profile"]["phone"] == PHONE
        assert [t["description"] for t in mine["council_topics"]] == [TOPIC]
        assert [v["concerns"] for v in mine["consent_votes"] if v["concerns"]] == [CONCERNS]
        assert [h["room"] for h in mine["verified_homes"]] == ["101"]
        assert mine["conversation_in_progress"][0]["draft"]

        before = await _traces(db, xu.id)
        counts = await _counts(db)
        clock.advance(minutes=5)
        await xu.send("/forget")
        ask = await xu.expect_message(contains="Do you want the notebook to forget you?")
        await xu.press(ask, "Yes, forget me")
        done = await xu.expect_edit(ask, contains="Done. The notebook no longer knows who you are")
        for told in (
            "Kept, without anything that points to you:",
            "the problem you reported, without your name or phone number",
            "the topic you raised with the council",
            'satisfaction rates stay true: "me too" 0, follow-up answers 1',
            "your consent vote, for your household",
            "Backups made before today still hold your data until they age out (after",
        ):
            assert told in done.text, told
        # the card in the staff group is edited at once: no name, no phone
        await group.expect_edit(card, predicate=lambda m: NAME not in m.text)
        assert ANONYMOUS_NAME in card.text and TYPED_PHONE not in card.text
        assert "0000 1234" not in card.text and "Stairwell light broken" in card.text
        # and so is the council topic's card
        await group.expect_edit(topic_card, predicate=lambda m: NAME not in m.text)
        assert TYPED_PHONE not in topic_card.text and "The bins by 1栋 overflow" in topic_card.text
        await emulator.wait_idle()

    # every trace was there before: the scan looks where they are
    for trace in ("name", "phone", "telegram id", *(f"words: {w}" for w in THEIR_OWN_WORDS)):
        assert before.get(trace), f"{trace} was never stored: the flows above changed"
    for table in ("inbox_update", "issue", "issue_event", "council_topic", "chat_state"):
        assert any(w.startswith(f"{table}.") for hits in before.values() for w in hits), table
    assert "consent_vote_log.concerns" in before[f"words: {CONCERNS}"]
    assert "issue_message.chat_id" in before["telegram id"]
    assert await _traces(db, xu.id) == {}
    assert await _counts(db) == counts  # the rates and the verdict do not move
    async with db.session() as session:
        person = await session.get(Person, room.pid(xu))
        assert person is not None and person.full_name == ANONYMOUS_NAME
        issue = (await session.exec(select(Issue).where(col(Issue.number) == 1))).one()
        assert issue.reporter_id == person.id and "Stairwell light broken" in issue.description
    assert bot_errors(emulator) == []


async def test_handled_updates_lose_their_payload_after_the_recovery_window(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """The cleaning job: a handled update's payload (his name, id, words) is reduced to what
    tells a redelivery from a new update once INBOX_PAYLOAD_HOURS have passed; a redelivery of
    it is still recognised and not handled twice."""
    from bot.jobs import housekeeping
    from storage import inbox
    from storage.models import InboxUpdate

    room = await staffroom(emulator, db, clock, locale="en")
    xu = room.xu
    async with running_bot(emulator, db, clock) as app:
        await xu.send(REPORT)
        await xu.expect_message(contains="What is the problem about?")
        await emulator.wait_idle()
        assert await housekeeping(app) == 0
        assert (await _traces(db, xu.id)).get("telegram id")
        clock.advance(hours=app.notebook.settings.inbox_payload_hours, minutes=1)
        await housekeeping(app)
    found = await _traces(db, xu.id)
    assert not any(w.startswith("inbox_update.") for hits in found.values() for w in hits)
    async with db.session() as session:
        row = (await session.exec(select(InboxUpdate))).first()
        assert row is not None and row.payload[REDUCED] is True
        assert set(row.payload) <= {REDUCED, "kind", "message_id", "date", "edit_date", "id"}
    # Telegram sends the same update again: known, not new
    raw = emulator.history(xu.id)[0]
    again = {"update_id": row.update_id, "message": raw}
    async with db.session() as session:
        assert not await inbox.store(session, update_id=row.update_id, payload=again, now=clock())
        fresh = {"update_id": row.update_id, "message": {**raw, "date": raw["date"] + 86400}}
        assert await inbox.store(session, update_id=row.update_id, payload=fresh, now=clock())
