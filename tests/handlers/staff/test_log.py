"""/log: a worker notes an issue a resident raised by phone, at the desk, on a home visit or at
a courtyard meeting; same questions as a resident's own report. A registered resident then
hears every step; one without Telegram is registered by name and phone for next time."""

from __future__ import annotations

from sqlmodel import select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from storage import issues as rules
from storage.db import Database
from storage.models import Channel, ContactLook, Issue, Membership, Person, Role
from storage.notifications import notify_audience
from storage.reports import ISSUE_LOGGED
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.resident_helpers import building_ids, join, only_issue, outbox_rows


async def test_worker_logs_a_phone_call_for_a_registered_resident_who_then_hears_every_step(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    wang = emulator.user(first_name="Wang", language_code="en")
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    worker = await join(db, community, wang, Role.WORKER)
    resident = await join(db, community, xu, building=1)
    async with db.session() as session:
        row = await session.get(Person, resident.id)
        assert row is not None
        row.phone = "+8613800001234"
        session.add(row)
    async with running_bot(emulator, db, clock) as app:
        await xu.send("/help")  # Xu has a chat with the bot
        await xu.expect_message()
        await wang.send("/log")
        question = await wang.expect_message(contains="How did they reach you?")
        await wang.press(question, "phone")
        await wang.expect_edit(question, contains="Who is it for?")
        await wang.send("138 0000 1234")  # the whole number, however written
        found = await wang.expect_message(contains="Is it one of these residents?")
        await wang.press(found, "Lao Xu · 2栋 · ****1234")
        await wang.expect_edit(found, contains="What is the problem about?")
        await wang.press(found, "Noise")
        await wang.expect_edit(found, contains="tell me in a few words")
        await wang.send("Karaoke <every night> & weekends")
        photo = await wang.expect_message(contains="add a photo")
        await wang.press(photo, "No photo")
        await wang.expect_edit(photo, contains="danger")
        await wang.press(photo, "No")
        summary = await wang.expect_edit(photo, contains="Please check")
        assert "For: Lao Xu (****1234) · via phone" in summary.text
        await wang.press(photo, "✅ Send")
        done = await wang.expect_edit(photo, contains="Logged as No. 1 for Lao Xu")
        assert "within 7 days" in done.text
        await dispatch_due(app, now=clock())
        told = await xu.expect_message(contains="The community noted your problem (phone) as No. 1")
        assert "«Karaoke <every night> & weekends»" in told.text
        async with db.session() as session:
            issue = await session.get(Issue, (await only_issue(db)).id)
            assert issue is not None
            event = await rules.accept(session, issue, actor_id=worker.id or 0, now=clock())
            await notify_audience(session, issue, event, now=clock())
        await dispatch_due(app, now=clock())
        await xu.expect_message(contains="Your issue No. 1 has been accepted")
        await xu.send("They are at it again right now", reply_to=told)
        await xu.expect_message(contains="Added to No. 1")
    issue = await only_issue(db)
    assert issue.channel == Channel.PHONE
    assert issue.reporter_id == resident.id and issue.logged_by_id == worker.id
    assert issue.building_id == (await building_ids(db, community))[1]
    assert len(await outbox_rows(db, ISSUE_LOGGED)) == 1
    assert bot_errors(emulator) == []


async def test_worker_logs_for_someone_without_telegram_who_is_then_known(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    wang = emulator.user(first_name="Wang", language_code="en")
    await join(db, community, wang, Role.WORKER)
    async with running_bot(emulator, db, clock):
        await wang.send("/log")
        question = await wang.expect_message(contains="How did they reach you?")
        await wang.press(question, "courtyard meeting")
        await wang.expect_edit(question, contains="Who is it for?")
        await wang.send("Grandma Zhou")
        await wang.expect_message(contains="Nobody found for «Grandma Zhou»")
        await wang.press(question, "Not registered: enter name and phone")
        await wang.expect_edit(question, contains="What is the resident's name?")
        await wang.send("Grandma Zhou <the elder>")
        await wang.expect_message(contains="Their phone number")
        await wang.send("no idea")
        await wang.expect_message(contains="That does not look like a phone number")
        await wang.send("023-6888 1234")
        building = await wang.expect_message(contains="Which building is it about?")
        await wang.press(building, "3栋")
        await wang.expect_edit(building, contains="What is the problem about?")
        await wang.press(building, "Service desk matters")
        await wang.expect_edit(building, predicate=lambda m: m.button("Civil affairs") is not None)
        await wang.press(building, "Civil affairs")
        await wang.expect_edit(building, contains="tell me in a few words")
        await wang.send("Needs help applying for the elderly allowance")
        media = await wang.expect_message(contains="add a photo")
        await wang.press(media, "No photo")
        await wang.expect_edit(media, contains="danger")
        await wang.press(media, "No")
        await wang.expect_edit(media, contains="For: Grandma Zhou <the elder> (02368881234)")
        await wang.press(media, "✅ Send")
        await wang.expect_edit(media, contains="Logged as No. 1 for Grandma Zhou <the elder>")

        await wang.send("/log")  # the next call finds her
        question = await wang.expect_message(contains="How did they reach you?")
        await wang.press(question, "service desk")
        await wang.expect_edit(question, contains="Who is it for?")
        await wang.send("6888")  # a few digits find nobody: they would enumerate phones
        await wang.expect_message(contains="Nobody found for «6888»")
        await wang.send("０２３－６８８８－１２３４")
        found = await wang.expect_message(contains="Is it one of these residents?")
        assert found.button("Grandma Zhou <the elder> · 3栋 · ****1234") is not None
    issue = await only_issue(db)
    assert issue.channel == Channel.MEETING and issue.category == "civil_affairs"
    async with db.session() as session:
        zhou = await session.get(Person, issue.reporter_id)
        member = (
            await session.exec(select(Membership).where(Membership.person_id == issue.reporter_id))
        ).one()
    assert zhou is not None and zhou.telegram_user_id is None and zhou.phone == "02368881234"
    assert member.role == Role.RESIDENT and member.building_id == issue.building_id
    assert await outbox_rows(db, ISSUE_LOGGED) == []  # no Telegram: the worker calls her back
    assert bot_errors(emulator) == []


async def test_only_staff_log_and_a_resident_cannot_hijack_a_log_draft(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    await join(db, community, xu)
    async with running_bot(emulator, db, clock):
        await xu.send("/log")
        await xu.expect_message(contains="Only community staff can log issues")
        await xu.send("Noise upstairs")
        question = await xu.expect_message(contains="What is the problem about?")
        answer = await xu.press_data(
            question, question.buttons[0][0].callback_data.rsplit(":", 2)[0] + ":ch:phone"
        )  # type: ignore[union-attr]
        assert answer.show_alert  # channel questions belong to /log, not to a resident's report
    assert bot_errors(emulator) == []


async def test_a_found_residents_phone_is_masked_and_each_look_at_it_is_recorded(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    other = await make_community(db, clock, name="别的社区")
    wang = emulator.user(first_name="Wang", language_code="en")
    xu = emulator.user(first_name="Lao Xu", language_code="en")
    zhao = emulator.user(first_name="Zhao", language_code="en")
    worker = await join(db, community, wang, Role.WORKER)
    resident = await join(db, community, xu, building=1)
    await join(db, community, zhao)
    outsider = await join(db, other, emulator.user(first_name="Lao Xu"))
    colleague = await join(db, community, emulator.user(first_name="Lao Xu"), Role.WORKER)
    async with db.session() as session:
        for person_id, phone in (
            (resident.id, "13800001234"),
            (outsider.id, "13900001234"),
            (colleague.id, "13700001234"),
        ):
            row = await session.get(Person, person_id)
            assert row is not None
            row.phone = phone
    async with running_bot(emulator, db, clock):
        await wang.send("/log")
        question = await wang.expect_message(contains="How did they reach you?")
        await wang.press(question, "phone")
        await wang.expect_edit(question, contains="Who is it for?")
        await wang.send("Lao Xu")
        found = await wang.expect_message(contains="Is it one of these residents?")
        assert "13800001234" not in str(found.buttons)
        assert [b.text for b in found.buttons[0]] == ["Lao Xu · 2栋 · ****1234", "📞 Show"]
        assert len([row for row in found.buttons if "Lao Xu" in row[0].text]) == 1  # no staff
        assert await _looks(db) == []

        answer = await wang.press(found, "📞 Show")
        assert answer.show_alert and answer.text == "Lao Xu, phone 13800001234"
        assert await _looks(db) == [(resident.id, worker.id, "log")]

        show = found.buttons[0][1].callback_data
        assert show is not None
        person_id = show.rsplit(":", 1)[-1]
        for forged in (outsider.id, colleague.id, 99999):  # not a resident of this community
            answer = await wang.press_data(found, show.replace(f":{person_id}", f":{forged}"))
            assert answer.show_alert and "phone" not in (answer.text or "")
        await zhao.send("/help")
        own = await zhao.expect_message()
        answer = await zhao.press_data(own, show)  # a resident replaying the worker's button
        assert "13800001234" not in (answer.text or "")
        assert await _looks(db) == [(resident.id, worker.id, "log")]

        await wang.press(found, "Lao Xu · 2栋 · ****1234")  # picking them needs no look
        await wang.expect_edit(found, contains="What is the problem about?")
        answer = await wang.press_data(found, show)  # still the worker's draft: shown, and noted
        assert answer.text == "Lao Xu, phone 13800001234"
        await wang.press(found, "Cancel")
        await wang.expect_edit(found)
        answer = await wang.press_data(found, show)  # the draft is gone: the button is stale
        assert "13800001234" not in (answer.text or "")
    assert await _looks(db) == [(resident.id, worker.id, "log")] * 2
    assert bot_errors(emulator) == []


async def _looks(db: Database) -> list[tuple[int, int, str]]:
    async with db.session() as session:
        rows = (await session.exec(select(ContactLook).order_by(ContactLook.id))).all()  # type: ignore[arg-type]
    return [(r.person_id, r.actor_id, r.via) for r in rows]
