"""The health report: GET /healthz in webhook mode, and the same figures from storage."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from bot.emulator import BotApiEmulator
from bot.health import HealthServer
from bot.settings import load_settings
from storage import outbox
from storage.db import Database
from storage.health import INSTANCE_PREFIX, health_report
from tests.factories import FakeClock, bot_errors, make_community
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
        assert status == 200 and body["status"] == "degraded"  # the outbox is not moving
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
    assert body["status"] == "down" and body["database"] == "unreachable"


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
        _env_file=None, webhook_url="https://x.example/t", webhook_secret_token="abc"
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
