"""The bot's HTTP transport (delivery/telegram_http.py) keeps PTB's contract: a slow Bot API is a
`TimedOut`, an unreachable one a `NetworkError`, uploads arrive as multipart, other calls as
one JSON body. The rest of the
suite runs every Bot API call through it against the emulator."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut

from delivery.telegram_http import AiohttpRequest, keyboard_json
from tests.factories import TOKEN

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bot_at(base_url: str, request: AiohttpRequest) -> Bot:
    return Bot(TOKEN, base_url=base_url, request=request, get_updates_request=AiohttpRequest())


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app` on a free local port; its runner and its Bot API base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/bot"


MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}}


@asynccontextmanager
async def bot_answering(method: str, handler: Handler) -> AsyncIterator[Bot]:
    """A Bot on this transport, against a fake Bot API that has `method` only."""
    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/{method}", handler)
    runner, url = await serve(app)
    request = AiohttpRequest()
    await request.initialize()
    try:
        yield bot_at(url, request)
    finally:
        await request.shutdown()
        await runner.cleanup()


@pytest.fixture
async def slow_api() -> AsyncIterator[str]:
    """A Bot API that accepts the connection and never answers."""
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner, url = await serve(app)
    yield url
    never.set()
    await runner.cleanup()


async def test_a_bot_api_that_does_not_answer_is_timed_out(slow_api: str) -> None:
    request = AiohttpRequest(read_timeout=0.05)
    bot = bot_at(slow_api, request)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await bot.send_message(chat_id=1, text="hello")
    finally:
        await request.shutdown()


async def test_an_unreachable_bot_api_is_a_network_error() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    request = AiohttpRequest()
    bot = bot_at(f"http://127.0.0.1:{port}/bot", request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await bot.send_message(chat_id=1, text="hello")
    finally:
        await request.shutdown()


async def test_an_upload_arrives_as_multipart_with_its_fields() -> None:
    seen: dict[str, object] = {}

    async def send_document(request: web.Request) -> web.Response:
        form = await request.post()
        seen.update(chat_id=form["chat_id"], caption=form["caption"])
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        seen.update(filename=upload.filename, body=upload.file.read())
        return web.json_response({"ok": True, "result": MESSAGE})

    async with bot_answering("sendDocument", send_document) as bot:
        document = InputFile(b"issue,status\n1,open\n", filename="民情本 11月.csv")
        await bot.send_document(chat_id=7, document=document, caption="第1周 <周报>")
    assert seen == {
        "chat_id": "7",
        "caption": "第1周 <周报>",
        "filename": "民情本 11月.csv",
        "body": b"issue,status\n1,open\n",
    }


async def test_a_message_arrives_as_one_json_body_with_its_keyboard() -> None:
    seen: dict[str, object] = {}

    async def send_message(request: web.Request) -> web.Response:
        seen.update(content_type=request.content_type, body=await request.json())
        return web.json_response({"ok": True, "result": MESSAGE})

    async with bot_answering("sendMessage", send_message) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("认领", callback_data="c:1&2")]])
        await bot.send_message(7, "1栋 <路灯> & 楼道", reply_markup=keyboard)
    assert seen == {
        "content_type": "application/json",
        "body": {
            "chat_id": 7,
            "text": "1栋 <路灯> & 楼道",
            "reply_markup": {"inline_keyboard": [[{"text": "认领", "callback_data": "c:1&2"}]]},
        },
    }


async def test_a_request_before_initialize_is_refused() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")


async def test_requests_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY (HTTPS_PROXY for https, ALL_PROXY for either) carries the calls; a host in
    NO_PROXY is reached directly."""
    seen: list[str] = []

    async def get_me(request: web.Request) -> web.Response:
        seen.append(request.host)
        me = {"id": 1, "is_bot": True, "first_name": "Notebook", "username": "notebook_bot"}
        return web.json_response({"ok": True, "result": me})

    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/getMe", get_me)
    runner, url = await serve(app)
    proxy = url.removesuffix("/bot")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "localhost")
    request = AiohttpRequest()
    await request.initialize()
    try:
        # api.telegram.invalid does not resolve: only the proxy can answer for it
        bot = bot_at("http://api.telegram.invalid/bot", request)
        assert (await bot.get_me()).username == "notebook_bot"
        assert seen == ["api.telegram.invalid"]

        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nobody listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = AiohttpRequest()
        await direct.initialize()
        try:
            assert (await bot_at(url, direct).get_me()).username == "notebook_bot"
        finally:
            await direct.shutdown()
        assert seen == ["api.telegram.invalid", proxy.removeprefix("http://")]
    finally:
        await request.shutdown()
        await runner.cleanup()


def test_a_keyboard_goes_out_exactly_as_python_telegram_bot_would_send_it() -> None:
    from telegram import CopyTextButton, LoginUrl, WebAppInfo

    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("认领 <b>&", callback_data="c:7:claim"),
                InlineKeyboardButton("Map", url="https://example.org/?a=1&b=2"),
            ],
            [InlineKeyboardButton("Share", switch_inline_query="No. 7")],
            [InlineKeyboardButton("Here", switch_inline_query_current_chat="")],
            [InlineKeyboardButton("Log in", login_url=LoginUrl("https://example.org/login"))],
            [InlineKeyboardButton("App", web_app=WebAppInfo("https://example.org/app"))],
            [InlineKeyboardButton("Copy", copy_text=CopyTextButton("13800138000"))],
            [InlineKeyboardButton("Odd", callback_data="x", api_kwargs={"future": 1})],
        ]
    )
    assert keyboard_json(markup) == markup.to_dict()
    assert keyboard_json(InlineKeyboardMarkup([])) == InlineKeyboardMarkup([]).to_dict()
