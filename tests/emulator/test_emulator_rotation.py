"""The emulator can stand in for a load balancer: successive webhook deliveries go to several
URLs in turn, each with the registered secret, one at a time and in order."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from emulator import BotApiEmulator
from tests.factories import TOKEN
from tests.webhooks import free_port


async def _receiver(received: list[tuple[int, str | None]]) -> tuple[web.AppRunner, str]:
    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append(
            (int(update["update_id"]), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/hook"


async def test_webhook_deliveries_alternate_between_instances(emulator: BotApiEmulator) -> None:
    first: list[tuple[int, str | None]] = []
    second: list[tuple[int, str | None]] = []
    runner_a, url_a = await _receiver(first)
    runner_b, url_b = await _receiver(second)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{emulator.base_url}{TOKEN}/setWebhook",
                json={"url": url_a, "secret_token": "s3cret"},
            ) as response,
        ):
            assert (await response.json())["ok"]
        emulator.alternate_webhooks([url_a, url_b])
        anna = emulator.user(first_name="Anna")
        for n in range(4):
            await anna.send(f"message {n}")
        await emulator.wait_idle()
        assert [u for u, _ in first] == [100_000_001, 100_000_003]
        assert [u for u, _ in second] == [100_000_002, 100_000_004]
        assert {s for _, s in first + second} == {"s3cret"}

        emulator.alternate_webhooks([])  # back to the registered URL alone
        await anna.send("again")
        await emulator.wait_idle()
        assert [u for u, _ in first][-1] == 100_000_005 and len(second) == 2
    finally:
        await runner_a.cleanup()
        await runner_b.cleanup()
