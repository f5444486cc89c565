"""The Bot API side of the emulator: an aiohttp server speaking the subset of the Telegram Bot
API a python-telegram-bot Application uses, with Telegram's validation rules and error texts.

``EmulatorCore`` owns all state (users, chats, messages, files, the update queue, webhook
settings) and the HTTP server. The test-facing driver (``emulator.driver``) subclasses it
and adds simulated users and groups. Everything runs on the test's event loop; waiting is done
on a broadcast signal that fires on every state change, never by sleeping and re-checking.

Time: every rule that judges by time runs on the injected ``clock`` (epoch seconds; real time,
as on Telegram, when none is given): message dates, the 48-hour deletion window, the deadline
for answering a callback query, a chat's flood wait (``flood_chat``). A test with a clock it
moves by hand therefore decides when a deadline passes, and a slow machine never does.
Two things stay on the event loop's own time because the bot on the other side measures them
in real time: how long a long poll or a hanging request is held open (the bot's HTTP client
times out in real time), the webhook retry pause, and, unless ``flood_limit(injected_clock=
True)``, the rate limits of ``flood_limit``, which judge the bot's own real-time pacing.

Faults for tests: ``fail_next`` (the next calls fail), ``flood_limit`` (Telegram's rate
limits), ``flood_chat`` (one chat answers 429 until a deadline), ``outage`` (the front end
answers 502 to everything, or lets requests hang, until ``end_outage``).
"""

# The driver API takes explicit `timeout=` arguments on purpose (tests read better that way).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from emulator.formatting import parse_formatted
from emulator.media import extension_for, image_size
from emulator.models import (
    ApiCall,
    ApiErrorRecord,
    BotMessage,
    CallbackAnswer,
    ChatRecord,
    MessageVersion,
    PendingCallback,
    StoredFile,
    TranscriptEntry,
    TranscriptKind,
    UserRecord,
)
from emulator.text import (
    EntityParseError,
    JSONDict,
    ParsedText,
    UnsupportedParseMode,
    utf16_len,
    utf16_slice,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD = 50 * 1024 * 1024
CALLBACK_DEADLINE = 15.0  # seconds a callback query can wait for its answer
DELETE_WINDOW = 48 * 3600  # bots may delete messages younger than this

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)

# Parameters Telegram treats as strings: never JSON-decode them ("123" stays "123").
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "file_id",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "animation",
        "sticker",
        "thumbnail",
        "video_note",
        "action",
        "language_code",
        "title",
        "description",
        "short_description",
        "name",
        "ip_address",
        "inline_message_id",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "address",
        "foursquare_id",
    }
)

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_REPLY_BUTTON_REQUESTS = (
    "request_contact",
    "request_location",
    "request_poll",
    "request_users",
    "request_chat",
    "web_app",
)
# The emoji a bot may react with (Bot API: ReactionTypeEmoji); anything else is REACTION_INVALID.
REACTION_EMOJI = frozenset(
    [
        "👍",
        "👎",
        "❤",
        "🔥",
        "🥰",
        "👏",
        "😁",
        "🤔",
        "🤯",
        "😱",
        "🤬",
        "😢",
        "🎉",
        "🤩",
        "🤮",
        "💩",
        "🙏",
        "👌",
        "🕊",
        "🤡",
        "🥱",
        "🥴",
        "😍",
        "🐳",
        "❤\u200d🔥",
        "🌚",
        "🌭",
        "💯",
        "🤣",
        "⚡",
        "🍌",
        "🏆",
        "💔",
        "🤨",
        "😐",
        "🍓",
        "🍾",
        "💋",
        "🖕",
        "😈",
        "😴",
        "😭",
        "🤓",
        "👻",
        "👨\u200d💻",
        "👀",
        "🎃",
        "🙈",
        "😇",
        "😨",
        "🤝",
        "✍",
        "🤗",
        "🫡",
        "🎅",
        "🎄",
        "☃",
        "💅",
        "🤪",
        "🗿",
        "🆒",
        "💘",
        "🙉",
        "🦄",
        "😘",
        "💊",
        "🙊",
        "😎",
        "👾",
        "🤷\u200d♂",
        "🤷",
        "🤷\u200d♀",
        "😡",
    ]
)
# Reply keyboard buttons that ask the user's client for something: private chats only.
_PRIVATE_ONLY_REQUESTS = ("request_contact", "request_location", "request_users", "request_chat")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SERVICE_KEYS = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "message_auto_delete_timer_changed",
    }
)
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
_COMMAND_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_USER_MEDIA = ("photo", "document", "voice", "sticker", "location", "contact", "video", "audio")


class ApiError(Exception):
    """An error answer: HTTP status = error_code, Telegram's description text."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class Signal:
    """Broadcast "something changed": waiters re-check their condition after every fire().

    asyncio.Condition needs its lock held to notify, which would make every synchronous state
    change async; swapping a fresh Event per fire gives the same wake-up semantics."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Return once predicate() is true; raise TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                event = self._event  # take it before checking, so no fire() is missed
                if predicate():
                    return
                await event.wait()


@dataclass
class UploadedFile:
    data: bytes
    filename: str | None
    mime_type: str | None


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None


@dataclass
class _Failure:
    method: str | None  # lower-cased; None = any sending method
    error_code: int
    retry_after: int
    remaining: int
    description: str | None


@dataclass
class _FloodLimits:
    per_chat_per_second: float | None
    per_group_per_minute: int | None
    global_per_second: float | None
    injected_clock: bool
    log: dict[Any, deque[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outage:
    status: int
    timeout: bool
    methods: frozenset[str] | None  # lower-cased; None: every method
    spare: frozenset[str]

    def covers(self, method: str) -> bool:
        name = method.lower()
        if name in self.spare:
            return False
        return self.methods is None or name in self.methods


Handler = Callable[[JSONDict, dict[str, UploadedFile]], Awaitable[Any]]


def _is_sending_method(method: str) -> bool:
    """Methods that create or change messages; what ``fail_next(None)`` and flood limits hit."""
    name = method.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "edit", "copymessage", "forwardmessage"))


def _creates_message(method: str) -> bool:
    name = method.lower()
    return name != "sendchataction" and name.startswith(("send", "copymessage", "forwardmessage"))


def decode_value(key: str, value: Any) -> Any:
    """Undo PTB's encoding: non-string parameters arrive as JSON text."""
    if not isinstance(value, str) or key in _STRING_FIELDS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, dict | list | bool | int | float):
        return decoded
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def strip_reply(raw: JSONDict) -> JSONDict:
    """A message as embedded in reply_to_message: Telegram does not nest replies further."""
    return {key: value for key, value in raw.items() if key != "reply_to_message"}


def member_dict(
    user: JSONDict, status: str, *, can_delete: bool = False, can_restrict: bool = True
) -> JSONDict:
    """A ChatMember object with all fields PTB requires for each status."""
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        return {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            "can_manage_chat": True,
            "can_delete_messages": can_delete,
            "can_manage_video_chats": False,
            "can_restrict_members": can_restrict,
            "can_promote_members": False,
            "can_change_info": False,
            "can_invite_users": True,
            "can_pin_messages": True,
            "can_post_stories": False,
            "can_edit_stories": False,
            "can_delete_stories": False,
        }
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status == "left":
        return {"status": "left", "user": user}
    return {"status": "member", "user": user}


class EmulatorCore:
    """State + HTTP server of the emulated Bot API. Use as ``async with``."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "emulator_bot",
        bot_first_name: str = "Emulator Bot",
        *,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_insecure_webhooks: bool = True,
    ) -> None:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.privacy_mode = privacy_mode
        self.clock = clock
        self.host = host
        self.port = port
        self.allow_insecure_webhooks = allow_insecure_webhooks

        self.calls: list[ApiCall] = []
        self.errors: list[ApiErrorRecord] = []
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}  # (kind, language) -> text
        self.default_menu_button: JSONDict | None = None

        self._signal = Signal()
        self._updates: list[JSONDict] = []  # emitted, not yet confirmed
        self._next_update_id = 100_000_001
        self._delivered_upto = 0  # highest update_id handed to the bot
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._webhook: WebhookConfig | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_rotation: list[str] = []  # several instances behind one webhook
        self._rotation_turn = 0
        self._inflight = 0
        self._activity = 0  # bumps at every request start; wait_idle watches it
        self._failures: list[_Failure] = []
        self._flood: _FloodLimits | None = None
        self._chat_floods: dict[int, float] = {}  # chat id -> clock() when 429s end
        self._outage: _Outage | None = None
        self.outage_requests: Counter[str] = Counter()  # method -> requests in the outage
        self._transcript_seq = 0
        self._callbacks: dict[str, PendingCallback] = {}
        self._next_query = 4_000_000_000_000_000_001
        self._file_counter = 0
        self._media_group_counter = 13_000_000_000_000_001
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._methods: dict[str, Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "editMessageCaption": self._edit_message_caption,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendVoice": self._send_voice,
                "sendMediaGroup": self._send_media_group,
                "sendLocation": self._send_location,
                "sendChatAction": self._send_chat_action,
                "copyMessage": self._copy_message,
                "forwardMessage": self._forward_message,
                "getFile": self._get_file,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._set_bot_text("description", "description"),
                "getMyDescription": self._get_bot_text("description", "description"),
                "setMyShortDescription": self._set_bot_text(
                    "short_description", "short_description"
                ),
                "getMyShortDescription": self._get_bot_text(
                    "short_description", "short_description"
                ),
                "setMyName": self._set_bot_text("name", "name"),
                "getMyName": self._get_bot_text("name", "name"),
                "setChatMenuButton": self._set_chat_menu_button,
                "getChatMenuButton": self._get_chat_menu_button,
                "setMessageReaction": self._set_message_reaction,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getChatAdministrators": self._get_chat_administrators,
                "getChatMemberCount": self._get_chat_member_count,
                "leaveChat": self._leave_chat,
                "banChatMember": self._ban_chat_member,
                "unbanChatMember": self._unban_chat_member,
                "close": self._noop,
                "logOut": self._noop,
            }.items()
        }

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: when a client gives up on a request (PTB cancelling its long
        # poll at shutdown), stop handling it instead of answering nobody later. A short
        # shutdown timeout: parked long polls are woken by close(), nothing else lingers.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._webhook_task = asyncio.create_task(self._deliver_webhooks(), name="emulator-webhook")

    async def close(self) -> None:
        self._closing = True
        self._signal.fire()  # wake long polls and the webhook task so they return now
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    # --- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = None,
        error_code: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (None: any sending method) fail."""
        self._failures.append(
            _Failure(
                method.lower() if method else None, error_code, retry_after, count, description
            )
        )

    def flood_limit(
        self,
        per_chat_per_second: float | None = 1.0,
        per_group_per_minute: int | None = 20,
        global_per_second: float | None = 30.0,
        *,
        injected_clock: bool = False,
    ) -> None:
        """Answer 429 like Telegram when the bot sends faster than these limits. The rates
        are measured on the event loop's clock, as the bot paces itself, unless
        ``injected_clock``: then on the emulator's clock, for a test that moves time itself."""
        self._flood = _FloodLimits(
            per_chat_per_second, per_group_per_minute, global_per_second, injected_clock
        )

    def flood_chat(self, chat_id: int, retry_after: int = 10) -> None:
        """Make every method that creates or changes a message in ``chat_id`` answer 429 with
        the seconds left, until the emulator's clock has moved ``retry_after`` seconds on (or
        ``lift_flood``). Other chats are served as usual."""
        self._chat_floods[chat_id] = self.clock() + retry_after
        self._signal.fire()

    def lift_flood(self, chat_id: int | None = None) -> None:
        """End the flood wait of ``chat_id`` (None: of every chat) at once."""
        if chat_id is None:
            self._chat_floods.clear()
        else:
            self._chat_floods.pop(chat_id, None)
        self._signal.fire()

    def outage(
        self,
        status: int = 502,
        *,
        timeout: bool = False,
        methods: Iterable[str] | None = None,
        spare: Iterable[str] = (),
    ) -> None:
        """Act as Telegram's front end with the Bot API behind it down, until ``end_outage``:
        every request (of ``methods`` if given, except those in ``spare``; getUpdates is one
        of them) is answered ``status`` (502 Bad Gateway), or with ``timeout`` hangs until the
        bot's client gives up (a request still hanging at ``end_outage`` is answered 504).
        Nothing is done for these requests and, unless getUpdates is left out of ``methods``
        or spared, no update is delivered (webhook deliveries wait too). They are not in
        ``calls`` (the Bot API never saw them); the answers given are in ``errors``.
        ``outage_requests`` counts them by method, from this call on."""
        self._outage = _Outage(
            status,
            timeout,
            frozenset(m.lower() for m in methods) if methods is not None else None,
            frozenset(m.lower() for m in spare),
        )
        self.outage_requests.clear()
        self._signal.fire()

    def end_outage(self) -> None:
        """The Bot API is back: requests are handled again (``outage_requests`` is kept)."""
        self._outage = None
        self._signal.fire()

    @property
    def in_outage(self) -> bool:
        return self._outage is not None

    def transcript(self, chat_id: int) -> list[TranscriptEntry]:
        """Everything that happened in the chat, in order: the users' messages and button
        presses, each message the bot sent (with its text and keyboard then), each edit (the
        new content), each deletion. See ``TranscriptEntry``."""
        return list(self.chats[chat_id].transcript)

    def _record(
        self,
        chat: ChatRecord,
        kind: TranscriptKind,
        message_id: int,
        text: str,
        reply_markup: JSONDict | None = None,
        *,
        user_id: int | None = None,
        data: str | None = None,
        media_type: str | None = None,
    ) -> None:
        self._transcript_seq += 1
        chat.transcript.append(
            TranscriptEntry(
                seq=self._transcript_seq,
                kind=kind,
                chat_id=chat.id,
                message_id=message_id,
                text=text,
                reply_markup=copy.deepcopy(reply_markup),
                date=self._now(),
                user_id=user_id,
                data=data,
                media_type=media_type,
            )
        )

    def no_flood_limit(self) -> None:
        self._flood = None

    def updates_pending(self) -> int:
        """Updates emitted but not yet confirmed by the bot (getWebhookInfo's count)."""
        return len(self._updates)

    def pending_updates(self) -> list[JSONDict]:
        """Copies of the updates emitted but not yet confirmed, oldest first."""
        return [dict(u) for u in self._updates]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def commands_for(
        self, scope: JSONDict | None = None, language_code: str = ""
    ) -> list[JSONDict]:
        return list(self.commands.get((self._scope_key(scope), language_code), []))

    def commands_seen(self, chat_id: int, user_id: int, language_code: str = "") -> list[JSONDict]:
        """The command menu this user sees in this chat, found as Telegram finds it: the
        narrowest scope that has commands, and in each scope the user's language before none
        (Bot API: "Determining list of commands")."""
        chat = self.chats[chat_id]
        language = (language_code or "").replace("_", "-").split("-")[0].lower()
        scopes: list[JSONDict]
        if chat.type == "private":
            scopes = [{"type": "chat", "chat_id": chat_id}, {"type": "all_private_chats"}]
        else:
            admin = chat.members.get(user_id) in ("creator", "administrator")
            scopes = [{"type": "chat_member", "chat_id": chat_id, "user_id": user_id}]
            if admin:
                scopes.append({"type": "chat_administrators", "chat_id": chat_id})
            scopes.append({"type": "chat", "chat_id": chat_id})
            if admin:
                scopes.append({"type": "all_chat_administrators"})
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        for scope in scopes:
            key = json.dumps(scope, sort_keys=True)
            for lang in (language, "") if language else ("",):
                if (key, lang) in self.commands:
                    return list(self.commands[(key, lang)])
        return []

    def reactions(self, chat_id: int, message_id: int) -> list[str]:
        """The emoji the bot set on a message (setMessageReaction), as the user sees them."""
        return list(self.chats[chat_id].extra.get("reactions", {}).get(message_id, []))

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    def alternate_webhooks(self, urls: list[str]) -> None:
        """Deliver successive updates to these URLs in turn, as a load balancer in front of
        several bot instances would (an empty list: back to the registered URL). The secret
        token and the one-at-a-time, in-order delivery stay those of the registered webhook."""
        self._webhook_rotation = list(urls)
        self._rotation_turn = 0
        self._signal.fire()

    def _delivery_url(self, hook: WebhookConfig) -> str:
        if not self._webhook_rotation:
            return hook.url
        return self._webhook_rotation[self._rotation_turn % len(self._webhook_rotation)]

    def _idle(self) -> bool:
        if self._inflight:
            return False
        if not self._updates:
            return True
        if self._webhook is not None:
            return False
        return int(self._updates[-1]["update_id"]) <= self._delivered_upto

    async def wait_idle(self, timeout: float = 5.0, settle_ticks: int = 20) -> None:
        """Return once every update was handed to the bot (getUpdates or webhook 2xx) and no
        request is in flight. After that, the loop is yielded ``settle_ticks`` times so a
        handler that just received its update gets to issue its request; a handler that
        awaits slow I/O first (a database thread) can still be busy after this returns."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._signal.wait_for(self._idle, None)
                    activity = self._activity
                    for _ in range(settle_ticks):
                        await asyncio.sleep(0)  # a yield, not a delay: lets ready tasks run
                        if not self._idle() or self._activity != activity:
                            break
                    else:
                        return
        except TimeoutError:
            unfetched = (
                len(self._updates)
                if self._webhook
                else sum(1 for u in self._updates if u["update_id"] > self._delivered_upto)
            )
            raise TimeoutError(
                f"the bot was not idle within {timeout}s: {unfetched} update(s) not yet "
                f"fetched/delivered, {self._inflight} request(s) in flight"
            ) from None

    # --- HTTP --------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        outage = self._outage
        if outage is not None and outage.covers(method):
            return await self._outage_answer(method, outage)
        if token != self.token:
            return self._error_response(method, {}, ApiError(401, "Unauthorized"))
        # A parked long poll is idle waiting; every other request counts as work in flight,
        # from the moment it arrives (an upload may take a while to read).
        long_poll = method.lower() == "getupdates"
        if not long_poll:
            self._inflight += 1
        self._activity += 1
        self._signal.fire()
        try:
            return await self._dispatch(request, method)
        finally:
            if not long_poll:
                self._inflight -= 1
            self._signal.fire()

    async def _outage_answer(self, method: str, outage: _Outage) -> web.Response:
        """The front end's answer while the Bot API is down; the request is never handled."""
        self.outage_requests[method] += 1
        self._signal.fire()
        if outage.timeout:
            # Held until the client gives up (aiohttp then cancels this handler) or the outage
            # ends; then the front end gives up on it too, the request still not handled.
            await self._signal.wait_for(lambda: self._outage is not outage or self._closing, None)
            status = 504
            description = "Gateway Timeout"
        else:
            status = outage.status
            description = {
                502: "Bad Gateway",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }.get(status, "Bad Gateway")
        return self._error_response(method, {}, ApiError(status, description))

    async def _dispatch(self, request: web.Request, method: str) -> web.Response:
        try:
            params, files = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(method, {}, exc)
        self.calls.append(
            ApiCall(method, params, {name: f.filename or name for name, f in files.items()})
        )
        handler = self._methods.get(method.lower())
        if handler is None:
            return self._error_response(
                method, params, ApiError(404, "Not Found: method not found")
            )
        try:
            self._check_injected_failure(method, params)
            result = await handler(params, files)
        except ApiError as exc:
            if request.transport is None or request.transport.is_closing():
                # The client has gone (e.g. a cancelled long poll terminated by the next one):
                # nobody receives this answer, so it is not an error the bot got.
                return self._json(exc.error_code, {"ok": False})
            return self._error_response(method, params, exc)
        except Exception as exc:  # an emulator bug: report it loudly to the bot and the test
            log.exception("emulator failed on %s", method)
            return self._error_response(
                method, params, ApiError(500, f"Internal Server Error: emulator: {exc!r}")
            )
        return self._json(200, {"ok": True, "result": result})

    def _error_response(self, method: str, params: JSONDict, exc: ApiError) -> web.Response:
        self.errors.append(ApiErrorRecord(method, params, exc.error_code, exc.description))
        body: JSONDict = {"ok": False, "error_code": exc.error_code, "description": exc.description}
        if exc.parameters:
            body["parameters"] = exc.parameters
        return self._json(exc.error_code, body)

    @staticmethod
    def _json(status: int, body: JSONDict) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(body, ensure_ascii=False).encode(),
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            content_type = request.content_type
            if content_type == "multipart/form-data":
                reader = await request.multipart()
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                        continue
                    if part.filename is not None:
                        files[part.name] = UploadedFile(
                            data=bytes(await part.read(decode=False)),
                            filename=part.filename,
                            mime_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
                        )
                    else:
                        raw[part.name] = await part.text()
            elif content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected")
                raw.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        raw[key] = value
        return {key: decode_value(key, value) for key, value in raw.items()}, files

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.data, content_type=stored.mime_type or "application/octet-stream"
                )
        return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def _check_injected_failure(self, method: str, params: JSONDict) -> None:
        name = method.lower()
        for failure in self._failures:
            if failure.remaining <= 0:
                continue
            if failure.method == name or (failure.method is None and _is_sending_method(name)):
                failure.remaining -= 1
                self._failures = [f for f in self._failures if f.remaining > 0]
                if failure.error_code == 429:
                    error = too_many_requests(failure.retry_after)
                    if failure.description:
                        error.description = failure.description
                    raise error
                default = {
                    400: "Bad Request: injected failure",
                    403: "Forbidden: injected failure",
                    500: "Internal Server Error",
                    502: "Bad Gateway",
                }.get(failure.error_code, "Injected failure")
                raise ApiError(failure.error_code, failure.description or default)
        if self._chat_floods and _is_sending_method(name):
            self._check_chat_flood(params)
        if self._flood is not None and _creates_message(name):
            self._check_flood(params)

    def _check_chat_flood(self, params: JSONDict) -> None:
        chat_id = _as_int(params.get("chat_id"))
        until = self._chat_floods.get(chat_id) if chat_id is not None else None
        if until is None or chat_id is None:
            return
        left = until - self.clock()
        if left <= 0:
            del self._chat_floods[chat_id]
            return
        raise too_many_requests(max(1, math.ceil(left)))

    def _check_flood(self, params: JSONDict) -> None:
        assert self._flood is not None
        now = self.clock() if self._flood.injected_clock else asyncio.get_running_loop().time()
        chat_id = _as_int(params.get("chat_id"))
        checks: list[tuple[Any, float, float]] = []  # key, window seconds, allowed count
        if self._flood.global_per_second:
            checks.append(("global", 1.0, self._flood.global_per_second))
        if chat_id is not None and self._flood.per_chat_per_second:
            checks.append((("chat", chat_id), 1.0, self._flood.per_chat_per_second))
        if chat_id is not None and chat_id < 0 and self._flood.per_group_per_minute:
            checks.append((("group", chat_id), 60.0, float(self._flood.per_group_per_minute)))
        for key, window, allowed in checks:
            stamps = self._flood.log.setdefault(key, deque())
            while stamps and now - stamps[0] >= window:
                stamps.popleft()
            if len(stamps) >= allowed:
                raise too_many_requests(max(1, math.ceil(window - (now - stamps[0]))))
        for key, _, _ in checks:
            self._flood.log[key].append(now)

    # --- updates -----------------------------------------------------------------------------

    def _update_allowed(self, kind: str) -> bool:
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    def emit_update(self, kind: str, payload: JSONDict) -> JSONDict | None:
        """Queue an update for the bot; None if allowed_updates filters this kind out."""
        if not self._update_allowed(kind):
            return None
        # A snapshot: the chat's own copy keeps changing (edits) after the update is queued.
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._signal.fire()
        return update

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    async def _get_updates(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset")) or 0
        limit = _as_int(params.get("limit")) or 100
        limit = min(max(limit, 1), 100)
        timeout_value = params.get("timeout", 0)
        timeout = float(timeout_value) if isinstance(timeout_value, int | float) else 0.0
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._confirm(offset)
        # A newer getUpdates terminates an older one still waiting, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.fire()
        if not self._updates and timeout > 0:
            with contextlib.suppress(TimeoutError):
                await self._signal.wait_for(
                    lambda: (
                        bool(self._updates)
                        or self._poll_generation != generation
                        or self._closing
                        or self._webhook is not None
                    ),
                    timeout,
                )
            if self._poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
        batch = self._updates[:limit]
        if batch:
            self._delivered_upto = max(self._delivered_upto, int(batch[-1]["update_id"]))
        return batch

    async def _set_webhook(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, files)
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host or parts.scheme not in ("http", "https"):
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        local = host in _LOCAL_HOSTS and self.allow_insecure_webhooks
        if parts.scheme != "https" and not local:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if not local and (parts.port or 443) not in (80, 88, 443, 8443):
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.match(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        max_connections = _as_int(params.get("max_connections")) or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("invalid max_connections specified")
        if _as_bool(params.get("drop_pending_updates", False)):
            self._updates.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._webhook = WebhookConfig(
            url, str(secret) if secret else None, max_connections, params.get("ip_address")
        )
        self._webhook_error = None
        self._signal.fire()
        return True

    async def _delete_webhook(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        if _as_bool(params.get("drop_pending_updates", False)):
            self._updates.clear()
        self._webhook = None
        self._signal.fire()
        return True

    async def _get_webhook_info(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        info: JSONDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _deliver_webhooks(self) -> None:
        """POST pending updates to the webhook in order; retry one until it gets a 2xx."""
        backoff = 0.05
        while not self._closing:
            await self._signal.wait_for(
                lambda: (
                    self._closing
                    or (
                        self._webhook is not None
                        and bool(self._updates)
                        and not (self._outage is not None and self._outage.covers("getUpdates"))
                    )
                ),
                None,
            )
            hook = self._webhook
            if self._closing or hook is None:
                return
            update = self._updates[0]
            error = await self._post_update(hook, update, self._delivery_url(hook))
            if error is None:
                self._rotation_turn += 1
                if self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                self._delivered_upto = max(self._delivered_upto, int(update["update_id"]))
                backoff = 0.05
                self._signal.fire()
                continue
            self._webhook_error = (int(self.clock()), error)
            self._signal.fire()
            # Back off before retrying, but react at once to a changed webhook or shutdown.
            with contextlib.suppress(TimeoutError):
                await self._signal.wait_for(
                    lambda hook=hook: self._closing or self._webhook is not hook,  # type: ignore[misc]
                    backoff,
                )
            backoff = min(backoff * 2, 1.0)

    async def _post_update(self, hook: WebhookConfig, update: JSONDict, url: str) -> str | None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                url,
                data=json.dumps(update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"Connection failed: {exc!r}"

    # --- lookups and validation --------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def bot_user_dict(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _chat(self, params: JSONDict, key: str = "chat_id") -> ChatRecord:
        value = params.get(key)
        if value is None or value == "":
            raise bad_request(f"{key} is empty")
        chat_id = _as_int(value)
        if chat_id is None:
            if isinstance(value, str) and value.startswith("@"):
                for known in self.chats.values():
                    if known.username and known.username.lower() == value[1:].lower():
                        return known
            raise bad_request("chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _check_can_send(self, chat: ChatRecord) -> None:
        if chat.type == "private":
            assert chat.user is not None
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.user.started:
                raise forbidden("bot can't initiate conversation with a user")
            return
        kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
        if chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {kind}")

    def _message_id(self, params: JSONDict, key: str = "message_id") -> int:
        value = params.get(key)
        message_id = _as_int(value)
        if value is None or value == "":
            raise bad_request("message identifier is not specified")
        if message_id is None:
            raise bad_request("invalid message identifier specified")
        return message_id

    def _formatted(self, text: str, parse_mode: Any, entities: Any) -> ParsedText:
        try:
            return parse_formatted(
                text,
                str(parse_mode) if parse_mode else None,
                entities if isinstance(entities, list) else None,
            )
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        except UnsupportedParseMode:
            raise bad_request("unsupported parse_mode") from None

    def _caption(self, params: JSONDict) -> ParsedText | None:
        caption = params.get("caption")
        if caption is None or caption == "":
            return None
        parsed = self._formatted(
            str(caption), params.get("parse_mode"), params.get("caption_entities")
        )
        if utf16_len(parsed.text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return parsed

    def _validate_markup(
        self, markup: Any, *, inline_only: bool = False, chat: ChatRecord | None = None
    ) -> JSONDict | None:
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise bad_request("can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._validate_inline_keyboard(markup["inline_keyboard"])
            if not any(markup["inline_keyboard"]):
                return None  # an empty inline keyboard is no keyboard
            return markup
        if inline_only:
            raise bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    text = button if isinstance(button, str) else (button or {}).get("text")
                    if not isinstance(text, str) or not text:
                        raise bad_request("keyboard button text must be non-empty")
                    if isinstance(button, dict):
                        requests = [k for k in _REPLY_BUTTON_REQUESTS if button.get(k)]
                        if len(requests) > 1:
                            raise bad_request(
                                "can't parse keyboard button: only one of the optional "
                                "fields can be used"
                            )
                        private_only = [k for k in _PRIVATE_ONLY_REQUESTS if button.get(k)]
                        if private_only and chat is not None and chat.type != "private":
                            # "Available in private chats only" (Bot API: KeyboardButton)
                            raise bad_request(
                                f"can't use {private_only[0]} keyboard buttons in non-private chats"
                            )
            for option in ("is_persistent", "resize_keyboard", "one_time_keyboard", "selective"):
                if option in markup and not isinstance(markup[option], bool):
                    raise bad_request(
                        f'can\'t parse reply keyboard markup JSON object: field "{option}" '
                        "must be of type Boolean"
                    )
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and not 1 <= len(str(placeholder)) <= 64:
                raise bad_request("input field placeholder must be 1-64 characters long")
            return markup
        if markup.get("remove_keyboard") is True:
            return markup
        if markup.get("force_reply") is True:
            placeholder = markup.get("input_field_placeholder")
            if placeholder is not None and not 1 <= len(str(placeholder)) <= 64:
                raise bad_request("input field placeholder must be 1-64 characters long")
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _validate_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        total = 0
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                text = button.get("text")
                if not isinstance(text, str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not text.strip():
                    raise bad_request("BUTTON_TEXT_INVALID")
                actions = [key for key in _INLINE_ACTIONS if key in button]
                if not actions:
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                if len(actions) > 1:
                    raise bad_request(
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        "must be used"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if (
                        not isinstance(data, str)
                        or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
                    ):
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    parts = urlsplit(url) if isinstance(url, str) else None
                    if (
                        parts is None
                        or parts.scheme not in ("http", "https", "tg")
                        or not (parts.netloc or parts.path)
                    ):
                        raise bad_request("BUTTON_URL_INVALID")
                total += 1
        if total > 100:
            raise bad_request("reply markup is too long")

    def _reply_target(self, chat: ChatRecord, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        allow_without = _as_bool(params.get("allow_sending_without_reply", False))
        message_id: int | None = None
        target_chat = chat
        if isinstance(reply, dict):
            message_id = _as_int(reply.get("message_id"))
            allow_without = allow_without or _as_bool(reply.get("allow_sending_without_reply"))
            if reply.get("chat_id") is not None:
                target_chat = self._chat(reply)
        elif params.get("reply_to_message_id") is not None:
            message_id = _as_int(params.get("reply_to_message_id"))
        if message_id is None:
            return None
        raw = target_chat.messages.get(message_id)
        if raw is None or message_id in target_chat.deleted:
            if allow_without:
                return None
            raise bad_request("message to be replied not found")
        return strip_reply(raw)

    # --- messages ----------------------------------------------------------------------------

    def _base_message(self, chat: ChatRecord, sender: JSONDict, message_id: int) -> JSONDict:
        return {
            "message_id": message_id,
            "from": sender,
            "chat": chat.to_dict(),
            "date": self._now(),
        }

    def _store_bot_message(
        self,
        chat: ChatRecord,
        *,
        body: JSONDict,
        text: str,
        html: str | None,
        parse_mode: Any,
        entities: list[JSONDict],
        markup: JSONDict | None,
        reply_to: JSONDict | None,
        request: JSONDict,
        media_type: str | None = None,
        file: StoredFile | None = None,
        media_group_id: str | None = None,
    ) -> BotMessage:
        message_id = chat.take_message_id()
        raw = self._base_message(chat, self.bot_user_dict(), message_id)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        if media_group_id:
            raw["media_group_id"] = media_group_id
        raw.update(body)
        if markup is not None and "inline_keyboard" in markup:
            raw["reply_markup"] = markup  # only inline keyboards are part of a Message
        if markup is not None and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup is not None and markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        message = BotMessage(
            chat_id=chat.id,
            message_id=message_id,
            text=text,
            html=html,
            parse_mode=str(parse_mode) if parse_mode else None,
            entities=entities,
            reply_markup=markup,
            date=raw["date"],
            raw=raw,
            media_type=media_type,
            file=file,
            media_group_id=media_group_id,
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
            request=request,
        )
        message.versions.append(
            MessageVersion(text, html, message.parse_mode, entities, markup, raw["date"])
        )
        chat.messages[message_id] = raw
        chat.bot_messages[message_id] = message
        self._record(chat, "sent", message_id, text, markup, media_type=media_type)
        self._signal.fire()
        return message

    async def _send_message(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._check_can_send(chat)
        text = params.get("text")
        if text is None or text == "":
            raise bad_request("message text is empty")
        parsed = self._formatted(str(text), params.get("parse_mode"), params.get("entities"))
        if not parsed.text:
            raise bad_request("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = self._validate_markup(params.get("reply_markup"), chat=chat)
        reply_to = self._reply_target(chat, params)
        body: JSONDict = {"text": parsed.text}
        if parsed.entities:
            body["entities"] = parsed.entities
        options = params.get("link_preview_options")
        if isinstance(options, dict):
            body["link_preview_options"] = options
        message = self._store_bot_message(
            chat,
            body=body,
            text=parsed.text,
            html=str(text),
            parse_mode=params.get("parse_mode"),
            entities=parsed.entities,
            markup=markup,
            reply_to=reply_to,
            request=params,
        )
        return message.raw

    def _message_for_edit(self, params: JSONDict) -> BotMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(params)
        message_id = self._message_id(params)
        if message_id in chat.deleted or message_id not in chat.messages:
            raise bad_request("message to edit not found")
        message = chat.bot_messages.get(message_id)
        if message is None:
            raise bad_request("message can't be edited")
        return message

    def _apply_edit(
        self,
        message: BotMessage,
        *,
        text: str,
        html: str | None,
        parse_mode: Any,
        entities: list[JSONDict],
        markup: JSONDict | None,
        text_key: str,
    ) -> JSONDict:
        raw = message.raw
        if text_key == "text":
            raw["text"] = text
        elif text:
            raw["caption"] = text
        else:
            raw.pop("caption", None)
        entities_key = "entities" if text_key == "text" else "caption_entities"
        if entities:
            raw[entities_key] = entities
        else:
            raw.pop(entities_key, None)
        if markup is not None:
            raw["reply_markup"] = markup
        else:
            raw.pop("reply_markup", None)
        raw["edit_date"] = self._now()
        message.text = text
        message.html = html
        message.parse_mode = str(parse_mode) if parse_mode else None
        message.entities = entities
        message.reply_markup = markup
        message.versions.append(
            MessageVersion(text, html, message.parse_mode, entities, markup, raw["edit_date"])
        )
        self._record(
            self.chats[message.chat_id],
            "edited",
            message.message_id,
            text,
            markup,
            media_type=message.media_type,
        )
        self._signal.fire()
        return raw

    @staticmethod
    def _not_modified(
        message: BotMessage, text: str, entities: list[JSONDict], markup: JSONDict | None
    ) -> bool:
        current_markup = message.reply_markup if message.reply_markup else None
        if current_markup is not None and "inline_keyboard" not in current_markup:
            current_markup = None  # a reply keyboard is not part of the message any more
        return text == message.text and entities == message.entities and markup == current_markup

    async def _edit_message_text(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        message = self._message_for_edit(params)
        text = params.get("text")
        if text is None or text == "":
            raise bad_request("message text is empty")
        if message.media_type is not None:
            raise bad_request("there is no text in the message to edit")
        parsed = self._formatted(str(text), params.get("parse_mode"), params.get("entities"))
        if not parsed.text:
            raise bad_request("message text is empty")
        if utf16_len(parsed.text) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        if self._not_modified(message, parsed.text, parsed.entities, markup):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(
            message,
            text=parsed.text,
            html=str(text),
            parse_mode=params.get("parse_mode"),
            entities=parsed.entities,
            markup=markup,
            text_key="text",
        )

    async def _edit_message_caption(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        message = self._message_for_edit(params)
        if message.media_type is None:
            raise bad_request("there is no caption in the message to edit")
        parsed = self._caption(params) or ParsedText("")
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        if self._not_modified(message, parsed.text, parsed.entities, markup):
            raise bad_request(NOT_MODIFIED)
        caption = params.get("caption")
        return self._apply_edit(
            message,
            text=parsed.text,
            html=str(caption) if caption else None,
            parse_mode=params.get("parse_mode"),
            entities=parsed.entities,
            markup=markup,
            text_key="caption",
        )

    async def _edit_message_reply_markup(
        self, params: JSONDict, files: dict[str, UploadedFile]
    ) -> Any:
        message = self._message_for_edit(params)
        markup = self._validate_markup(params.get("reply_markup"), inline_only=True)
        if self._not_modified(message, message.text, message.entities, markup):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(
            message,
            text=message.text,
            html=message.html,
            parse_mode=message.parse_mode,
            entities=message.entities,
            markup=markup,
            text_key="caption" if message.media_type else "text",
        )

    def delete_by_member(self, chat: ChatRecord, message_id: int) -> None:
        """A member deletes a message (an admin tidying a group, a person clearing their
        chat). Telegram tells the bot nothing: an edit of it then answers "message to edit not
        found"."""
        if message_id not in chat.messages or message_id in chat.deleted:
            raise AssertionError(f"message {message_id} is not in chat {chat.id}")
        chat.deleted.add(message_id)
        bot_message = chat.bot_messages.get(message_id)
        if bot_message is not None:
            bot_message.deleted = True
        raw = chat.messages[message_id]
        text = str(raw.get("text") or raw.get("caption") or "")
        self._record(chat, "deleted", message_id, text, raw.get("reply_markup"))
        self._signal.fire()

    def _delete_one(self, chat: ChatRecord, message_id: int) -> None:
        raw = chat.messages.get(message_id)
        if raw is None or message_id in chat.deleted:
            raise bad_request("message to delete not found")
        from_bot = raw.get("from", {}).get("id") == self.bot_id
        if self._now() - int(raw["date"]) > DELETE_WINDOW and not (
            chat.type != "private" and chat.bot_status == "administrator" and chat.bot_can_delete
        ):
            raise bad_request("message can't be deleted")
        if (
            chat.type != "private"
            and not from_bot
            and not (chat.bot_status == "administrator" and chat.bot_can_delete)
        ):
            raise bad_request("message can't be deleted")
        chat.deleted.add(message_id)
        bot_message = chat.bot_messages.get(message_id)
        if bot_message is not None:
            bot_message.deleted = True
        text = str(raw.get("text") or raw.get("caption") or "")
        self._record(chat, "deleted", message_id, text, raw.get("reply_markup"))
        self._signal.fire()

    async def _delete_message(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._delete_one(chat, self._message_id(params))
        return True

    async def _delete_messages(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for value in ids:
            message_id = _as_int(value)
            if message_id is not None:
                with contextlib.suppress(ApiError):  # deleteMessages skips what it can't delete
                    self._delete_one(chat, message_id)
        return True

    async def _answer_callback_query(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        pending = self._callbacks.get(query_id)
        if (
            pending is None
            or pending.answer is not None
            or self.clock() - pending.created > CALLBACK_DEADLINE
        ):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        url = params.get("url")
        if url and not str(url).startswith(f"https://t.me/{self.bot_username}?start="):
            raise bad_request("URL_INVALID")
        cache_time = _as_int(params.get("cache_time"))
        pending.answer = CallbackAnswer(
            text=str(text) if text is not None else None,
            show_alert=_as_bool(params.get("show_alert", False)),
            url=str(url) if url else None,
            cache_time=cache_time,
        )
        self._signal.fire()
        return True

    # --- files and media ---------------------------------------------------------------------

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
    ) -> StoredFile:
        """Keep ``data`` as a downloadable file and give it ids, as Telegram does on upload."""
        self._file_counter += 1
        number = self._file_counter
        prefix = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}.get(
            kind, "BAAC"
        )
        stored = StoredFile(
            file_id=f"{prefix}Emu{number:06d}{secrets.token_hex(6)}",
            file_unique_id=f"AQAD{number:06d}",
            data=data,
            kind=kind,
            file_path=f"{kind}s/file_{number}.{extension_for(kind, filename, mime_type)}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
        )
        self.files[stored.file_id] = stored
        return stored

    def photo_sizes(self, stored: StoredFile) -> list[JSONDict]:
        """PhotoSize list for a stored photo: a thumbnail size when large, and the original."""
        width, height = stored.width or 1, stored.height or 1
        full = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "width": width,
            "height": height,
        }
        if max(width, height) <= 90:
            return [full]
        scale = 90 / max(width, height)
        thumb_id = f"{stored.file_id}_s"
        if thumb_id not in self.files:
            # No image library here: the small size serves the same bytes under its own id.
            self.files[thumb_id] = StoredFile(
                thumb_id,
                f"{stored.file_unique_id}s",
                stored.data,
                "photo",
                stored.file_path.replace(".", "_s.", 1),
                mime_type=stored.mime_type,
                width=max(1, round(width * scale)),
                height=max(1, round(height * scale)),
            )
        thumb = self.files[thumb_id]
        small = {
            "file_id": thumb.file_id,
            "file_unique_id": thumb.file_unique_id,
            "file_size": thumb.size,
            "width": thumb.width,
            "height": thumb.height,
        }
        return [small, full]

    def _store_media(
        self,
        chat: ChatRecord,
        stored: StoredFile,
        kind: str,
        caption: ParsedText | None,
        given: JSONDict,
        request: JSONDict,
        *,
        reply_to: JSONDict | None,
        markup: JSONDict | None = None,
        group: str | None = None,
    ) -> BotMessage:
        """A photo, document, voice… the bot sent, with its caption (`given`: the parameters
        that carry it, the call's own or an album item's)."""
        body = self.media_body(stored, kind)
        if caption is not None:
            body["caption"] = caption.text
            if caption.entities:
                body["caption_entities"] = caption.entities
        return self._store_bot_message(
            chat,
            body=body,
            text=caption.text if caption else "",
            html=str(given["caption"]) if caption else None,
            parse_mode=given.get("parse_mode"),
            entities=caption.entities if caption else [],
            markup=markup,
            reply_to=reply_to,
            request=request,
            media_type=kind,
            file=stored,
            media_group_id=group,
        )

    def media_body(self, stored: StoredFile, kind: str) -> JSONDict:
        """The Message field(s) describing a media file of ``kind``."""
        if kind == "photo":
            return {"photo": self.photo_sizes(stored)}
        described: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if kind in ("document", "audio", "video", "animation") and stored.filename:
            described["file_name"] = stored.filename
        if stored.mime_type and kind != "sticker":
            described["mime_type"] = stored.mime_type
        if kind in ("voice", "audio", "video", "animation"):
            described["duration"] = stored.duration or 0
        if kind in ("video", "animation", "sticker"):
            described["width"] = stored.width or 512
            described["height"] = stored.height or 512
        if kind == "sticker":
            described.update({"type": "regular", "is_animated": False, "is_video": False})
        return {kind: described}

    def _input_file(
        self, value: Any, files: dict[str, UploadedFile], field_name: str, kind: str
    ) -> StoredFile:
        """Resolve a sendX file parameter: an upload, attach://name, or an existing file_id."""
        upload: UploadedFile | None = None
        if value is None or value == "":
            upload = files.get(field_name)
            if upload is None:
                raise bad_request(f"there is no {kind} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"there is no {kind} in the request")
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        else:
            stored = self.files.get(str(value))
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
                raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
            return stored
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        width = height = None
        if kind == "photo":
            size = image_size(upload.data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
        mime = upload.mime_type
        if kind == "photo":
            mime = "image/jpeg"  # Telegram re-encodes photos
        elif kind == "voice" and (not mime or mime == "application/octet-stream"):
            mime = "audio/ogg"
        return self.store_file(
            upload.data,
            kind,
            filename=upload.filename if kind != "photo" else None,
            mime_type=mime,
            width=width,
            height=height,
        )

    async def _send_media(
        self, params: JSONDict, files: dict[str, UploadedFile], kind: str
    ) -> JSONDict:
        chat = self._chat(params)
        self._check_can_send(chat)
        stored = self._input_file(params.get(kind), files, kind, kind)
        if kind == "voice" and params.get("duration") is not None:
            stored.duration = _as_int(params.get("duration")) or stored.duration
        caption = self._caption(params)
        markup = self._validate_markup(params.get("reply_markup"), chat=chat)
        reply_to = self._reply_target(chat, params)
        message = self._store_media(
            chat, stored, kind, caption, params, params, markup=markup, reply_to=reply_to
        )
        return message.raw

    async def _send_photo(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return await self._send_media(params, files, "photo")

    async def _send_document(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return await self._send_media(params, files, "document")

    async def _send_voice(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return await self._send_media(params, files, "voice")

    async def _send_location(self, params: JSONDict, _files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._check_can_send(chat)
        point = {}
        for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
            value = _as_float(params.get(name))
            if value is None or not -bound <= value <= bound:
                raise bad_request(f"wrong {name}")
            point[name] = value
        markup = self._validate_markup(params.get("reply_markup"), chat=chat)
        reply_to = self._reply_target(chat, params)
        message = self._store_bot_message(
            chat,
            body={"location": point},
            text="",
            html=None,
            parse_mode=None,
            entities=[],
            markup=markup,
            reply_to=reply_to,
            request=params,
            media_type="location",
        )
        return message.raw

    async def _send_media_group(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._check_can_send(chat)
        media = params.get("media")
        if not isinstance(media, list) or not media:
            raise bad_request("media is empty")
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media in the group: must be 2-10")
        kinds = []
        prepared: list[tuple[StoredFile, str, ParsedText | None, JSONDict]] = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in (
                "photo",
                "video",
                "document",
                "audio",
            ):
                raise bad_request("can't parse InputMedia: unsupported media type")
            kind = str(item["type"])
            kinds.append(kind)
            stored = self._input_file(item.get("media"), files, "media", kind)
            caption = self._caption(item)
            prepared.append((stored, kind, caption, item))
        if ("document" in kinds or "audio" in kinds) and len(set(kinds)) > 1:
            raise bad_request("documents and audio can't be grouped with other media types")
        reply_to = self._reply_target(chat, params)
        self._media_group_counter += 1
        group_id = str(self._media_group_counter)
        results = []
        for stored, kind, caption, item in prepared:
            message = self._store_media(
                chat, stored, kind, caption, item, params, reply_to=reply_to, group=group_id
            )
            results.append(message.raw)
        return results

    async def _send_chat_action(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._check_can_send(chat)
        action = str(params.get("action") or "")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.actions.append(action)
        return True

    def _source_message(self, params: JSONDict, verb: str) -> tuple[ChatRecord, JSONDict]:
        source_chat = self._chat(params, "from_chat_id")
        message_id = self._message_id(params)
        raw = source_chat.messages.get(message_id)
        if raw is None or message_id in source_chat.deleted:
            raise bad_request(f"message to {verb} not found")
        return source_chat, raw

    def _copy_into(
        self, chat: ChatRecord, raw: JSONDict, params: JSONDict, extra: JSONDict
    ) -> BotMessage:
        """Store a bot message in ``chat`` carrying the content of ``raw``."""
        content_keys = ("text", "entities", "caption", "caption_entities", "location", "contact")
        media_keys = ("photo", "document", "voice", "sticker", "video", "audio", "animation")
        body: JSONDict = {key: raw[key] for key in content_keys + media_keys if key in raw}
        if raw.get("media_group_id") and "forward_origin" in extra:
            body["media_group_id"] = raw["media_group_id"]
        body.update(extra)
        media_type = next((key for key in media_keys if key in raw), None)
        stored: StoredFile | None = None
        if media_type == "photo":
            stored = self.files.get(raw["photo"][-1]["file_id"])
        elif media_type is not None:
            stored = self.files.get(raw[media_type]["file_id"])
        text = str(body.get("text") or body.get("caption") or "")
        entities = list(body.get("entities") or body.get("caption_entities") or [])
        if "caption" in params and media_type is not None:
            caption = self._caption(params)
            body.pop("caption", None)
            body.pop("caption_entities", None)
            if caption is not None:
                body["caption"] = caption.text
                if caption.entities:
                    body["caption_entities"] = caption.entities
            text = caption.text if caption else ""
            entities = caption.entities if caption else []
        markup = self._validate_markup(params.get("reply_markup"), chat=chat)
        reply_to = self._reply_target(chat, params)
        return self._store_bot_message(
            chat,
            body=body,
            text=text,
            html=None,
            parse_mode=None,
            entities=entities,
            markup=markup,
            reply_to=reply_to,
            request=params,
            media_type=media_type,
            file=stored,
        )

    async def _copy_message(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        _, raw = self._source_message(params, "copy")
        if any(key in raw for key in _SERVICE_KEYS):
            raise bad_request("message can't be copied")
        chat = self._chat(params)
        self._check_can_send(chat)
        message = self._copy_into(chat, raw, params, {})
        return {"message_id": message.message_id}

    async def _forward_message(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        source_chat, raw = self._source_message(params, "forward")
        if any(key in raw for key in _SERVICE_KEYS):
            raise bad_request("message can't be forwarded")
        chat = self._chat(params)
        self._check_can_send(chat)
        sender = raw.get("from") or {}
        origin: JSONDict
        if source_chat.type == "private" or sender:
            origin = {"type": "user", "sender_user": sender, "date": raw["date"]}
        else:
            origin = {"type": "chat", "sender_chat": source_chat.to_dict(), "date": raw["date"]}
        message = self._copy_into(
            chat, raw, {**params, "reply_markup": None}, {"forward_origin": origin}
        )
        return message.raw

    async def _get_file(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    # --- bot settings ------------------------------------------------------------------------

    def _scope_key(self, scope: Any) -> str:
        if scope is None or scope == {}:
            return json.dumps({"type": "default"})
        if not isinstance(scope, dict) or scope.get("type") not in _COMMAND_SCOPES:
            raise bad_request("can't parse BotCommandScope: unsupported type")
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            chat = self._chat(scope)
            if scope["type"] != "chat" and chat.type == "private":
                raise bad_request("can't use this scope in a private chat")
            if scope["type"] == "chat_member" and _as_int(scope.get("user_id")) is None:
                raise bad_request("user_id is empty")
            # the key is the scope as Telegram reads it: ids as numbers, no other fields
            scope = {k: (_as_int(v) if k != "type" else v) for k, v in scope.items()}
            scope = {k: v for k, v in scope.items() if k in ("type", "chat_id", "user_id")}
        else:
            scope = {"type": scope["type"]}
        return json.dumps(scope, sort_keys=True)

    @staticmethod
    def _language(params: JSONDict) -> str:
        language = str(params.get("language_code") or "")
        if language and not _LANGUAGE_RE.match(language):
            raise bad_request("invalid language code specified")
        return language

    async def _set_my_commands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        commands = params.get("commands")
        if commands is None:
            commands = []
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            name = command.get("command")
            if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.get("scope")), self._language(params))
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        self._signal.fire()  # a test may wait for a menu to change
        return True

    async def _get_my_commands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        key = (self._scope_key(params.get("scope")), self._language(params))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        key = (self._scope_key(params.get("scope")), self._language(params))
        self.commands.pop(key, None)
        self._signal.fire()
        return True

    def _set_bot_text(self, kind: str, param: str) -> Handler:
        limits = {"description": 512, "short_description": 120, "name": 64}

        async def handler(params: JSONDict, files: dict[str, UploadedFile]) -> Any:
            value = str(params.get(param) or "")
            if len(value) > limits[kind]:
                raise bad_request(f"{kind} is too long")
            key = (kind, self._language(params))
            if value:
                self.bot_texts[key] = value
            else:
                self.bot_texts.pop(key, None)
            return True

        return handler

    def _get_bot_text(self, kind: str, param: str) -> Handler:
        async def handler(params: JSONDict, files: dict[str, UploadedFile]) -> Any:
            language = self._language(params)
            value = self.bot_texts.get((kind, language)) or self.bot_texts.get((kind, ""))
            if kind == "name" and not value:
                value = self.bot_first_name
            return {param: value or ""}

        return handler

    async def _set_message_reaction(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        self._check_can_send(chat)
        message_id = self._message_id(params)
        if message_id not in chat.messages or message_id in chat.deleted:
            raise bad_request("message to react not found")
        reaction = params.get("reaction")
        if isinstance(reaction, str):
            try:
                reaction = json.loads(reaction)
            except ValueError:
                raise bad_request("can't parse reaction types JSON object") from None
        if reaction is None:
            reaction = []
        if not isinstance(reaction, list):
            raise bad_request("can't parse reaction types JSON object")
        emoji = []
        for item in reaction:
            if not isinstance(item, dict) or item.get("type") not in ("emoji", "custom_emoji"):
                raise bad_request("can't parse ReactionType: unsupported type")
            if item["type"] == "custom_emoji" or item.get("emoji") not in REACTION_EMOJI:
                raise bad_request("REACTION_INVALID")
            emoji.append(item["emoji"])
        if len(emoji) > 1:  # a bot, like a user without Premium, sets one reaction at most
            raise bad_request("REACTIONS_TOO_MANY")
        chat.extra.setdefault("reactions", {})[message_id] = emoji
        self._signal.fire()
        return True

    async def _set_chat_menu_button(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        button = params.get("menu_button")
        if button is not None and (
            not isinstance(button, dict)
            or button.get("type") not in ("commands", "web_app", "default")
        ):
            raise bad_request("can't parse menu button: unsupported type")
        if params.get("chat_id") is not None:
            chat = self._chat(params)
            if chat.type != "private":
                raise bad_request("menu button can be changed only in private chats")
            chat.menu_button = button
        else:
            self.default_menu_button = button
        return True

    async def _get_chat_menu_button(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        if params.get("chat_id") is not None:
            chat = self._chat(params)
            if chat.menu_button is not None:
                return chat.menu_button
        return self.default_menu_button or {"type": "default"}

    # --- chats -------------------------------------------------------------------------------

    def _user(self, params: JSONDict) -> JSONDict:
        user_id = _as_int(params.get("user_id"))
        if user_id is None:
            raise bad_request("user_id is empty")
        if user_id == self.bot_id:
            return self.bot_user_dict()
        user = self.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return user.to_dict()

    async def _get_me(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return {
            **self.bot_user_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_chat(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        info = chat.to_dict()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if chat.type != "private":
            info["permissions"] = {"can_send_messages": True, "can_invite_users": True}
        return info

    def _member_status(self, chat: ChatRecord, user_id: int) -> str:
        if chat.type == "private":
            return "member" if user_id in (chat.id, self.bot_id) else "left"
        if user_id == self.bot_id:
            return chat.bot_status
        return chat.members.get(user_id, "left")

    async def _get_chat_member(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        user = self._user(params)
        status = self._member_status(chat, int(user["id"]))
        if user["id"] == self.bot_id:
            return member_dict(
                user, status, can_delete=chat.bot_can_delete, can_restrict=chat.bot_can_restrict
            )
        return member_dict(user, status, can_delete=True)

    async def _get_chat_administrators(
        self, params: JSONDict, files: dict[str, UploadedFile]
    ) -> Any:
        chat = self._chat(params)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        self._check_can_send(chat)
        admins = [
            member_dict(self.users[user_id].to_dict(), status, can_delete=True)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator") and user_id in self.users
        ]
        if chat.bot_status == "administrator":
            admins.append(
                member_dict(
                    self.bot_user_dict(),
                    "administrator",
                    can_delete=chat.bot_can_delete,
                    can_restrict=chat.bot_can_restrict,
                )
            )
        return admins

    async def _get_chat_member_count(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        if chat.type == "private":
            return 2
        present = ("creator", "administrator", "member", "restricted")
        count = sum(1 for status in chat.members.values() if status in present)
        return count + (1 if chat.bot_status in ("member", "administrator") else 0)

    async def _leave_chat(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        chat = self._chat(params)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self._check_can_send(chat)
        old = chat.bot_status
        chat.bot_status = "left"
        self.emit_my_chat_member(chat, self.bot_user_dict(), old, "left")
        return True

    def _restricting(self, params: JSONDict) -> tuple[ChatRecord, int]:
        """The chat and user of a ban or unban, after Telegram's checks: a group the bot is in,
        a user it knows, and the bot an administrator allowed to restrict members."""
        chat = self._chat(params)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self._check_can_send(chat)
        user_id = _as_int(params.get("user_id"))
        if user_id is None or user_id not in self.users:
            raise bad_request("PARTICIPANT_ID_INVALID")
        if chat.bot_status != "administrator" or not chat.bot_can_restrict:
            raise bad_request("not enough rights to restrict/unrestrict chat member")
        return chat, user_id

    def _member_changed(self, chat: ChatRecord, user_id: int, old: str, new: str) -> None:
        """chat_member, as Telegram sends it to an administrator bot (if allowed_updates asks)."""
        user = self.users[user_id].to_dict()
        self.emit_update(
            "chat_member",
            {
                "chat": chat.to_dict(),
                "from": self.bot_user_dict(),
                "date": self._now(),
                "old_chat_member": member_dict(user, old),
                "new_chat_member": member_dict(user, new),
            },
        )

    async def _ban_chat_member(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        """Remove a member (in a supergroup they cannot come back until unbanned; in a basic
        group anyone may add them again). The owner and administrators cannot be banned."""
        chat, user_id = self._restricting(params)
        old = chat.members.get(user_id, "left")
        if old == "creator":
            raise bad_request("can't remove chat owner")
        if old == "administrator":
            raise bad_request("user is an administrator of the chat")
        if old != "kicked":
            chat.members[user_id] = "kicked"
            self._member_changed(chat, user_id, old, "kicked")
        self._signal.fire()
        return True

    async def _unban_chat_member(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        """Lift a ban: the user may join again by a link or be added. Without `only_if_banned`
        a member is removed too, as Telegram does ("the user is not a member after the call")."""
        chat, user_id = self._restricting(params)
        if chat.type != "supergroup":
            raise bad_request("method is available for supergroup and channel chats only")
        old = chat.members.get(user_id, "left")
        if _as_bool(params.get("only_if_banned")) and old != "kicked":
            return True
        if old in ("creator", "administrator"):
            raise bad_request("user is an administrator of the chat")
        if old != "left":
            chat.members[user_id] = "left"
            self._member_changed(chat, user_id, old, "left")
        self._signal.fire()
        return True

    def emit_my_chat_member(
        self, chat: ChatRecord, actor: JSONDict, old_status: str, new_status: str
    ) -> None:
        bot = self.bot_user_dict()
        self.emit_update(
            "my_chat_member",
            {
                "chat": chat.to_dict(),
                "from": actor,
                "date": self._now(),
                "old_chat_member": member_dict(bot, old_status),
                "new_chat_member": member_dict(
                    bot,
                    new_status,
                    can_delete=chat.bot_can_delete,
                    can_restrict=chat.bot_can_restrict,
                ),
            },
        )

    async def _noop(self, params: JSONDict, files: dict[str, UploadedFile]) -> Any:
        return True

    # --- what users do (used by the driver) --------------------------------------------------

    def should_deliver(self, chat: ChatRecord, raw: JSONDict) -> bool:
        """Would Telegram send this user message to the bot (group privacy mode)?"""
        if chat.type == "private":
            return True
        if chat.bot_status not in ("member", "administrator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True  # privacy off, or the bot is an admin: it sees everything
        if any(key in raw for key in _SERVICE_KEYS):
            return True
        reply = raw.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot_id:
            return True
        text = str(raw.get("text") or raw.get("caption") or "")
        entities = raw.get("entities") or raw.get("caption_entities") or []
        me = self.bot_username.lower()
        for entity in entities:
            piece = utf16_slice(text, entity["offset"], entity["length"])
            if entity["type"] == "bot_command" and entity["offset"] == 0:
                _, _, addressee = piece.partition("@")
                if not addressee or addressee.lower() == me:
                    return True
            if entity["type"] == "mention" and piece[1:].lower() == me:
                return True
        return False

    def post_user_message(
        self,
        chat: ChatRecord,
        user: UserRecord,
        body: JSONDict,
        *,
        reply_to: JSONDict | None = None,
        media_group_id: str | None = None,
    ) -> JSONDict:
        """Record a message a user sent in ``chat`` and emit it if the bot would get it."""
        if chat.type == "private":
            if user.blocked:
                raise AssertionError(
                    f"user {user.id} blocked the bot; call unblock_bot() before writing to it"
                )
            user.started = True
        elif chat.members.get(user.id) in (None, "left", "kicked"):
            chat.members[user.id] = "member"
        message_id = chat.take_message_id()
        raw = self._base_message(chat, user.to_dict(), message_id)
        if reply_to is not None:
            raw["reply_to_message"] = strip_reply(reply_to)
        if media_group_id:
            raw["media_group_id"] = media_group_id
        raw.update(body)
        chat.messages[message_id] = raw
        self._record(
            chat,
            "user",
            message_id,
            str(body.get("text") or body.get("caption") or ""),
            user_id=user.id,
            media_type=next((k for k in _USER_MEDIA if k in body), None),
        )
        if self.should_deliver(chat, raw):
            self.emit_update("message", raw)
        self._signal.fire()
        return raw

    def next_media_group_id(self) -> str:
        self._media_group_counter += 1
        return str(self._media_group_counter)

    def emit_callback_query(
        self, user: UserRecord, chat: ChatRecord, message: JSONDict, data: str
    ) -> PendingCallback | None:
        """Send a callback_query for a button press; None if allowed_updates filters it."""
        self._next_query += 1
        query_id = str(self._next_query)
        pending = PendingCallback(query_id, user.id, data, self.clock())
        label = next(
            (
                str(button.get("text", ""))
                for row in (message.get("reply_markup") or {}).get("inline_keyboard") or []
                for button in row
                if button.get("callback_data") == data
            ),
            "",
        )
        self._record(
            chat,
            "press",
            int(message["message_id"]),
            label,
            message.get("reply_markup"),
            user_id=user.id,
            data=data,
        )
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "message": message,
            "chat_instance": str(abs(hash((chat.id, self.bot_id))) % 10**18),
            "data": data,
        }
        if self.emit_update("callback_query", payload) is None:
            return None
        self._callbacks[query_id] = pending
        return pending
