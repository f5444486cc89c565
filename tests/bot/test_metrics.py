"""GET /metrics on the health server (bot/health.py, runtime/metrics.py): what Prometheus scrapes.

The counters count what this process did (updates handled and failed, outbox messages sent
and given up by kind, Bot API errors by code, digest durations); the inbox and outbox gauges
are read from the database at each scrape. Counters are per process and other tests run in
it too, so these tests compare a scrape before with one after."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.health import HealthServer
from delivery.dispatch import dispatch_due
from emulator import BotApiEmulator
from storage import outbox
from storage.db import Database
from storage.models import InboxUpdate
from tests.factories import FakeClock, running_bot
from tests.staffroom import bind, report, staffroom
from tests.webhooks import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(base_url: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(base_url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_the_inbox_and_outbox_backlog_are_read_at_each_scrape(
    db: Database, clock: FakeClock
) -> None:
    server = HealthServer(db, clock, host="127.0.0.1", port=0)
    await server.start()
    try:
        empty = await scrape(server.base_url)
        assert value(empty, "notebook_inbox_pending") == 0
        assert value(empty, "notebook_inbox_oldest_pending_age_seconds") == 0
        async with db.session() as session:
            for update_id, age in ((1, 90), (2, 30)):
                session.add(
                    InboxUpdate(
                        update_id=update_id,
                        payload={"update_id": update_id},
                        received_at=clock() - timedelta(seconds=age),
                    )
                )
            for n, kind in enumerate(("agenda", "agenda", "due_soon")):
                await outbox.enqueue(
                    session,
                    chat_id=42,
                    kind=kind,
                    dedupe_key=f"waiting-{n}",
                    due_at=clock() + timedelta(minutes=5),
                    payload={},
                    now=clock(),
                )
        full = await scrape(server.base_url)
        assert value(full, "notebook_inbox_pending") == 2
        assert value(full, "notebook_inbox_oldest_pending_age_seconds") == 90
        assert value(full, "notebook_outbox_queued", kind="agenda") == 2
        assert value(full, "notebook_outbox_queued", kind="due_soon") == 1
        async with db.session() as session:
            await outbox.cancel(session, key_prefixes=["waiting-"])
        after = await scrape(server.base_url)
        assert value(after, "notebook_outbox_queued", kind="agenda") == 0  # gone, not stale
        assert value(after, "notebook_outbox_queued", kind="due_soon") == 0
    finally:
        await server.stop()


async def test_the_page_answers_while_the_database_is_unreachable(clock: FakeClock) -> None:
    nowhere = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    server = HealthServer(nowhere, clock, host="127.0.0.1", port=0)
    await server.start()
    try:
        samples = await scrape(server.base_url)  # 200: the counters are still worth reading
    finally:
        await server.stop()
        await nowhere.dispose()
    assert any(name == "notebook_updates_handled_total" for name, _labels in samples)


async def test_a_running_bot_counts_updates_sends_failures_api_errors_and_digests(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    room = await staffroom(emulator, db, clock, locale="en", names=("Xie", "Wang", "Li", "Xu"))
    async with running_bot(emulator, db, clock, health_port=free_port()) as app:
        server = app.operations.health_server
        assert server is not None
        before = await scrape(server.base_url)
        await bind(room)  # one update: /bind in the group
        emulator.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
        await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())  # the card: refused with a 400, given up
        await report(emulator, db, clock, room.community, reporter_id=room.pid(room.xu))
        await dispatch_due(app, now=clock())  # the next card goes out
        await room.group.expect_message(contains="No. 2")
        await room.wang.send("/digest")
        await room.wang.expect_message(contains="Notebook: ", timeout=30)  # a chart is drawn
        after = await scrape(server.base_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("notebook_updates_handled_total") == 2  # /bind, /digest
    assert delta("notebook_updates_failed_total") == 0
    assert delta("notebook_outbox_failed_total", kind="staff_card") == 1
    assert delta("notebook_outbox_sent_total", kind="staff_card") == 1
    assert delta("notebook_bot_api_errors_total", code="400") == 1
    assert delta("notebook_digest_duration_seconds_count", trigger="command") == 1
    assert delta("notebook_digest_duration_seconds_sum", trigger="command") > 0
