"""Logs are structured (JSON on request), carry update and issue ids, and never hold what a
resident wrote or their phone number, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import (
    ContextFilter,
    TextFormatter,
    configure_logging,
    update_context,
    watch_issues,
)
from emulator import BotApiEmulator
from runtime.settings import load_settings
from storage import issues as rules
from storage.categories import TimeLimits
from storage.db import Database
from storage.models import Issue, Role
from tests.factories import (
    PHONE_KEY,
    FakeClock,
    bot_errors,
    make_community,
    make_invite_token,
    make_member,
    running_bot,
)

SECRET_TEXT = "楼上王家天天半夜吵架"
PHONE = "13812345678"
CONTACT_PHONE = "+8613987654321"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The production logging set-up at DEBUG, JSON, into a buffer; undone afterwards."""
    root = logging.getLogger()
    saved_level = root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("telegram", "sqlalchemy")}
    stream = io.StringIO()
    handler = configure_logging(
        load_settings(_env_file=None, log_level="DEBUG", log_format="json"), stream
    )
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


async def test_a_flow_at_debug_logs_ids_but_no_texts_or_phones(
    json_logs: io.StringIO,  # first: the database engine is created with logging in place
    emulator: BotApiEmulator,
    db: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    community = await make_community(db, clock)
    token = await make_invite_token(db, clock, community, Role.RESIDENT)
    xie = emulator.user(first_name="谢兰", language_code="zh-hans")
    wang = emulator.user(first_name="王网格", language_code="zh-hans")
    db.set_phone_key(PHONE_KEY)
    async with db.session() as session:
        await make_member(session, community, Role.SECRETARY, name="谢兰", telegram_user_id=xie.id)
        worker = await make_member(
            session, community, Role.WORKER, name="王网格", telegram_user_id=wang.id
        )
        resident = await make_member(session, community, name="老许")
        resident.phone = PHONE
        issue = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=resident.id,
            category="noise",
            description=f"{SECRET_TEXT}，电话{PHONE}",
            now=clock(),
            limits=TimeLimits(),
        )
        await rules.claim(session, issue, actor_id=worker.id, now=clock())
    async with running_bot(emulator, db, clock):
        xu = emulator.user(first_name="李阿姨", language_code="zh-hans")
        await xu.send(f"/start {token}")
        await xu.expect_message(contains="欢迎")
        await xu.send(f"{SECRET_TEXT}，我的电话是{PHONE}")  # words and a phone, as typed
        await xu.share_contact(CONTACT_PHONE)
        await xu.send("/mydata")
        await xu.expect_message(contains="全部信息")
        # the secretary moves the worker's item: the update touches issue No. 1
        await xie.send("/staff")
        menu = await xie.expect_message(contains="请选择一位工作人员")
        await xie.press(menu, "王网格（1件）")
        await xie.expect_edit(menu, contains="手上的事项")
        await xie.press(menu, "已离岗：停用")
        await xie.expect_edit(menu, contains="交给谁")
        await xie.press(menu, "退回我的待办")
        await xie.expect_edit(menu, contains="将交给您的待办")
        await xie.press(menu, "确定停用")
        await xie.expect_edit(menu, contains="已停用")
        await xu.send("/forget")
        question = await xu.expect_message(contains="忘掉您吗")
        await xu.press(question, "确定，忘掉我")
        await xu.expect_edit(question, contains="已删除")
    assert bot_errors(emulator) == []

    secrets = (SECRET_TEXT, PHONE, CONTACT_PHONE, CONTACT_PHONE.lstrip("+"), "13987654321")
    assert caplog.records, "the flow logged nothing at all"
    for record in caplog.records:  # what every handler sees, before any redaction
        text = record.getMessage() + repr(record.args)
        for secret in secrets:
            assert secret not in text, f"{record.name} logged {secret!r}: {text[:200]}"
    output = json_logs.getvalue()
    for secret in secrets:
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    handled = [line for line in lines if line["message"].startswith("update handled in")]
    assert len(handled) >= 10 and all("update_id" in line for line in handled)
    moved = [line for line in lines if line["message"].startswith("worker ")]
    assert moved and moved[0]["issue_id"] == issue.id and moved[0]["level"] == "INFO"


def test_text_format_shows_the_ids_and_masks_phones() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call %s", ("13812345678",), None)
    with update_context(type("U", (), {"update_id": 42})()) as context:
        context["issue_id"] = 7
        ContextFilter().filter(record)
    from bot.logs import RedactPhones

    RedactPhones().filter(record)
    line = TextFormatter().format(record)
    assert line.endswith("x [update=42 issue=7]: call [phone]")


async def test_an_issue_read_past_the_orm_still_names_the_issue_in_the_logs(
    db: Database, clock: FakeClock
) -> None:
    community = await make_community(db, clock)
    assert community.id is not None
    async with db.session() as session:
        issue = await rules.create_issue(
            session,
            community_id=community.id,
            category="facilities",
            description="楼道灯坏了",
            now=clock(),
            limits=TimeLimits(),
        )
    with update_context(type("U", (), {"update_id": 43})()) as context:
        async with db.session() as session:
            watch_issues(session)
            assert await session.get(Issue, issue.id) is not None  # read directly, adopted
        assert context["issue_id"] == issue.id
