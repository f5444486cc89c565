"""The sandbox without a browser: its demo data, where it talks to, its clock, and the JSON API
the page uses (choose who you are, send, press, tap, upload, jump the clock, the event stream),
through aiohttp's test client against a real sandbox: emulator + the bot polling it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, func, select
from telegram import ReplyKeyboardMarkup

from emulator.media import tiny_png
from handlers.residents.language import CHOOSE
from handlers.secretary.invites import MAKE
from runtime.settings import load_settings
from sandbox import SandboxError
from sandbox.clock import SandboxClock, next_weekly_slot
from sandbox.runtime import NotLocal, Sandbox, ensure_local, sandbox_settings
from sandbox.serve import check_database_path, claim_database, made_by_sandbox
from sandbox.web import CLIENT_HEADER, make_web_app
from storage.db import Database
from storage.issue_lifecycle import Action
from storage.models import (
    Building,
    Channel,
    Community,
    InviteLink,
    Issue,
    IssueEvent,
    IssueStatus,
    Membership,
    Person,
    Role,
)
from storage.reminders import ReminderPolicy
from tests.factories import bot_errors
from tests.sandbox_support import ID, START, sandbox_on

HEADERS = {CLIENT_HEADER: "1"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def sandbox(db: Database) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_web_app(sandbox))) as test_client:
        yield test_client


async def _post(client: TestClient[Any, Any], path: str, body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers=HEADERS)
    assert response.status == 200, await response.text()
    return await response.json()


async def _refused(
    client: TestClient[Any, Any], path: str, body: dict[str, Any], status: int, error: str
) -> None:
    response = await client.post(path, json=body, headers=HEADERS)
    assert response.status == status, await response.text()
    assert (await response.json())["error"] == error


def _chat(state: dict[str, Any], chat_id: int) -> dict[str, Any]:
    return next(chat for chat in state["chats"] if chat["id"] == chat_id)


async def _state(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get("/api/state")
    assert response.status == 200
    return dict(await response.json())


# --- the demo ------------------------------------------------------------------------------


async def test_the_demo_community_is_made_by_the_domain_and_mirrored_in_the_emulator(
    sandbox: Sandbox, db: Database
) -> None:
    async with db.session() as session:
        community = (await session.exec(select(Community))).one()
        buildings = (await session.exec(select(Building.name))).all()
        roles = {
            person.full_name: role
            for person, role in (
                await session.exec(
                    select(Person, Membership.role).join(
                        Membership, col(Membership.person_id) == Person.id
                    )
                )
            ).all()
        }
        statuses = {IssueStatus(s) for s in (await session.exec(select(Issue.status))).all()}
        reported = (
            await session.exec(
                select(func.count()).select_from(IssueEvent).where(IssueEvent.kind == Action.REPORT)
            )
        ).one()
        issue_count = (await session.exec(select(func.count()).select_from(Issue))).one()
        staff_links = (
            await session.exec(
                select(InviteLink.use_count).where(
                    col(InviteLink.role).in_([Role.SECRETARY, Role.WORKER])
                )
            )
        ).all()
        by_phone = (await session.exec(select(Issue).where(Issue.channel == Channel.PHONE))).one()
    assert community.name == "邢家桥社区"
    assert set(buildings) >= {"1栋", "2栋", "3栋"}
    assert roles["谢兰"] == Role.SECRETARY
    assert roles["王网格"] == roles["陈晓"] == Role.WORKER
    assert roles["老许"] == roles["李阿姨"] == Role.RESIDENT
    # every state of the closed loop is on show, each issue opened by create_issue (its event)
    assert statuses >= {
        IssueStatus.NEW,
        IssueStatus.ACCEPTED,
        IssueStatus.IN_PROGRESS,
        IssueStatus.RESOLVED,
        IssueStatus.CLOSED,
    }
    assert reported == issue_count == 7
    assert staff_links and set(staff_links) == {1}  # staff joined through their own links
    assert by_phone.logged_by_id is not None and by_phone.logged_by_id != by_phone.reporter_id

    emulator = sandbox.emulator
    for name, telegram_id in ID.items():
        assert emulator.users[telegram_id].first_name == name
    group = emulator.chats[community.staff_chat_id or 0]
    assert group.title == "邢家桥社区工作群"
    assert group.bot_status == "member"
    assert group.members[ID["谢兰"]] == "creator"
    assert group.members[ID["王网格"]] == group.members[ID["陈晓"]] == "member"
    assert ID["老许"] not in group.members

    # the latest news of each issue reaches its residents through the outbox, in their language
    await sandbox.user(ID["老许"]).expect_message(contains="1号问题的办理方案")
    await sandbox.user(ID["Anna Weber"]).expect_message(contains="Your issue No. 7 has been")
    assert bot_errors(emulator) == []


async def test_keep_reuses_the_notebook_and_rebuilds_the_emulator(db: Database) -> None:
    async with sandbox_on(db) as first:
        await first.user(ID["老许"]).send("/help")
        await first.user(ID["老许"]).expect_message(contains="居民")
    async with sandbox_on(db, fresh=False) as again:
        async with db.session() as session:
            communities = (await session.exec(select(Community))).all()
            issues = (await session.exec(select(func.count()).select_from(Issue))).one()
        assert len(communities) == 1 and issues == 7  # not seeded twice
        assert communities[0].staff_chat_id in again.emulator.chats
        await again.user(ID["王网格"]).send("/help")
        await again.user(ID["王网格"]).expect_message(contains="社区工作者")


# --- never the real Telegram -----------------------------------------------------------------


def test_only_local_addresses_are_accepted() -> None:
    ensure_local("http://127.0.0.1:5000/bot")
    ensure_local("http://localhost:5000/file/bot")
    for url in (
        "https://api.telegram.org/bot",
        "https://api.telegram.org.127.0.0.1.nip.io/bot",
        "http://10.0.0.5/bot",
        "http://127.0.0.1.telegram.org/bot",
    ):
        with pytest.raises(NotLocal):
            ensure_local(url)


async def test_the_bot_in_the_sandbox_talks_only_to_the_emulator(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = sandbox.emulator
    assert sandbox.app.bot.base_url.startswith(f"http://127.0.0.1:{emulator.port}/bot")
    assert sandbox.app.bot.base_file_url.startswith(f"http://127.0.0.1:{emulator.port}/file/bot")
    # even with a real Telegram address (and token) in the environment
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:real-token")
    settings = sandbox_settings(emulator, sandbox.db.url, _env_file=None)
    assert settings.telegram_api_base_url == emulator.base_url
    assert settings.token() == emulator.token


def test_the_sandbox_never_recreates_the_real_notebook(tmp_path: Path) -> None:
    real = tmp_path / "notebook.db"
    settings = load_settings(_env_file=None, database_url=f"sqlite:///{real}")
    with pytest.raises(SandboxError, match="--database"):
        check_database_path(settings, real)
    check_database_path(settings, tmp_path / "sandbox.db")


def test_the_sandbox_deletes_only_a_database_it_made_itself(tmp_path: Path) -> None:
    mine = tmp_path / "try.db"
    claim_database(mine, fresh=True)
    assert made_by_sandbox(mine) and mine.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(mine)) as conn:  # last run's demo
        conn.execute("CREATE TABLE demo (x)")
    (tmp_path / "try.db-wal").write_bytes(b"its log")
    claim_database(mine, fresh=True)  # a fresh demo: its own file goes, a new one comes
    assert made_by_sandbox(mine) and not (tmp_path / "try.db-wal").exists()
    assert _tables(mine) == []
    with closing(sqlite3.connect(mine)) as conn:
        conn.execute("CREATE TABLE demo (x)")
    claim_database(mine, fresh=False)  # --keep
    assert _tables(mine) == ["demo"]

    precious = tmp_path / "precious.db"
    with closing(sqlite3.connect(precious)) as conn:  # a real notebook: no sandbox mark
        conn.execute("CREATE TABLE issue (x)")
    notes = tmp_path / "notes.txt"
    notes.write_text("someone's notes")
    for other in (precious, notes):
        for fresh in (True, False):
            with pytest.raises(SandboxError, match="was not made by the sandbox"):
                claim_database(other, fresh=fresh)
    assert _tables(precious) == ["issue"] and notes.read_text() == "someone's notes"


def _tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]


# --- the clock -----------------------------------------------------------------------------


def test_the_clock_follows_real_time_and_only_jumps_forward() -> None:
    real = [0.0]
    clock = SandboxClock(START, monotonic=lambda: real[0])
    assert clock() == START
    real[0] = 90.0
    assert clock() == START + timedelta(seconds=90)
    clock.advance(timedelta(hours=1))
    assert clock() == START + timedelta(hours=1, seconds=90)
    assert clock.revision == 1
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_next_digest_slot_is_strictly_after_now() -> None:
    policy = ReminderPolicy()
    monday_8 = datetime(2026, 11, 9, 0, 0, tzinfo=UTC)  # Monday 08:00 in Chongqing
    wednesday = START
    assert next_weekly_slot(wednesday, SHANGHAI, 0, policy.digest_at) == monday_8
    assert next_weekly_slot(monday_8, SHANGHAI, 0, policy.digest_at) == monday_8 + timedelta(days=7)
    just_before = monday_8 - timedelta(minutes=1)
    assert next_weekly_slot(just_before, SHANGHAI, 0, policy.digest_at) == monday_8


async def test_clock_jumps_bring_reminders_and_the_digest_at_once(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    wang = sandbox.user(ID["王网格"])
    result = await _post(client, "/api/clock", {"jump": "hour"})
    assert result["clock"]["now"] == (START + timedelta(hours=1)).isoformat()
    assert result["queued"] >= 1
    await wang.expect_message(contains="提醒：1号问题")  # due tomorrow 11:00

    await _post(client, "/api/clock", {"jump": "day"})
    xie = sandbox.user(ID["谢兰"])
    await xie.expect_message(contains="2号问题")  # waited past its promised time
    await xie.expect_message(contains="严重超期：3号问题")

    result = await _post(client, "/api/clock", {"jump": "digest"})
    assert datetime.fromisoformat(result["clock"]["now"]).astimezone(SHANGHAI).strftime(
        "%a %H:%M"
    ) == ("Mon 08:00")
    await xie.expect_message(contains="民情周报")
    await _refused(client, "/api/clock", {"jump": "back"}, 400, "bad_field")
    assert bot_errors(sandbox.emulator) == []


# --- the page and its API ----------------------------------------------------------------------


async def test_the_page_is_served_from_the_project_with_nothing_from_elsewhere(
    client: TestClient[Any, Any],
) -> None:
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200
    assert '<html lang="zh-Hans">' in html and '<meta charset="utf-8">' in html
    assert "从不连接真正的 Telegram" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for asset in ("/static/app.js", "/static/style.css", "/static/icon.svg"):
        response = await client.get(asset)
        assert response.status == 200, asset
        body = await response.text()
        # no CDN, no remote font or script: every src/href/url() points back at this server
        for needle in ('src="http', 'href="http', "url(http", "@import", "//cdn"):
            assert needle not in body, (asset, needle)
    for needle in ('src="http', 'href="http'):
        assert needle not in html


async def test_people_lists_everyone_you_can_be_staff_first(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/people")
    people = (await response.json())["people"]
    first = people[0]
    assert (first["name"], first["role"]) == ("谢兰", "secretary")
    xu = next(p for p in people if p["name"] == "老许")
    assert (xu["id"], xu["role"], xu["building"], xu["community"]) == (
        ID["老许"],
        "resident",
        "1栋",
        "邢家桥社区",
    )
    roles = [p["role"] for p in people]
    assert roles.index("worker") < roles.index("resident")


async def test_sending_as_a_resident_and_the_bot_answering(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    sent = await _post(
        client, "/api/send", {"user_id": ID["老许"], "chat_id": ID["老许"], "text": "/help"}
    )
    assert sent["message"]["text"] == "/help"
    assert sent["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    answer = await sandbox.user(ID["老许"]).expect_message(contains="您在邢家桥社区的身份是居民")
    chat = _chat(await _state(client), ID["老许"])
    shown = next(m for m in chat["messages"] if m["id"] == answer.message_id)
    assert shown["from"]["is_bot"] and shown["text"] == answer.text
    # what the user typed goes out as plain text: markup is never interpreted
    typed = "<b>不是粗体</b> & <script>alert(1)</script>"
    sent = await _post(
        client, "/api/send", {"user_id": ID["老许"], "chat_id": ID["老许"], "text": typed}
    )
    assert sent["message"]["text"] == typed
    assert not {e["type"] for e in sent["message"]["entities"]} & {"bold", "text_link", "pre"}


async def test_pressing_a_button_edits_the_message_in_place(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    xu = sandbox.user(ID["老许"])
    await _post(client, "/api/send", {"user_id": xu.id, "chat_id": xu.id, "text": "/language"})
    menu = await xu.expect_message(contains="您想用哪种语言")
    shown = next(
        m for m in _chat(await _state(client), xu.id)["messages"] if m["id"] == menu.message_id
    )
    assert [b["text"] for row in shown["inline_keyboard"] for b in row] == [
        "中文（简体）",
        "English",
    ]
    press = {"user_id": xu.id, "chat_id": xu.id, "message_id": menu.message_id}
    result = await _post(client, "/api/press", {**press, "data": CHOOSE.data("en")})
    assert result["answer"] == {"text": None, "show_alert": False}
    await xu.expect_edit(menu, contains="I will speak English")
    shown = next(
        m for m in _chat(await _state(client), xu.id)["messages"] if m["id"] == menu.message_id
    )
    assert shown["edited"] and shown["text"].startswith("I will speak English")
    assert shown["inline_keyboard"] == []
    # a client can only press buttons it is shown
    await _refused(client, "/api/press", {**press, "data": MAKE.data("w")}, 404, "no_such_button")
    # nor press in someone else's chat
    other = {**press, "user_id": ID["李阿姨"], "data": CHOOSE.data("en")}
    await _refused(client, "/api/press", other, 403, "not_your_chat")


async def test_a_worker_writes_in_the_staff_group_and_replies_to_the_bot(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    async with sandbox.db.session() as session:
        group_id = (await session.exec(select(Community.staff_chat_id))).one()
    assert group_id is not None
    group = sandbox.group(group_id)
    await _post(
        client, "/api/send", {"user_id": ID["王网格"], "chat_id": group_id, "text": "/help"}
    )
    answer = await group.expect_message(contains="社区工作者")
    sent = await _post(
        client,
        "/api/send",
        {
            "user_id": ID["王网格"],
            "chat_id": group_id,
            "text": "收到",
            "reply_to": answer.message_id,
        },
    )
    assert sent["message"]["reply_to"]["id"] == answer.message_id
    assert sent["message"]["reply_to"]["from_name"] == "社区民情本"
    # residents are not in the staff group
    body = {"user_id": ID["老许"], "chat_id": group_id, "text": "我也想看看"}
    await _refused(client, "/api/send", body, 403, "not_a_member")


async def test_photos_and_files_go_both_ways(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    xu = ID["老许"]
    png = tiny_png(40, 30)
    form = aiohttp.FormData()
    form.add_field("user_id", str(xu))
    form.add_field("chat_id", str(xu))
    form.add_field("caption", "楼道灯")
    form.add_field("file", png, filename="light.png", content_type="image/png")
    response = await client.post("/api/media", data=form, headers=HEADERS)
    sent = (await response.json())["message"]
    assert sent["media"]["kind"] == "photo" and sent["text"] == "楼道灯"
    photo = await client.get(sent["media"]["url"])
    assert await photo.read() == png and photo.content_type == "image/png"

    form = aiohttp.FormData()
    form.add_field("user_id", str(xu))
    form.add_field("chat_id", str(xu))
    form.add_field(
        "file", "楼号,问题\n1栋,灯\n".encode(), filename="清单.csv", content_type="text/csv"
    )
    response = await client.post("/api/media", data=form, headers=HEADERS)
    document = (await response.json())["message"]["media"]
    assert (document["kind"], document["filename"]) == ("document", "清单.csv")

    # what the bot sends (the digest's chart, an export) is shown and downloadable
    xie = ID["谢兰"]
    chart = tiny_png(64, 48)
    await sandbox.app.bot.send_photo(xie, chart, caption="<b>本周</b>图表")
    await sandbox.app.bot.send_document(xie, b"number,status\n1,new\n", filename="export.csv")
    messages = _chat(await _state(client), xie)["messages"]
    photo_view = next(m for m in messages if (m["media"] or {}).get("kind") == "photo")
    assert photo_view["text"] == "本周图表"
    assert photo_view["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert await (await client.get(photo_view["media"]["url"])).read() == chart
    export_view = next(m for m in messages if (m["media"] or {}).get("kind") == "document")
    download = await client.get(export_view["media"]["url"])
    assert await download.read() == b"number,status\n1,new\n"
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''export.csv"


async def test_voice_location_and_the_reply_keyboard(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    li = ID["李阿姨"]
    voice = await _post(client, "/api/voice", {"user_id": li, "chat_id": li})
    assert voice["message"]["media"]["kind"] == "voice"
    place = await _post(client, "/api/location", {"user_id": li, "chat_id": li})
    assert place["message"]["media"]["kind"] == "location"
    keyboard = ReplyKeyboardMarkup([["好的", "不用了"]], one_time_keyboard=True)
    await sandbox.app.bot.send_message(li, "要帮您预约吗？", reply_markup=keyboard)
    shown = _chat(await _state(client), li)["reply_keyboard"]
    assert [b["text"] for b in shown["rows"][0]] == ["好的", "不用了"] and shown["one_time"]
    tapped = await _post(client, "/api/tap", {"user_id": li, "chat_id": li, "text": "好的"})
    assert tapped["message"]["text"] == "好的"
    await _refused(
        client, "/api/tap", {"user_id": li, "chat_id": li, "text": "随便"}, 404, "no_such_button"
    )


async def test_a_new_visitor_joins_from_scratch(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    visitor = (
        await _post(client, "/api/visitors", {"name": "新访客 1", "language_code": "zh-hans"})
    )["person"]
    assert visitor["role"] is None
    await _post(
        client, "/api/send", {"user_id": visitor["id"], "chat_id": visitor["id"], "text": "/start"}
    )
    driver = sandbox.user(visitor["id"])
    menu = await driver.expect_message(contains="您住在哪个社区")
    await _post(
        client,
        "/api/press",
        {
            "user_id": visitor["id"],
            "chat_id": visitor["id"],
            "message_id": menu.message_id,
            "data": menu.buttons[0][0].callback_data,
        },
    )
    await driver.expect_edit(menu, contains="欢迎加入邢家桥社区")
    people = (await (await client.get("/api/people")).json())["people"]
    assert next(p for p in people if p["id"] == visitor["id"])["role"] == "resident"
    await _refused(client, "/api/visitors", {"name": " "}, 400, "bad_field")


async def test_only_this_machine_and_this_page_may_act(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    body = {"user_id": ID["老许"], "chat_id": ID["老许"], "text": "hi"}
    no_header = await client.post("/api/send", json=body)
    assert no_header.status == 403 and (await no_header.json())["error"] == "no_client_header"
    foreign = await client.get("/api/state", headers={"Host": "evil.example:8080"})
    assert foreign.status == 403
    await _refused(client, "/api/send", {**body, "user_id": 1}, 404, "no_such_user")
    await _refused(client, "/api/send", {**body, "text": "长" * 4097}, 400, "too_long")
    await _refused(client, "/api/send", {**body, "text": "  "}, 400, "empty")
    await _refused(client, "/api/send", {**body, "chat_id": ID["李阿姨"]}, 403, "not_your_chat")
    await _refused(client, "/api/send", {**body, "reply_to": 9999}, 404, "no_such_message")
    written = sandbox.emulator.chats[ID["老许"]].messages.values()
    assert not any(message.get("text") == "hi" for message in written)


async def _next_event(
    response: aiohttp.ClientResponse, name: str, matches: Any = lambda data: True
) -> dict[str, Any]:
    event = ""
    async with asyncio.timeout(10):
        while True:
            line = (await response.content.readline()).decode()
            if line.startswith("event: "):
                event = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and event == name:
                data = json.loads(line.removeprefix("data: "))
                if matches(data):
                    return dict(data)


async def test_the_event_stream_sends_a_snapshot_then_each_change(
    client: TestClient[Any, Any], sandbox: Sandbox
) -> None:
    stream = await client.get("/api/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    snapshot = await _next_event(stream, "snapshot")
    assert snapshot["bot"]["username"] == "notebook_sandbox_bot"
    assert snapshot["clock"]["timezone"] == "Asia/Shanghai"
    assert {c["command"] for c in snapshot["commands"]["zh"]} >= {"start", "help"}
    xu = ID["老许"]
    await _post(client, "/api/send", {"user_id": xu, "chat_id": xu, "text": "/language"})
    mine = await _next_event(stream, "message", lambda m: m["text"] == "/language")
    menu = await _next_event(
        stream,
        "message",
        lambda m: m["from"]["is_bot"] and m["inline_keyboard"] and m["chat_id"] == xu,
    )
    assert mine["chat_id"] == menu["chat_id"] == xu
    await _post(
        client,
        "/api/press",
        {"user_id": xu, "chat_id": xu, "message_id": menu["id"], "data": CHOOSE.data("zh_Hans")},
    )
    edited = await _next_event(
        stream, "message", lambda m: m["id"] == menu["id"] and m["chat_id"] == xu
    )
    assert edited["edited"] and "中文" in edited["text"]
    await _post(client, "/api/clock", {"jump": "hour"})
    clock = await _next_event(stream, "clock")
    assert clock["now"] == (START + timedelta(hours=1)).isoformat()
    stream.close()
