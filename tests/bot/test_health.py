"""The health report: GET /healthz and `python -m bot status` say "degraded" (503, exit 1),
with one plain line per reason, when updates are not fetched, inbox rows wait more than a
minute, outbox rows are overdue, the database does not answer, or a staff group refuses the
bot; each reason is shown here over HTTP and by the command, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlmodel import update

from bot import cli, operations
from bot.health import HealthServer
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from runtime.settings import load_settings
from storage import health, outbox
from storage.db import Database
from storage.health import INSTANCE_PREFIX, health_report
from storage.models import Community, InboxStatus, InboxUpdate
from tests.factories import FakeClock, bot_errors, make_community, running_bot
from tests.staffroom import bind, report, staffroom
from tests.webhooks import free_port, running_webhook_bot


async def _get(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_webhook_mode_serves_health_with_update_age_and_outbox_backlog(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    await make_community(db, clock)
    async with running_webhook_bot(emulator, db, clock, health=True) as app:
        server = app.operations.health_server
        assert server is not None
        status, body = await _get(server.url)
        assert status == 200 and body["status"] == "ok" and body["database"] == "reachable"
        assert body["last_update_at"] is None and body["outbox_pending"] == 0
        assert body["mode"] == "webhook" and body["instance"] == app.operations.instance
        assert [i["name"] for i in body["instances"]] == [app.operations.instance]  # type: ignore[union-attr]

        anna = emulator.user(first_name="Anna", language_code="en")
        await anna.send("/start")  # delivered by webhook
        await anna.expect_message(contains="Which community do you live in?")
        assert app.job_queue is not None
        for job in app.job_queue.get_jobs_by_name("outbox"):
            job.enabled = False  # the dispatcher stands still: the backlog is what we queue
        async with db.session() as session:  # a message waiting to go out
            await outbox.enqueue(
                session,
                chat_id=anna.id,
                kind="no_such_kind",
                dedupe_key="waiting",
                due_at=clock() + timedelta(seconds=30),
                payload={},
                now=clock(),
            )
        clock.advance(seconds=90)
        status, body = await _get(server.url)
        assert status == 200 and body["status"] == "ok"
        assert body["last_update_age_seconds"] == 90.0
        assert body["outbox_pending"] == 1 and body["outbox_oldest_due_age_seconds"] == 60.0
        clock.advance(minutes=10)
        status, body = await _get(server.url)
        assert status == 503 and body["status"] == "degraded"  # the outbox is not moving
        assert body["reasons"] == [
            "outbox: 1 message overdue by more than 10 min (oldest due 11 min ago)"
        ]
    assert bot_errors(emulator) == []


async def test_an_unreachable_database_answers_503(clock: FakeClock) -> None:
    nowhere = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    server = HealthServer(nowhere, clock, host="127.0.0.1", port=0)
    await server.start()
    try:
        status, body = await _get(server.url)
    finally:
        await server.stop()
        await nowhere.dispose()
    assert status == 503
    assert body["status"] == "degraded" and body["database"] == "unreachable"
    assert body["reasons"] == ["database: unreachable (ConnectionRefusedError)"]


async def test_the_report_lists_live_instances_only(db: Database, clock: FakeClock) -> None:
    from storage.health import beat

    async with db.session() as session:
        await beat(session, INSTANCE_PREFIX + "a:1:x", now=clock(), mode="webhook")
        await beat(session, INSTANCE_PREFIX + "b:2:y", now=clock() - timedelta(minutes=5))
    report = await health_report(db, now=clock())
    assert [i["name"] for i in report.instances] == ["a:1:x"]
    assert report.instances[0]["mode"] == "webhook"


def test_health_is_on_by_default_in_webhook_mode_only() -> None:
    polling = load_settings(_env_file=None)
    webhook = load_settings(
        _env_file=None, webhook_url="https://x.example/t", webhook_secret_token="abc" * 11
    )
    assert polling.health_server_port is None
    assert webhook.health_server_port == 8081
    assert load_settings(_env_file=None, health_port="9000").health_server_port == 9000
    assert load_settings(_env_file=None, health_port="0").health_server_port is None


async def test_a_database_behind_the_code_is_reported_not_unreachable(
    db: Database, clock: FakeClock
) -> None:
    from storage import migrate

    await migrate.downgrade(db, "3490e37aa95f")  # before the heartbeat table existed
    report = await health_report(db, now=clock())
    assert (report.status, report.database, report.revision) == (
        "degraded",
        "reachable",
        "3490e37aa95f",
    )
    assert report.database_error == "schema at 3490e37aa95f: run `python -m bot db upgrade`"


# --- each reason, over HTTP and from `python -m bot status` ----------------------------------


class Probe:
    """The health endpoint of a bot whose update fetcher says `problem`, and the status command,
    both on the test's database and clock."""

    def __init__(self, db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]):
        self.db, self.clock, self.capsys = db, clock, capsys
        self.problem: str | None = None
        self.server = HealthServer(
            db, clock, host="127.0.0.1", port=0, updates=lambda: self.problem
        )

    async def endpoint(self) -> tuple[int, list[str], list[str]]:
        status, body = await _get(self.server.url)
        assert body["status"] == ("ok" if status == 200 else "degraded")
        return status, body["reasons"], body["attention"]  # type: ignore[return-value]

    async def command(self) -> tuple[int, list[str]]:
        settings = load_settings(_env_file=None, database_url=self.db.url)
        self.capsys.readouterr()
        code = await cli.status(settings, as_json=False, now=self.clock())
        return code, self.capsys.readouterr().out.splitlines()

    async def beat(self, problem: str | None = None) -> None:
        """A bot instance's presence, as its JobQueue writes it every 30 s."""
        async with self.db.session() as session:
            await health.beat(
                session,
                INSTANCE_PREFIX + "bot-host:7:b",
                now=self.clock(),
                mode="polling",
                updates_problem=problem,
            )

    async def expect(self, *reasons: str, attention: tuple[str, ...] = ()) -> None:
        """Both say exactly these reasons, one line each (none: ok), and this attention."""
        status, said, noted = await self.endpoint()
        assert (status, said, noted) == (503 if reasons else 200, list(reasons), list(attention))
        code, lines = await self.command()
        assert code == (1 if reasons else 0)
        assert lines[0] == ("status: degraded" if reasons else "status: ok")
        assert [line for line in lines if line.startswith("degraded: ")] == [
            f"degraded: {reason}" for reason in reasons
        ]
        assert [line for line in lines if line.startswith("attention: ")] == [
            f"attention: {item}" for item in attention
        ]


@asynccontextmanager
async def probing(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Probe]:
    probe = Probe(db, clock, capsys)
    await probe.server.start()
    try:
        await probe.beat()
        yield probe
    finally:
        await probe.server.stop()


async def test_updates_waiting_in_the_inbox_for_more_than_a_minute(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async with probing(db, clock, capsys) as probe:
        await probe.expect()
        async with db.session() as session:
            for update_id, age in ((1, 4 * 60), (2, 2 * 60), (3, 30)):
                session.add(
                    InboxUpdate(
                        update_id=update_id,
                        payload={"update_id": update_id},
                        received_at=clock() - timedelta(seconds=age),
                    )
                )
        await probe.expect("inbox: 2 updates waiting for more than a minute (oldest 4 min)")
        async with db.session() as session:
            await session.exec(update(InboxUpdate).values(status=InboxStatus.DONE))
        await probe.expect()


async def test_another_process_holding_sqlites_write_lock(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from tests.sqlite_lock import write_lock_held

    if db.sqlite_path is None:
        pytest.skip("SQLite's write lock; PostgreSQL's writers do not lock each other out")
    async with probing(db, clock, capsys) as probe:
        await probe.expect()
        async with write_lock_held(Path(db.sqlite_path)):
            await probe.expect(
                "database: writes have been blocked for more than 1 s (another process holds "
                "SQLite's write lock)"
            )
        await probe.expect()


async def test_failed_inbox_updates_are_listed_for_a_person_without_degrading(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async with probing(db, clock, capsys) as probe:
        async with db.session() as session:
            session.add(
                InboxUpdate(
                    update_id=9,
                    payload={"update_id": 9},
                    status=InboxStatus.FAILED,
                    received_at=clock() - timedelta(hours=3),
                )
            )
        await probe.expect(
            attention=(
                "inbox: 1 update given up after repeated failures, kept for a person to look "
                "at (oldest received 2026-11-01 22:00 UTC)",
            )
        )


async def test_outbox_rows_overdue_or_claimed_and_never_finished(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async with probing(db, clock, capsys) as probe:
        async with db.session() as session:
            await outbox.enqueue(
                session,
                chat_id=7,
                kind="test",
                dedupe_key="late",
                due_at=clock() - timedelta(minutes=12),
                payload={},
                now=clock(),
            )
        await probe.expect("outbox: 1 message overdue by more than 10 min (oldest due 12 min ago)")
        async with db.session() as session:  # a dispatcher takes it… and dies
            [row] = await outbox.claim_due(session, now=clock())
        await probe.expect()
        clock.advance(minutes=6)
        await probe.beat()
        await probe.expect(
            "outbox: 1 message taken for sending and not finished for more than 5 min "
            "(oldest taken 6 min ago)"
        )
        async with db.session() as session:
            await outbox.mark_sent(session, row, now=clock())
        await probe.expect()


async def test_a_staff_group_refusing_the_bot(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    community = await make_community(db, clock, name="邢家桥社区")
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None and stored.id is not None
        stored.staff_chat_id = -1001
        await health.note_staff_refusal(
            session,
            chat_id=-1001,
            community_id=stored.id,
            error="403 Forbidden: bot was kicked from the supergroup chat",
            now=clock(),
        )
    async with probing(db, clock, capsys) as probe:
        await probe.expect(
            "staff group: the staff group of 邢家桥社区 refuses the bot since 2026-11-02 01:00 "
            "UTC (403 Forbidden: bot was kicked from the supergroup chat); add the bot to the "
            "group again"
        )
        async with db.session() as session:  # the community bound another group since
            stored = await session.get(Community, community.id)
            assert stored is not None
            stored.staff_chat_id = -1002
        await probe.expect()


async def test_updates_not_fetched_in_the_bot_and_as_its_presence_says(
    db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async with probing(db, clock, capsys) as probe:
        probe.problem = "polling is not running: no update arrives"  # the endpoint asks the bot
        await probe.beat(probe.problem)  # the command reads what the bot last wrote
        status, reasons, _ = await probe.endpoint()
        assert (status, reasons) == (503, ["updates: polling is not running: no update arrives"])
        code, lines = await probe.command()
        assert code == 1 and lines[1] == (
            "degraded: updates: instance bot-host:7:b: polling is not running: no update arrives"
        )
        probe.problem = None
        await probe.beat()
        await probe.expect()
        clock.advance(seconds=91)  # its presence is no longer refreshed: the process is gone
        code, lines = await probe.command()
        assert code == 1 and lines[1] == (
            "degraded: updates: no bot instance has been seen for 90 s: is the bot running?"
        )


async def test_a_running_bot_says_when_its_fetcher_or_polling_stops(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = Probe(db, clock, capsys)
    async with running_bot(emulator, db, clock, health_port=str(free_port())) as app:
        server = app.operations.health_server
        assert server is not None
        probe.server = server

        async def presence() -> None:  # what the "presence" job writes every 30 s
            await operations.beat_presence(app, problem=operations.updates_problem(app))

        await presence()
        await probe.expect()
        assert app.updater is not None
        await app.updater.stop()
        await presence()
        status, reasons, _ = await probe.endpoint()
        assert (status, reasons) == (503, ["updates: polling is not running: no update arrives"])
        code, lines = await probe.command()
        assert code == 1 and lines[1] == (
            f"degraded: updates: instance {app.operations.instance}: polling is not running: "
            "no update arrives"
        )
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await presence()
        await probe.expect()
        # What issue #20 found: an exception escaping process_update ends python-telegram-bot's
        # update fetcher for good, and nothing else notices.
        fetcher: asyncio.Task[Any] = app._Application__update_fetcher_task  # type: ignore[attr-defined]
        fetcher.cancel()
        await asyncio.wait({fetcher})
        await presence()
        status, reasons, _ = await probe.endpoint()
        assert (status, reasons) == (
            503,
            ["updates: the update fetcher has stopped: no update is handled"],
        )
        code, lines = await probe.command()
        assert code == 1 and lines[1].endswith(
            "the update fetcher has stopped: no update is handled"
        )


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that takes connections and never answers: a database that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_database_that_hangs_is_reported_within_two_seconds(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with silent_server() as port:
        hanging = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
        probe = Probe(hanging, clock, capsys)
        await probe.server.start()
        try:
            # bounded here so that a hang fails the test instead of stalling it
            status, body = await asyncio.wait_for(_get(probe.server.url), timeout=30)
            assert status == 503 and body["database"] == "unreachable"
            assert body["reasons"] == ["database: did not answer within 2 s"]
            monkeypatch.setattr(cli, "CLI_ANSWER_WITHIN", 0.5)
            code, lines = await asyncio.wait_for(probe.command(), timeout=30)
            assert code == 1 and lines[:2] == [
                "status: degraded",
                "degraded: database: did not answer within 0.5 s",
            ]
        finally:
            await probe.server.stop()
            await hanging.dispose()


async def test_the_staff_group_refusing_the_bot_is_reported_until_a_send_there_succeeds(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock)

    async def staff_reasons() -> list[str]:
        report_now = await health_report(db, now=clock(), updates=lambda: None)
        return [r for r in report_now.reasons if r.startswith("staff group:")]

    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await room.group.remove_bot(by=room.secretary)  # someone removed the bot
        await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())  # the card: 403
        assert await staff_reasons() == [
            "staff group: the staff group of 邢家桥社区 refuses the bot since 2026-11-02 01:00 "
            "UTC (403 Forbidden: bot was kicked from the supergroup chat); add the bot to the "
            "group again"
        ]
        await room.group.add_bot(by=room.secretary)
        clock.advance(minutes=1)
        await report(
            emulator, db, clock, room.community, reporter_id=room.pid(room.xu), description="又坏了"
        )
        await dispatch_due(app, now=clock())
        await room.group.expect_message(contains="又坏了")
        assert await staff_reasons() == []
