"""The sandbox's web page and its JSON API, served on 127.0.0.1 by aiohttp.

The page (static/: plain HTML, CSS and JavaScript, nothing fetched from elsewhere) is a
Telegram-like client: it acts as whichever emulated user you pick, through the emulator, exactly
as a Telegram app would (send, reply, press a button, tap the keyboard), and hears about every
change through one Server-Sent Events stream fed by the emulator's change signal.

Only this machine may use it: the server binds 127.0.0.1, refuses other Host names (DNS
rebinding), and every POST needs a custom header, which a foreign web page cannot send without
a CORS preflight this server never grants.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from sqlmodel import col, select

from emulator.media import image_size
from emulator.models import ChatRecord, UserRecord
from emulator.server import CALLBACK_DEADLINE, MAX_CAPTION, MAX_TEXT
from emulator.text import JSONDict, user_entities, utf16_len
from sandbox.clock import Jump
from sandbox.runtime import LOCAL_HOSTS, Sandbox, ensure_local
from sandbox.views import ChangeTracker, clock_view, message_view
from storage.communities import ROLE_RANK
from storage.models import Building, Person, Role
from storage.people import current_membership

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
CLIENT_HEADER = "X-Sandbox-Client"
KEEPALIVE_SECONDS = 15.0
MAX_UPLOAD = 20 * 1024 * 1024
MAX_NAME = 64
PRESENT = ("creator", "administrator", "member", "restricted")
LOCATION = (29.5630, 106.5516)  # 邢家桥, Chongqing: where "send location" says you are
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)


class ApiRefusal(web.HTTPException):
    """A JSON error answer: a stable `error` code the page translates, and a detail."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": error, "detail": detail}, ensure_ascii=False),
            content_type="application/json",
        )


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


@web.middleware
async def local_only(request: web.Request, handler: Any) -> web.StreamResponse:
    host = (request.url.host or "").strip("[]").lower()
    if host not in LOCAL_HOSTS:
        raise ApiRefusal(403, "not_local", "the sandbox answers on 127.0.0.1 only")
    if request.method == "POST" and request.headers.get(CLIENT_HEADER) != "1":
        raise ApiRefusal(403, "no_client_header", f"POST needs the {CLIENT_HEADER} header")
    return await handler(request)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")


def make_web_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(middlewares=[local_only], client_max_size=MAX_UPLOAD)
    app[SANDBOX_KEY] = sandbox
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    app.router.add_get("/api/state", state)
    app.router.add_get("/api/people", people)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/files/{file_id}", download)
    app.router.add_post("/api/send", send_text)
    app.router.add_post("/api/media", send_media)
    app.router.add_post("/api/voice", send_voice)
    app.router.add_post("/api/location", send_location)
    app.router.add_post("/api/tap", tap)
    app.router.add_post("/api/press", press)
    app.router.add_post("/api/clock", jump_clock)
    app.router.add_post("/api/visitors", new_visitor)
    return app


async def start_web(
    sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 8080
) -> tuple[web.AppRunner, str]:
    """Serve the page; returns the runner (call `cleanup()` to stop) and the page's URL."""
    ensure_local(f"http://{host}/")
    runner = web.AppRunner(
        make_web_app(sandbox), access_log=None, shutdown_timeout=1.0, handler_cancellation=True
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = int(runner.addresses[0][1])
    return runner, f"http://{host}:{bound_port}"


# --- reading -------------------------------------------------------------------------------


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def state(request: web.Request) -> web.Response:
    return _json(ChangeTracker(request.app[SANDBOX_KEY]).snapshot())


async def people(request: web.Request) -> web.Response:
    """Everyone you can be: each emulated user with their role in the notebook, staff first."""
    sandbox = request.app[SANDBOX_KEY]
    users = list(sandbox.emulator.users.values())
    entries: list[JSONDict] = []
    async with sandbox.db.session() as session:
        found = (
            await session.exec(
                select(Person).where(col(Person.telegram_user_id).in_([u.id for u in users]))
            )
        ).all()
        by_user = {p.telegram_user_id: p for p in found}
        for user in users:
            entry: JSONDict = {
                "id": user.id,
                "name": " ".join(p for p in (user.first_name, user.last_name) if p),
                "language_code": user.language_code,
                "role": None,
                "community": None,
                "building": None,
            }
            person = by_user.get(user.id)
            current = await current_membership(session, person) if person else None
            if current is not None:
                membership, community = current
                building = (
                    await session.get(Building, membership.building_id)
                    if membership.building_id
                    else None
                )
                entry.update(
                    role=membership.role,
                    community=community.name,
                    building=building.name if building else None,
                )
            entries.append(entry)
    entries.sort(key=lambda e: (-ROLE_RANK[Role(e["role"])] if e["role"] else 1, e["id"]))
    return _json({"people": entries})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: a snapshot first, then each change as it happens. It waits on the
    emulator's change signal (no polling); a comment line every few seconds keeps it open."""
    sandbox = request.app[SANDBOX_KEY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    tracker = ChangeTracker(sandbox)
    signal = sandbox.emulator.signal
    try:
        await _event(response, "snapshot", tracker.snapshot())
        while not sandbox.stopping.is_set():
            try:
                await signal.wait_for(
                    lambda: sandbox.stopping.is_set() or tracker.collect(), KEEPALIVE_SECONDS
                )
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            for name, data in tracker.take():
                await _event(response, name, data)
    except ConnectionResetError:
        log.debug("a sandbox page went away")
    return response


async def _event(response: web.StreamResponse, name: str, data: JSONDict) -> None:
    payload = json.dumps(data, ensure_ascii=False)  # one line: JSON escapes newlines
    await response.write(f"event: {name}\ndata: {payload}\n\n".encode())


def _content_type(data: bytes, declared: str | None) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    return declared or "application/octet-stream"


async def download(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    stored = sandbox.emulator.files.get(request.match_info["file_id"])
    if stored is None:
        raise ApiRefusal(404, "no_such_file")
    headers = {}
    if stored.kind != "photo":
        name = stored.filename or stored.file_path.rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return web.Response(
        body=stored.data,
        content_type=_content_type(stored.data, stored.mime_type),
        headers=headers,
    )


# --- acting as a user ----------------------------------------------------------------------


async def _body(request: web.Request) -> JSONDict:
    if request.content_type != "application/json":
        raise ApiRefusal(415, "json_expected")
    try:
        body = await request.json()
    except ValueError:
        raise ApiRefusal(400, "bad_json") from None
    if not isinstance(body, dict):
        raise ApiRefusal(400, "bad_json")
    return body


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ApiRefusal(400, "bad_field", name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiRefusal(400, "bad_field", name) from None


def _user(sandbox: Sandbox, body: Any) -> UserRecord:
    user = sandbox.emulator.users.get(_int(body.get("user_id"), "user_id"))
    if user is None:
        raise ApiRefusal(404, "no_such_user")
    return user


def _chat(sandbox: Sandbox, user: UserRecord, body: Any) -> ChatRecord:
    """The chat `user` writes in: their private chat with the bot, or a group they are in."""
    chat = sandbox.emulator.chats.get(_int(body.get("chat_id"), "chat_id"))
    if chat is None:
        raise ApiRefusal(404, "no_such_chat")
    if chat.type == "private":
        if chat.id != user.id:
            raise ApiRefusal(403, "not_your_chat")
    elif chat.members.get(user.id) not in PRESENT:
        raise ApiRefusal(403, "not_a_member")
    return chat


def _reply_target(chat: ChatRecord, body: Any) -> JSONDict | None:
    value = body.get("reply_to")
    if value in (None, ""):
        return None
    message_id = _int(value, "reply_to")
    raw = chat.messages.get(message_id)
    if raw is None or message_id in chat.deleted:
        raise ApiRefusal(404, "no_such_message")
    return raw


def _post(
    sandbox: Sandbox, chat: ChatRecord, user: UserRecord, body: JSONDict, reply_to: JSONDict | None
) -> web.Response:
    raw = sandbox.emulator.post_user_message(chat, user, body, reply_to=reply_to)
    return _json({"message": message_view(chat, int(raw["message_id"]))})


def _with_entities(key: str, text: str) -> JSONDict:
    body: JSONDict = {key: text}
    entities = user_entities(text)
    if entities:
        body["entities" if key == "text" else "caption_entities"] = entities
    return body


async def send_text(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    user = _user(sandbox, body)
    chat = _chat(sandbox, user, body)
    text = str(body.get("text") or "").strip()
    if not text:
        raise ApiRefusal(400, "empty")
    if utf16_len(text) > MAX_TEXT:
        raise ApiRefusal(400, "too_long")
    return _post(sandbox, chat, user, _with_entities("text", text), _reply_target(chat, body))


async def send_media(request: web.Request) -> web.Response:
    """A file from the page's file input: a photo if it is an image, else a document."""
    sandbox = request.app[SANDBOX_KEY]
    form = await request.post()
    user = _user(sandbox, form)
    chat = _chat(sandbox, user, form)
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise ApiRefusal(400, "no_file")
    data = upload.file.read()
    if not data:
        raise ApiRefusal(400, "empty_file")
    caption = str(form.get("caption") or "").strip() or None
    if caption and utf16_len(caption) > MAX_CAPTION:
        raise ApiRefusal(400, "caption_too_long")
    emulator = sandbox.emulator
    if image_size(data) is not None:
        message = emulator.user_photo_body(data, None)
    else:
        # Browsers send the file name as UTF-8, some HTTP clients percent-encoded: accept both.
        filename = unquote(upload.filename or "") or "file"
        mime_type = upload.content_type or "application/octet-stream"
        message = emulator.user_document_body(filename, mime_type, data, None)
    if caption:
        message.update(_with_entities("caption", caption))
    return _post(sandbox, chat, user, message, _reply_target(chat, form))


async def send_voice(request: web.Request) -> web.Response:
    """A (silent, emulated) voice message: the page has no microphone access."""
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    user = _user(sandbox, body)
    chat = _chat(sandbox, user, body)
    voice = sandbox.emulator.user_voice_body(3, None)
    return _post(sandbox, chat, user, voice, _reply_target(chat, body))


async def send_location(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    user = _user(sandbox, body)
    chat = _chat(sandbox, user, body)
    latitude, longitude = LOCATION
    location = {"location": {"latitude": latitude, "longitude": longitude}}
    return _post(sandbox, chat, user, location, None)


async def tap(request: web.Request) -> web.Response:
    """Press a button of the reply keyboard the bot is showing in this chat."""
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    user = _user(sandbox, body)
    chat = _chat(sandbox, user, body)
    text = str(body.get("text") or "")
    rows = (chat.reply_keyboard or {}).get("keyboard") or []
    buttons = [b if isinstance(b, dict) else {"text": b} for row in rows for b in row]
    if not any(b.get("text") == text for b in buttons):
        raise ApiRefusal(404, "no_such_button")
    if chat.type == "private":
        raw = await sandbox.user(user.id).tap(text)  # shares contact / location if asked
        return _json({"message": message_view(chat, int(raw["message_id"]))})
    return _post(sandbox, chat, user, _with_entities("text", text), None)


async def press(request: web.Request) -> web.Response:
    """Press an inline button; answers with what the bot said (a toast or an alert)."""
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    user = _user(sandbox, body)
    chat = _chat(sandbox, user, body)
    message = chat.bot_messages.get(_int(body.get("message_id"), "message_id"))
    if message is None or message.deleted:
        raise ApiRefusal(404, "no_such_message")
    data = str(body.get("data") or "")
    # A Telegram app can only press buttons it is shown; the bot re-checks rights anyway.
    if not any(b.callback_data == data for row in message.buttons for b in row):
        raise ApiRefusal(404, "no_such_button")
    emulator = sandbox.emulator
    pending = emulator.emit_callback_query(user, chat, message.raw, data)
    if pending is None:
        raise ApiRefusal(409, "callbacks_filtered")
    try:
        await emulator.signal.wait_for(lambda: pending.answer is not None, CALLBACK_DEADLINE)
    except TimeoutError:
        raise ApiRefusal(504, "no_answer", "the bot did not answer the button press") from None
    answer = pending.answer
    assert answer is not None
    return _json({"answer": {"text": answer.text, "show_alert": answer.show_alert}})


async def jump_clock(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    try:
        jump = Jump(str(body.get("jump")))
    except ValueError:
        raise ApiRefusal(400, "bad_field", "jump") from None
    _, queued = await sandbox.jump(jump)
    return _json({"clock": clock_view(sandbox), "queued": queued})


async def new_visitor(request: web.Request) -> web.Response:
    """Someone new who has never written to the bot: to try joining from scratch."""
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    name = " ".join(str(body.get("name") or "").split())
    if not name or len(name) > MAX_NAME:
        raise ApiRefusal(400, "bad_field", "name")
    language = body.get("language_code")
    if language not in (None, "zh-hans", "en"):
        raise ApiRefusal(400, "bad_field", "language_code")
    driver = sandbox.emulator.user(first_name=name, language_code=language, started=False)
    return _json(
        {
            "person": {
                "id": driver.id,
                "name": name,
                "language_code": language,
                "role": None,
                "community": None,
                "building": None,
            }
        }
    )
