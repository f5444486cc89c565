"""Who may do what on the staff side: binding the staff group, and forged or misplaced button
presses that must be refused with an alert and change nothing."""

from __future__ import annotations

from sqlmodel import select

from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from handlers.staff.card_claim import OWNER
from handlers.staff.card_steps import CANCEL
from handlers.staff.cards import (
    ACCEPT,
    CLAIM,
    DIFFICULTY,
    INFO,
    PHONE_FOLLOW_UP,
    PLAN,
    RESOLVE,
)
from handlers.staff.todo import SHOW
from storage.db import Database
from storage.models import Community, Difficulty, Role
from tests.factories import FakeClock, bot_errors, make_community, make_member, running_bot
from tests.staffroom import PHONE, Staffroom, bind, load, post_cards, report, snapshot, staffroom


async def test_forged_presses_from_a_resident_and_another_communitys_worker_change_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, xu = room.group, room.xu
    other = await make_community(db, clock, name="石门社区")
    zhao = emulator.user(first_name="赵网格", language_code="zh-hans")
    async with db.session() as session:
        stored = await session.get(Community, other.id)
        assert stored is not None
        await make_member(session, stored, Role.WORKER, name="赵网格", telegram_user_id=zhao.id)
    other_group = emulator.group(title="石门社区工作群", members=[zhao])
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(xu))
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        await group.press(room.wang, card, "认领")
        await group.expect_edit(card, contains="负责人：王网格")
        before = await snapshot(db, issue.id)
        forged = [
            ACCEPT.data(issue.id),
            CLAIM.data(issue.id),
            RESOLVE.data(issue.id),
            OWNER.data(issue.id, room.pid(xu)),
            DIFFICULTY.data(issue.id, Difficulty.ESCALATE),
            CANCEL.data(issue.id),
            INFO.data(issue.id, "contact"),
            INFO.data(issue.id, "text"),
            SHOW.data(issue.id),
            PHONE_FOLLOW_UP.data(issue.id),
        ]

        # a resident, in their private chat with the bot
        await xu.send("/start")
        home = await xu.expect_message()
        for data in forged:
            answer = await xu.press_data(home, data)
            assert answer.show_alert, data
            assert answer.text == "这个按钮只有社区工作人员能用。", data

        # a resident who found their way into the staff group presses the real card
        answer = await group.press(xu, card, "办结…")
        assert answer.show_alert and answer.text == "这个按钮只有社区工作人员能用。"

        # another community's worker, in their own staff group, with the id of our issue
        await other_group.send(zhao, "/bind")
        their_bind = await other_group.expect_message(contains="石门社区")
        for data in forged:
            answer = await other_group.press_data(zhao, their_bind, data)
            assert answer.show_alert, data
        assert await snapshot(db, issue.id) == before

        # and our own worker cannot act on our issue from their group either
        answer = await other_group.press_data(room.wang, their_bind, PLAN.data(issue.id))
        assert answer.show_alert
        # nor start typed work from a private chat (only one-tap actions work there)
        await room.wang.send("/start")
        private = await room.wang.expect_message()
        answer = await room.wang.press_data(private, PLAN.data(issue.id))
        assert answer.show_alert and answer.text == "请在工作群的卡片上操作。"
        await dispatch_due(app, now=clock())
    assert await snapshot(db, issue.id) == before
    assert not [
        m for m in xu.messages if PHONE in m.text
    ]  # the forged "show contact" leaked nothing
    assert bot_errors(emulator) == []


async def test_a_forged_card_press_with_a_malformed_id_is_no_longer_valid_and_changes_nothing(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group = room.group
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        before = await snapshot(db, issue.id)
        claim = CLAIM.data(issue.id)
        malformed = [
            claim.rsplit(":", 1)[0] + ":x",  # claim with "x" for the issue's id
            claim + ":1",  # one value too many
            claim.rsplit(":", 1)[0],  # no id at all
            DIFFICULTY.data(issue.id, Difficulty.ESCALATE).rsplit(":", 1)[0] + ":hard",
            "c:clm:" + str(issue.id),  # a button from before the codec
        ]
        for data in malformed:
            answer = await group.press_data(room.wang, card, data)
            assert answer.show_alert, data
            assert answer.text == "这个按钮属于一条较早的消息。请使用最新的消息，或发送 /start。", (
                data
            )
        await dispatch_due(app, now=clock())
        assert "负责人：暂无" in card.text  # the card was not edited
    assert await snapshot(db, issue.id) == before
    assert bot_errors(emulator) == []


async def test_binding_the_staff_group(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, xie, wang, xu = room.group, room.secretary, room.wang, room.xu
    other = await make_community(db, clock, name="石门社区")
    chen = emulator.user(first_name="陈书记", language_code="zh-hans")
    async with db.session() as session:
        stored = await session.get(Community, other.id)
        assert stored is not None
        await make_member(session, stored, Role.SECRETARY, name="陈书记", telegram_user_id=chen.id)
    async with running_bot(emulator, db, clock) as app:
        # reported before any group exists: no card can be queued yet
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(xu))
        await dispatch_due(app, now=clock())

        await xu.send("/bind")
        await xu.expect_message(contains="请把我拉进社区工作群，然后在群里发送 /bind")
        await group.send(xu, "/bind")
        await group.expect_message(contains="只有社区书记或社区工作者才能把这个群设为工作群")

        await group.send(xie, "/bind")
        await group.expect_message(contains="这个群现在是邢家桥社区的工作群")
        await dispatch_due(app, now=clock())
        card = await group.expect_message(contains="1号 · ")  # the earlier issue gets its card
        await group.send(xie, "/bind@notebook_bot")
        await group.expect_message(contains="这个群已经是邢家桥社区的工作群了")
        await group.send(chen, "/bind")
        await group.expect_message(
            contains="这个群已经是邢家桥社区的工作群了。请为石门社区另建一个群"
        )

        # moving to a new group: open issues get a new card there, the old card goes quiet
        # a worker asks, the secretary confirms; the old group is told
        new_group = emulator.group(title="邢家桥新工作群", members=[xie, wang])
        await new_group.send(wang, "/bind")
        await new_group.expect_message(contains="已请书记确认把这个群设为邢家桥社区的工作群")
        ask = await xie.expect_message(
            contains="王网格请求把群“邢家桥新工作群”设为邢家桥社区的工作群"
        )
        assert "现在的工作群将不再收到卡片" in ask.text
        confirm = ask.button("确认")
        assert confirm is not None and confirm.callback_data
        await xie.press(ask, "确认")
        await xie.expect_edit(ask, contains="已确认：“邢家桥新工作群”现在是邢家桥社区的工作群")
        await new_group.expect_message(contains="邢家桥社区的工作群已换成这个群")
        await group.expect_message(contains="邢家桥社区的工作群已换到另一个群")
        again = await xie.press_data(ask, confirm.callback_data)  # answered already
        assert again.show_alert and "已经处理过" in (again.text or "")
        await dispatch_due(app, now=clock())
        new_card = await new_group.expect_message(contains="1号 · ")
        old_press = await group.press(wang, card, "受理")
        assert old_press.show_alert
        await new_group.press(wang, new_card, "受理")
        await new_group.expect_edit(new_card, contains="状态：已受理")
    async with db.session() as session:
        communities = (await session.exec(select(Community).order_by(Community.id))).all()  # type: ignore[arg-type]
    assert communities[0].staff_chat_id == new_group.id
    assert communities[1].staff_chat_id is None
    assert (await load(db, issue.id)).staff_message_id == new_card.message_id
    assert bot_errors(emulator) == []


async def test_a_workers_bind_in_a_strange_group_changes_nothing_until_the_secretary_confirms(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)
    group, xie, wang, li = room.group, room.secretary, room.wang, room.li
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        issue = await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())
        await group.expect_message(contains="1号 · ")

        # a public group is refused, whoever asks, the secretary too
        public = emulator.group(title="邢家桥闲聊", username="xingjiaqiao_chat", members=[xie])
        await public.send(xie, "/bind")
        await public.expect_message(contains="这个群是公开群")

        # a worker's /bind in a group of his own: a request, nothing moves
        strange = emulator.group(title="王网格的群", members=[wang])
        await strange.send(wang, "/bind")
        await strange.expect_message(contains="已请书记确认")
        ask = await xie.expect_message(contains="王网格请求把群“王网格的群”设为邢家桥社区的工作群")
        confirm, refuse = ask.button("确认"), ask.button("拒绝")
        assert confirm is not None and refuse is not None
        # the worker (or another worker) forging the secretary's press changes nothing
        for worker in (wang, li):
            await worker.send("/start")
            home = await worker.expect_message()
            forged = await worker.press_data(home, confirm.callback_data)
            assert forged.show_alert and "只有社区书记" in (forged.text or "")
        await dispatch_due(app, now=clock())
        assert not [m for m in strange.messages if "1号 · " in m.text]  # no card went there
        assert (await load_community(db, room)).staff_chat_id == group.id

        # the secretary refuses: still nothing, and the group hears it
        await xie.press(ask, "拒绝")
        await xie.expect_edit(ask, contains="已拒绝")
        await strange.expect_message(contains="书记没有同意把这个群设为工作群")
        late = await xie.press_data(ask, confirm.callback_data)
        assert late.show_alert

        # a request left a day and more is no longer valid
        await strange.send(wang, "/bind")
        ask = await xie.expect_message(contains="王网格请求把群")
        clock.advance(hours=25)
        expired = await xie.press(ask, "确认")
        assert expired.show_alert and "已过期" in (expired.text or "")
        await dispatch_due(app, now=clock())
        assert (await load_community(db, room)).staff_chat_id == group.id
        assert not [m for m in strange.messages if "1号 · " in m.text]
        assert not [m for m in group.messages if "已换到另一个群" in m.text]
    assert (await load(db, issue.id)).staff_message_id is not None
    assert bot_errors(emulator) == []


async def load_community(db: Database, room: Staffroom) -> Community:
    async with db.session() as session:
        stored = await session.get(Community, room.community.id)
    assert stored is not None
    return stored
