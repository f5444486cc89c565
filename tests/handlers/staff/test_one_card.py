"""One card per issue in the staff group (issue #22, Must 6): a card queued twice is posted once
and then edited; through a day of reminders the group holds one live card per issue; a card
someone deleted is posted again at its next change; and a copy posted twice loses its buttons."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from emulator.driver import GroupDriver
from handlers.staff import card_delivery
from runtime.rendering import Sent
from storage import issues as rules
from storage.db import Database
from storage.issue_support import add_support
from storage.models import Issue, Outbox
from storage.notifications import CARD_REFRESH, issue_changed, issue_opened
from storage.reminders import ReminderPolicy, plan_reminders
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import bind, load, report, staffroom


def live_cards(group: GroupDriver, number: int) -> list[str]:
    """The texts of the messages in the group that are issue `number`'s card with buttons."""
    head = f"{number}号 · "
    return [m.text for m in group.messages if not m.deleted and head in m.text and m.buttons]


async def test_a_card_queued_twice_is_one_card_through_a_day_of_reminders(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    # reported before the staff group exists: /bind queues its card, and so does the report's
    # own notice once a group is there (the sandbox's demo does both)
    issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await room.group.expect_message(contains="1号 · ")  # /bind's card, after its commit
        async with db.session() as session:
            assert await issue_opened(session, await load_in(session, issue.id), now=clock())
        await dispatch_due(app, now=clock())
        assert len(live_cards(room.group, 1)) == 1
        for _hour in range(24):
            clock.advance(hours=1)
            async with db.session() as session:
                await plan_reminders(session, now=clock(), policy=ReminderPolicy())
                if _hour == 9:  # a change in the morning: the card is edited, not posted again
                    fresh = await load_in(session, issue.id)
                    await rules.accept(session, fresh, actor_id=room.pid(room.wang), now=clock())
                    await issue_changed(session, fresh, now=clock())
            await dispatch_due(app, now=clock())
        cards = live_cards(room.group, 1)
        assert len(cards) == 1
        assert "状态：已受理" in cards[0]
    assert bot_errors(emulator) == []


async def test_a_deleted_card_comes_back_at_its_next_change(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())
        card = await room.group.expect_message(contains="1号 · ")
        room.group.delete(card)  # an admin tidied the group
        assert live_cards(room.group, 1) == []
        async with db.session() as session:
            fresh = await load_in(session, issue.id)
            await rules.accept(session, fresh, actor_id=room.pid(room.wang), now=clock())
            await issue_changed(session, fresh, now=clock())
        await dispatch_due(app, now=clock())
        cards = live_cards(room.group, 1)
        assert len(cards) == 1 and "状态：已受理" in cards[0]
        assert (await load(db, issue.id)).staff_message_id != card.message_id
        await dispatch_due(app, now=clock())
    # the only refusals: editing the deleted card, which is how the bot learns it is gone
    refused = bot_errors(emulator)
    assert refused and all(
        e.params["message_id"] == card.message_id and "message to edit not found" in e.description
        for e in refused
    )


async def test_a_card_posted_again_takes_the_buttons_off_the_old_copy(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """Two posts of one card can cross (two instances, or a post and a refresh rendered in one
    update before either went out): the copy that lands second is the card, and the first
    keeps its text but loses its buttons."""
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        tr = app.notebook.i18n.translator("zh_Hans", app.notebook.settings.tz)
        async with db.session() as session:
            assert await issue_changed(session, await load_in(session, issue.id), now=clock())
        async with db.session() as session:
            row = (await session.exec(select(Outbox).where(Outbox.kind == CARD_REFRESH))).one()
            row.claimed_at = clock()
            crossing = await card_delivery.render_card_row(
                session, row, tr
            )  # rendered: no card yet
        assert crossing is not None and crossing.edit_message_id is None
        await dispatch_due(app, now=clock())  # meanwhile the card itself is posted
        first = await room.group.expect_message(contains="1号 · ")
        # ... and then the crossing copy goes out too
        message = await app.bot.send_message(
            room.group.chat_id, crossing.text, reply_markup=crossing.reply_markup
        )
        assert crossing.after_send is not None
        async with db.session() as session:
            await crossing.after_send(
                session, app.bot, Sent(message.chat_id, message.message_id, message.date)
            )
        await dispatch_due(app, now=clock())
        assert len(live_cards(room.group, 1)) == 1
        assert (await load(db, issue.id)).staff_message_id == message.message_id
        old = next(m for m in room.group.messages if m.message_id == first.message_id)
        assert not old.buttons
        assert "此卡片已在下方重新发出" in old.text
        assert "1号 · " in old.text  # it still reads as the card it was
    assert bot_errors(emulator) == []


async def load_in(session: AsyncSession, issue_id: int | None) -> Issue:
    found = await session.get(Issue, issue_id)
    assert found is not None
    return found


async def test_every_me_too_shows_on_the_card(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """ "Me too" adds a supporter without a new version of the issue: each one still refreshes
    the card (the refresh is keyed by the card's state, not the version alone)."""
    room = await staffroom(emulator, db, clock)
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())
        card = await room.group.expect_message(contains="1号 · ")
        for count, neighbour in enumerate((room.li, room.secretary), start=1):
            async with db.session() as session:
                fresh = await load_in(session, issue.id)
                assert await add_support(session, fresh, person_id=room.pid(neighbour), now=clock())
                assert await issue_changed(session, fresh, now=clock())
            await dispatch_due(app, now=clock())
            assert f"附议的邻居：{count}人" in card.text
    assert bot_errors(emulator) == []
