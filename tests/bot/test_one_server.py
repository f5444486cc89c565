"""Webhook mode runs one HTTP server (bot/health.py, python-telegram-bot's custom-webhook
pattern): Telegram's POSTs, /healthz, /metrics and the feeds on WEBHOOK_PORT. The webhook is
refused as python-telegram-bot's own would refuse it, and takes nothing while stopping."""

from __future__ import annotations

import json as jsonlib

import aiohttp

from bot import operations
from emulator import BotApiEmulator
from storage.db import Database
from storage.models import InboxUpdate
from tests.factories import FakeClock, bot_errors
from tests.webhooks import SECRET, running_webhook_bot, webhook_url

HEADER = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status


async def _stored(db: Database, update_id: int) -> bool:
    async with db.session() as session:
        return await session.get(InboxUpdate, update_id) is not None


async def test_one_server_takes_updates_and_answers_health_metrics_and_feeds(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    async with running_webhook_bot(emulator, db, clock, public_url="https://n.example.org") as app:
        url = webhook_url(app)
        base = url.removesuffix("/telegram")
        server = app.operations.health_server
        assert server is not None and server.base_url == base  # the webhook's own port
        anna = emulator.user(first_name="Anna", language_code="en")
        await anna.send("/start")  # Telegram's POST, with the secret
        await anna.expect_message(contains="No community uses this notebook yet")
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/healthz") as response:
                assert response.status == 200 and (await response.json())["mode"] == "webhook"
            async with http.get(base + "/metrics") as response:
                assert response.status == 200
                assert "notebook_updates_handled_total" in await response.text()
            async with http.get(base + "/calendar/nothing-here.ics") as response:
                assert response.status == 404

        json = {"Content-Type": "application/json"}
        update = jsonlib.dumps(
            {
                "update_id": 777001,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": anna.id, "type": "private"},
                    "from": {"id": anna.id, "is_bot": False, "first_name": "Anna"},
                    "text": "hi",
                },
            }
        ).encode()
        assert await _post(url, update, json) == 403  # no secret token
        assert await _post(url, update, {**json, "X-Telegram-Bot-Api-Secret-Token": "x"}) == 403
        assert await _post(url, update, {"Content-Type": "text/plain", **HEADER}) == 403
        assert await _post(url, b"{not json", {**json, **HEADER}) == 400
        assert await _post(url, b'{"ok": true}', {**json, **HEADER}) == 400
        assert not await _stored(db, 777001)

        operations.close_webhook(app)  # what a stop does first
        assert await _post(url, update, {**json, **HEADER}) == 503  # Telegram tries again
        assert not await _stored(db, 777001)
        async with aiohttp.ClientSession() as http, http.get(base + "/healthz") as response:
            assert response.status == 503  # says why, meanwhile
            assert "not taking updates" in " ".join((await response.json())["reasons"])
        server.accept_updates(True)
        assert await _post(url, update, {**json, **HEADER}) == 200
        assert await _stored(db, 777001)  # stored before the 200
    assert bot_errors(emulator) == []
