"""Staff turnover as the secretary and workers live it, through the Bot API emulator: /staff
deactivates a worker who left (their items move, their buttons stop working), the secretary's
role is handed over, /invite withdraws links."""

from __future__ import annotations

from sqlmodel import col, select

from emulator import BotApiEmulator
from emulator.driver import UserDriver
from handlers.secretary.invites import REVOKE
from handlers.secretary.staff_admin import EXECUTE
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Community, InviteLink, Issue, IssueEvent, IssueStatus, Role
from storage.people import role_in
from tests.factories import (
    FakeClock,
    bot_errors,
    make_community,
    make_invite_token,
    make_member,
    running_bot,
)


async def _office(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> tuple[Community, dict[str, UserDriver], dict[str, int]]:
    """谢兰 (secretary), 王网格 who owns two issues, 李网格, and the resident 老许."""
    community = await make_community(db, clock)
    users = {
        "xie": emulator.user(first_name="谢兰", language_code="zh-hans"),
        "wang": emulator.user(first_name="王网格", language_code="zh-hans"),
        "li": emulator.user(first_name="李网格", language_code="zh-hans"),
        "xu": emulator.user(first_name="老许", language_code="zh-hans"),
    }
    roles = {"xie": Role.SECRETARY, "wang": Role.WORKER, "li": Role.WORKER, "xu": Role.RESIDENT}
    ids: dict[str, int] = {}
    async with db.session() as session:
        for key, user in users.items():
            person = await make_member(
                session, community, roles[key], name=user.first_name, telegram_user_id=user.id
            )
            assert person.id is not None
            ids[key] = person.id
        for description in ("楼道灯坏了", "下水道堵了"):
            issue = await rules.create_issue(
                session,
                community_id=community.id,
                reporter_id=ids["xu"],
                category="facilities",
                description=description,
                now=clock(),
                limits=TimeLimits(),
            )
            await rules.claim(session, issue, actor_id=ids["wang"], now=clock())
    return community, users, ids


async def test_the_secretary_deactivates_a_worker_and_their_items_go_to_another(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, users, ids = await _office(emulator, db, clock)
    xie, wang, li, xu = users["xie"], users["wang"], users["li"], users["xu"]
    async with running_bot(emulator, db, clock):
        for user in users.values():  # everyone has opened a chat with the bot
            await user.send("/start")
            await user.expect_message()
        await xie.send("/staff")
        menu = await xie.expect_message(contains="邢家桥社区的工作人员")
        await xie.press(menu, "王网格（2件）")
        await xie.expect_edit(menu, contains="手上的事项（2件）：1号、2号")
        await xie.press(menu, "已离岗：停用")
        await xie.expect_edit(menu, contains="王网格手上的2件事项交给谁？")
        await xie.press(menu, "交给李网格")
        await xie.expect_edit(menu, contains="他/她手上的2件事项将交给李网格")
        await xie.press(menu, "确定停用")
        await xie.expect_edit(menu, contains="2件事项已交给李网格：1号、2号")

        await li.expect_message(contains="王网格已离开社区工作岗位。这些事项现在交给您：1号、2号")
        await xu.expect_message(contains="1号问题现在由李网格负责")
        await xu.expect_message(contains="2号问题现在由李网格负责")

        # the leaver's rights are gone: /help no longer knows them as staff
        await wang.send("/help")
        await wang.expect_message(contains="请打开社区给您的链接")
        # and a stale button of the secretary's (the worker is no longer active) changes nothing
        answer = await xie.press_data(menu, EXECUTE.data(ids["wang"], 0))
        assert answer.show_alert and "较早的消息" in (answer.text or "")
    async with db.session() as session:
        issues = (await session.exec(select(Issue).order_by(col(Issue.number)))).all()
        assert [(i.owner_id, i.status) for i in issues] == [(ids["li"], IssueStatus.ASSIGNED)] * 2
        events = (
            await session.exec(
                select(IssueEvent).where(IssueEvent.kind == "assigned").order_by(col(IssueEvent.id))
            )
        ).all()
        assert [(e.actor_id, e.text, e.data["staff_left"]) for e in events] == [
            (ids["xie"], "王网格已离开社区工作岗位。", ids["wang"])
        ] * 2
        assert await role_in(session, person_id=ids["wang"], community_id=community.id) is None
    assert bot_errors(emulator) == []


async def test_only_the_secretary_presses_staff_buttons_and_a_leavers_offer_dies(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, users, ids = await _office(emulator, db, clock)
    xie, wang, li = users["xie"], users["wang"], users["li"]
    async with running_bot(emulator, db, clock):
        for user in (xie, wang, li):
            await user.send("/start")
            await user.expect_message()
        await li.send("/staff")
        refusal = await li.expect_message(contains="只有社区书记可以管理工作人员")
        # a worker forging the secretary's button is refused and nothing happens
        forged = await li.press_data(refusal, EXECUTE.data(ids["wang"], 0))
        assert forged.show_alert and "只有社区书记" in (forged.text or "")
        await xie.send("/staff")
        menu = await xie.expect_message(contains="请选择一位工作人员")

        # the secretary asks Wang to take over, then (changing her mind) deactivates him
        await xie.press(menu, "王网格（2件）")
        await xie.expect_edit(menu, contains="社区工作者")
        await xie.press(menu, "把书记职责移交给他/她")
        await xie.expect_edit(menu, contains="对方需要在48小时内同意")
        await xie.press(menu, "好，去问他/她")
        await xie.expect_edit(menu, contains="已经问过王网格了")
        offer = await wang.expect_message(contains="谢兰请您接任邢家桥社区的社区书记")
        await xie.press(menu, "« 返回")
        await xie.expect_edit(menu, contains="正在等王网格同意接任书记")
        await xie.press(menu, "王网格（2件）")
        await xie.expect_edit(menu, contains="手上的事项")
        await xie.press(menu, "已离岗：停用")
        await xie.expect_edit(menu, contains="交给谁")
        await xie.press(menu, "退回我的待办")
        await xie.expect_edit(menu, contains="将交给您的待办")
        await xie.press(menu, "确定停用")
        await xie.expect_edit(menu, contains="2件事项已交给您的待办：1号、2号")
        answer = await wang.press(offer, "同意接任")  # the leaver's button no longer works
        assert answer.show_alert and "较早的消息" in (answer.text or "")
    async with db.session() as session:
        issues = (await session.exec(select(Issue))).all()
        assert {(i.owner_id, i.status) for i in issues} == {(None, IssueStatus.ACCEPTED)}
        secretary = await role_in(session, person_id=ids["xie"], community_id=_community.id)
        assert secretary is Role.SECRETARY
    assert bot_errors(emulator) == []


async def test_the_secretary_role_is_handed_over_when_the_worker_accepts(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, users, ids = await _office(emulator, db, clock)
    xie, li = users["xie"], users["li"]
    async with running_bot(emulator, db, clock):
        for user in (xie, li):
            await user.send("/start")
            await user.expect_message()
        await xie.send("/staff")
        menu = await xie.expect_message(contains="请选择一位工作人员")
        await xie.press(menu, "李网格（0件）")
        await xie.expect_edit(menu, contains="手上没有待办事项")
        await xie.press(menu, "把书记职责移交给他/她")
        await xie.expect_edit(menu, contains="移交后，您将成为社区工作者")
        await xie.press(menu, "好，去问他/她")
        offer = await li.expect_message(contains="请您接任邢家桥社区的社区书记")
        await li.press(offer, "同意接任")
        await li.expect_edit(offer, contains="您现在是邢家桥社区的社区书记了")
        await xie.expect_message(
            contains="李网格已同意，现在是邢家桥社区的社区书记；您成为社区工作者"
        )
        await xie.send("/staff")
        await xie.expect_message(contains="只有社区书记可以管理工作人员")
        await li.send("/staff")
        await li.expect_message(contains="请选择一位工作人员")  # 王网格, and now 谢兰
    async with db.session() as session:
        assert (
            await role_in(session, person_id=ids["li"], community_id=community.id) is Role.SECRETARY
        )
        assert (
            await role_in(session, person_id=ids["xie"], community_id=community.id) is Role.WORKER
        )
    assert bot_errors(emulator) == []


async def test_invite_lists_active_links_and_withdraws_one(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    token = await make_invite_token(db, clock, community, Role.SECRETARY)
    async with running_bot(emulator, db, clock, invite_ttl_hours=24):
        xie = emulator.user(first_name="谢兰", language_code="zh-hans")
        await xie.send(f"/start {token}")
        await xie.expect_message(contains="社区书记")
        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁")
        await xie.press(menu, "新的社区工作者")
        link = await xie.expect_message(contains="https://t.me/notebook_bot?start=")
        worker_token = link.text.rsplit("start=", 1)[1].strip()

        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁")
        # each link says in words what it is: whom it lets in, when it was made, until when
        label = next(t for t in menu.button_texts() if t.startswith("收回给新工作人员的链接"))
        assert label == "收回给新工作人员的链接（11月2日生成，2026/11/3 09:00前有效）"
        assert worker_token[-4:] not in label
        answer = await xie.press(menu, label)
        assert not answer.show_alert and "链接已收回" in (answer.text or "")
        await xie.expect_edit(menu, predicate=lambda m: label not in m.button_texts())
        async with db.session() as session:
            withdrawn = (
                await session.exec(select(InviteLink).where(InviteLink.token == worker_token))
            ).one()
        again = await xie.press_data(menu, REVOKE.data(withdrawn.id or 0))  # a stale press
        assert again.show_alert and "较早的消息" in (again.text or "")

        newcomer = emulator.user(first_name="新人", language_code="zh-hans")
        await newcomer.send(f"/start {worker_token}")
        await newcomer.expect_message(contains="这个邀请已被撤销")

        # and an unwithdrawn worker link expires after INVITE_TTL_HOURS
        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁")
        await xie.press(menu, "新的社区工作者")
        link = await xie.expect_message(contains="https://t.me/notebook_bot?start=")
        clock.advance(hours=24, seconds=1)
        late = emulator.user(first_name="迟到", language_code="zh-hans")
        await late.send(f"/start {link.text.rsplit('start=', 1)[1].strip()}")
        await late.expect_message(contains="过期")
        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁")
        assert not any(t.startswith("收回给新工作人员的链接") for t in menu.button_texts())
        await xie.press(menu, "居民")
        await xie.expect_message(contains="居民通过这个链接加入")
        await xie.send("/invite")
        menu = await xie.expect_message(contains="您要邀请谁")
        assert any(
            t.startswith("收回全社区的居民链接（") and t.endswith("已用0次）")
            for t in menu.button_texts()
        ), menu.button_texts()
    assert bot_errors(emulator) == []


async def _deactivate_wang(xie: UserDriver) -> str:
    await xie.send("/staff")
    menu = await xie.expect_message(contains="邢家桥社区的工作人员")
    await xie.press(menu, "王网格（2件）")
    await xie.expect_edit(menu, contains="手上的事项（2件）")
    await xie.press(menu, "已离岗：停用")
    await xie.expect_edit(menu, contains="交给谁？")
    await xie.press(menu, "交给李网格")
    await xie.expect_edit(menu, contains="将交给李网格")
    await xie.press(menu, "确定停用")
    done = await xie.expect_edit(menu, contains="2件事项已交给李网格")
    return done.text


async def test_a_deactivated_worker_leaves_the_staff_group_and_can_be_invited_back(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, users, _ids = await _office(emulator, db, clock)
    xie, wang, li = users["xie"], users["wang"], users["li"]
    group = emulator.group(title="邢家桥工作群", members=[xie, wang, li], bot_is_admin=True)
    async with running_bot(emulator, db, clock):
        await group.send(xie, "/bind")
        await group.expect_message(contains="这个群现在是邢家桥社区的工作群")
        text = await _deactivate_wang(xie)
        assert "我正在把他/她移出工作群" in text
        # banned, then the ban lifted at once: out of the group, free to be invited back
        await emulator.signal.wait_for(lambda: group.chat.members[wang.id] == "left", 5)
        assert [c.method.lower() for c in emulator.calls_to("banChatMember")] == ["banchatmember"]
        assert len(emulator.calls_to("unbanChatMember")) == 1
        assert group.chat.members[wang.id] == "left"
        assert group.chat.members[li.id] == "member"
        await group.add_member(wang, by=xie)
        assert group.chat.members[wang.id] == "member"
        await xie.expect_no_message(timeout=0.3)  # nothing went wrong to tell
    assert bot_errors(emulator) == []
    assert community.id is not None


async def test_without_the_right_to_ban_the_secretary_is_told_to_remove_the_leaver(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    _community, users, _ids = await _office(emulator, db, clock)
    xie, wang, li = users["xie"], users["wang"], users["li"]
    group = emulator.group(title="邢家桥工作群", members=[xie, wang, li])  # the bot: a member
    async with running_bot(emulator, db, clock):
        await group.send(xie, "/bind")
        await group.expect_message(contains="这个群现在是邢家桥社区的工作群")
        await _deactivate_wang(xie)
        told = await xie.expect_message(contains="我没能把王网格移出工作群")
        assert "不是有“封禁成员”权限的管理员" in told.text
        assert group.chat.members[wang.id] == "member"  # Telegram refused: nothing changed
        # made an admin without that right: refused the same way, and said the same way
        await group.promote_bot(can_restrict_members=False, by=xie)
        await xie.send("/staff")
        menu = await xie.expect_message(contains="邢家桥社区的工作人员")
        await xie.press(menu, "李网格（2件）")
        await xie.expect_edit(menu, contains="手上的事项（2件）")
        await xie.press(menu, "已离岗：停用")
        await xie.expect_edit(menu, contains="交给谁？")
        await xie.press(menu, "退回我的待办")
        await xie.expect_edit(menu, contains="要停用李网格吗")
        await xie.press(menu, "确定停用")
        await xie.expect_edit(menu, contains="李网格已停用")
        await xie.expect_message(contains="我没能把李网格移出工作群")
        assert group.chat.members[li.id] == "member"
    # Telegram's two refusals, and nothing else went wrong
    assert [(e.method, e.error_code) for e in bot_errors(emulator)] == [("banchatmember", 400)] * 2
