"""After the commit: every Bot API call a handler makes inside an update goes out once the
update's transaction has committed, in the order the handler made them.

The rule: no network I/O while an update's transaction is open. A Bot API round trip inside it
would hold SQLite's write lock (and PostgreSQL's row locks) for as long as Telegram takes, and a
429 with `retry_after` would hold them for seconds; a message sent before the commit is sent
again when a crash makes the update replay. So inside an update (runtime/context.py: CURRENT_SCOPE)
`NotebookBot` makes no call: it keeps each as an answer, `{"method": …, "params": …}`, and
returns what python-telegram-bot's method makes of no answer (None for a sent message, True
for an edit or a press's answer). A handler that needs the sent message (its id, to remember a
prompt) names an after-send hook with `runtime.effects.then(...)`; the hook runs with the
message Telegram returned, in a transaction of its own, right after the send.

- `NotebookApplication.process_update` (bot/app.py) stores the update's answers in its inbox row
  in the same commit that marks it handled (storage/inbox.py: `finish`), then `Answers.follow`
  sends them.
- Per chat, the answers of one update go out after those of the updates handled before it:
  a message is never edited back to an older text.
- Exactly once, as the resident sees it: a sent message (sendMessage, sendPhoto…) is recorded
  as sent, with its hook, right after Telegram accepted it; edits and press answers, which are
  harmless to repeat, are recorded in batches (`take_paid`, PAY_DELAY). After a crash the next
  start sends what is not recorded (`replay`), before any update is replayed, dropping an edit
  that a later edit of the same message replaced. What remains is the moment between Telegram's
  answer and our commit of "sent": a SIGKILL exactly there sends that one message again.
- Telegram's refusals: 429 → that chat waits as long as Telegram says and tries again, other
  chats go on (delivery/rate_limit.py); a network error or a 5xx → tried again with back-off
  while the bot runs; 403 → the person is marked unreachable; another 400 is a bug in the
  message, logged.
  A stopping bot gives up waiting: what is not sent stays owed for the next start.
- A file uploaded by the handler (an export, a chart) goes out after the commit too but is not
  kept in the inbox row: after a crash it is not sent again (the person asks again).

A read (getChat, getFile…) inside an update cannot wait: it is made at once, and logged as a
breach of the rule (`breaches`, which the test suite checks after every test).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.request import RequestData

from delivery.rate_limit import retry_seconds
from delivery.telegram_http import (
    DEFAULT_NONE,
    JSONDict,
    ODVInput,
    RequestParameter,
    call,
    keyboard_json,
)
from runtime.context import CURRENT_SCOPE
from runtime.effects import AFTER_SEND, Hook
from runtime.rendering import Sent
from storage import inbox
from storage.people import mark_unreachable_by_id

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)

Answer = dict[str, Any]  # {"method": "sendmessage", "params": {...}, "then": {...}}: JSON

# Telegram's words for an answer that had already arrived: the call is done.
ALREADY_THERE = ("message is not modified", "query is too old")
# Network errors and 5xx: tried again after 1, 2, 4 … seconds, at most this long apart.
BACKOFF_MAX = 30.0
# Marks of answers sent wait for an update's commit to go with, once PAY_BATCH of them have
# gathered, or for PAY_DELAY seconds: a crash sends at most these again, harmlessly (edits and
# press answers only: a sent message is marked at once).
PAY_BATCH = 32
PAY_DELAY = 1.0

_breaches: list[str] = []


def breaches() -> list[str]:
    """Bot API calls made while an update's transaction was open (each also logged)."""
    return _breaches


def _method(endpoint: str) -> str:
    """The name an answer keeps: Telegram's method in lower case (`sendmessage`), the way
    delivery/telegram_http.py's `call` makes it. Older rows say `edit_message_text`."""
    return endpoint.replace("_", "").lower()


def _sends_message(method: str) -> bool:
    """A call that makes a new message: sent twice, the person sees it twice."""
    return method.startswith(("send", "copy", "forward")) and method != "sendchataction"


def _returns_message(method: str) -> bool:
    return _sends_message(method) or method.startswith("stop")


def _is_read(endpoint: str) -> bool:
    return endpoint.startswith("get") or endpoint in ("logOut", "close")


def _as_answer(endpoint: str, data: JSONDict) -> Answer:
    method = _method(endpoint)
    params: dict[str, Any] = {}
    plain = []
    for key, value in data.items():
        if isinstance(value, InlineKeyboardMarkup):
            params[key] = keyboard_json(value)  # faster than python-telegram-bot's to_dict
        else:
            plain.append(RequestParameter.from_input(key, value))
    request = RequestData(plain)
    answer: Answer = {"method": method}
    if request.contains_files:
        answer["upload"] = (endpoint, data)  # kept in memory only: not JSON
    else:
        answer["params"] = {**request.parameters, **params}
    hook = AFTER_SEND.get()
    if hook is not None:
        answer["then"] = hook
    return answer


class _Kept(Exception):
    """Raised by `_do_post` for a call kept for after the commit, to be caught by the method
    that made it: `result` is what the handler gets (None for a message, True otherwise)."""

    def __init__(self, result: Any) -> None:
        self.result = result


class NotebookBot(ExtBot[Any]):
    """python-telegram-bot's ExtBot; inside an update, its calls wait for the commit."""

    async def _do_post(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        scope = CURRENT_SCOPE.get(None)
        if scope is not None and scope.open:
            if not _is_read(endpoint):
                answer = _as_answer(endpoint, data)
                scope.answers.append(answer)
                method = answer["method"]
                if method == "sendmediagroup":
                    raise _Kept([])  # an album: no messages yet
                raise _Kept(None if _returns_message(method) else True)
            _breaches.append(endpoint)
            log.error("Bot API %s called inside an update's transaction", endpoint)
        return await super()._do_post(
            endpoint,
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._post(endpoint, *args, **kwargs)
        except _Kept as kept:
            if kept.result is None:
                raise  # a message: python-telegram-bot's _send_message returns it (below)
            return kept.result

    async def _send_message(self, endpoint: str, data: JSONDict, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._send_message(endpoint, data, *args, **kwargs)
        except _Kept as kept:
            return kept.result


async def send(bot: ExtBot[Any], answer: Answer) -> Any:
    """Make the call now; Telegram's answer as JSON. The parameters were completed with the
    bot's defaults when the handler made the call, so they go as they are (past
    python-telegram-bot's `_post`, through its rate limiter and transport)."""
    upload = answer.get("upload")
    if upload is not None:
        endpoint, data = upload
        return await ExtBot._do_post(bot, endpoint, dict(data))
    if "_" in answer["method"]:  # kept by the previous version: its defaults are not in it
        return await call(bot, answer["method"], answer["params"])
    return await ExtBot._do_post(bot, answer["method"], dict(answer["params"]))


class Owed:
    """One update's answers on their way: `calls[i]` becomes None once it went out."""

    update_id: int | None
    calls: list[Answer | None]

    def __init__(self, update_id: int | None, calls: Sequence[Answer | None]) -> None:
        self.update_id = update_id
        self.calls = list(calls)


class Answers:
    """The answers on their way: a chain per chat, and the updates whose answers went out."""

    def __init__(
        self,
        app: NotebookApplication,
        send: Callable[[ExtBot[Any], Answer], Awaitable[Any]] = send,
    ) -> None:
        self.app = app
        self.send = send
        self.hooks: dict[str, Hook] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[Any, asyncio.Future[None]] = {}  # chat -> the last answers queued
        self._paid: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    @property
    def _stopping(self) -> asyncio.Event:
        return self.app.notebook.stopping

    def follow(
        self,
        update_id: int | None,
        person_id: int | None,
        answers: list[Answer],
        chat: Any,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """After the commit: send `answers` (those without a chat of their own belong to `chat`,
        the update's), then run `then` (the outbox messages the update queued)."""
        self._start(Owed(update_id, list(answers)), person_id, chat, then)

    def _start(
        self,
        owed: Owed,
        person_id: int | None,
        chat: Any,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        task = asyncio.create_task(self._follow(owed, person_id, chat, then))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _follow(
        self,
        owed: Owed,
        person_id: int | None,
        chat: Any,
        then: Callable[[], Awaitable[None]] | None,
    ) -> None:
        by_chat: dict[Any, list[int]] = {}
        for index, answer in enumerate(owed.calls):
            if answer is not None:
                by_chat.setdefault(_chat_of(answer, chat), []).append(index)
        if by_chat:
            several = len(by_chat) > 1
            sent = await asyncio.gather(
                *(
                    self._in_turn(c, owed, indexes, person_id, record_part=several)
                    for c, indexes in by_chat.items()
                )
            )
            if owed.update_id is not None and all(sent):
                self._pay(owed.update_id)
        if then is not None:
            await then()

    async def _in_turn(
        self, chat: Any, owed: Owed, indexes: list[int], person_id: int | None, *, record_part: bool
    ) -> bool:
        """Send this chat's part of an update's answers once the updates before it in this chat
        are done. When the update spoke in several chats, this chat's part is recorded at once:
        a later update in this chat may be recorded before the whole of this one is."""
        before = self._tails.get(chat)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[chat] = mine
        try:
            if before is not None:
                await before
            done = await self._send_all(owed, indexes, person_id)
            if done and record_part and owed.update_id is not None:
                await self._record(owed)
            return done
        finally:
            mine.set_result(None)
            if self._tails.get(chat) is mine:
                del self._tails[chat]

    async def _send_all(self, owed: Owed, indexes: list[int], person_id: int | None) -> bool:
        """True when nothing of these is owed any more (sent, or refused for good); False when
        the bot stops first."""
        for index in indexes:
            answer = owed.calls[index]
            if answer is None:
                continue
            outcome = await self._send_one(answer, person_id)
            if outcome is None:
                return False
            owed.calls[index] = None
            if _sends_message(_method(answer["method"])) and (
                owed.update_id is not None or "then" in answer
            ):
                await self._record(owed, answer=answer, sent=outcome)
        return True

    async def _send_one(self, answer: Answer, person_id: int | None) -> Any:
        """Telegram's answer (False for a refusal that is final); None when the bot stops
        before the call went through."""
        bot = self.app.bot
        delay = 1.0
        while True:
            try:
                return await self.send(bot, answer) or False
            except RetryAfter as exc:  # this chat waits, as Telegram asks; others go on
                wait = retry_seconds(exc)
            except BadRequest as exc:
                if not exc.message.lower().startswith(ALREADY_THERE):
                    log.error("%s refused: %s", answer["method"], exc.message)
                return False
            except Forbidden as exc:  # blocked, or the bot left the group
                log.info("%s not delivered: %s", answer["method"], exc)
                await self._unreachable(person_id)
                return False
            except NetworkError as exc:  # includes timeouts and Telegram's 5xx
                log.warning("%s not sent, trying again: %s", answer["method"], exc)
                wait, delay = delay, min(delay * 2, BACKOFF_MAX)
            except TelegramError as exc:
                log.error("%s failed: %s", answer["method"], exc)
                return False
            if self._stopping.is_set() or await _stopped_within(self._stopping, wait):
                return None

    async def _record(self, owed: Owed, *, answer: Answer | None = None, sent: Any = None) -> None:
        """Write what went out of this update's answers, and run the sent message's hook, in
        one transaction (a failure is logged: at worst the message is sent again at a start)."""
        try:
            async with self.app.notebook.db.session() as session:
                hook = (answer or {}).get("then")
                message = Sent.of(sent)
                if hook is not None and message is not None:
                    run = self.hooks.get(hook["hook"])
                    if run is None:
                        log.error("no after-send hook %r", hook["hook"])
                    else:
                        await run(session, message, dict(hook.get("args") or {}))
                if owed.update_id is not None:
                    await inbox.owe(session, update_id=owed.update_id, answers=kept_calls(owed))
        except Exception:
            log.exception("could not record what update %s sent", owed.update_id)

    async def _unreachable(self, person_id: int | None) -> None:
        if person_id is None:
            return
        nb = self.app.notebook
        async with nb.db.session() as session:
            await mark_unreachable_by_id(session, person_id, now=nb.clock())

    def _pay(self, update_id: int) -> None:
        self._paid.append(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    def take_paid(self) -> list[int]:
        """The updates whose answers went out, PAY_BATCH or more, for the update being
        handled to mark in its own transaction (storage/inbox.py: `paid`)."""
        if len(self._paid) < PAY_BATCH:
            return []
        return self._take()

    def _take(self) -> list[int]:
        paid, self._paid = self._paid, []
        return paid

    async def _flush_soon(self) -> None:
        with contextlib.suppress(TimeoutError):  # no update came along to take them
            await asyncio.wait_for(self._closing.wait(), PAY_DELAY)
        await self._flush_once()

    async def _flush_once(self) -> None:
        """One transaction for what has gathered. Marks that come in meanwhile wait for the
        next update or flush: under load, flushing until none are left would mean a
        transaction of its own for every few updates, each waiting for the update's."""
        ids = self._take()
        if not ids:
            return
        try:
            async with self.app.notebook.db.session() as session:
                await inbox.paid(session, ids)
        except Exception:  # still owed: the next start sends them again, harmlessly
            log.exception("could not mark the answers of %d updates as sent", len(ids))

    async def _flush(self) -> None:
        while self._paid:
            await self._flush_once()

    async def replay(self) -> int:
        """At the start: send what a previous run owed when it stopped, oldest first, each chat
        in turn. An edit that a later owed edit of the same message replaces is not sent: a
        message is never edited back to an older text."""
        async with self.app.notebook.db.session() as session:
            owing = await inbox.owed(session)
        latest: dict[tuple[Any, Any], tuple[int, int]] = {}  # message -> its last owed edit
        for update_id, calls in owing:
            for index, answer in enumerate(calls):
                key = _edited_message(answer)
                if key is not None:
                    latest[key] = (update_id, index)
        for update_id, calls in owing:  # in update order: each chat's turns keep it
            for index, answer in enumerate(calls):
                key = _edited_message(answer)
                if key is not None and latest[key] != (update_id, index):
                    calls[index] = None
            self._start(Owed(update_id, calls), None, None)
        if owing:
            log.warning("sending the answers of %d updates a previous run left", len(owing))
        return len(owing)

    async def close(self) -> None:
        """At shutdown: let the answers on their way go out (a stopping bot does not wait out a
        429 or an outage: those stay owed), and note them."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self._closing.set()
        if self._flusher is not None:
            await self._flusher
        await self._flush()


def kept_calls(owed: Owed) -> list[Answer | None]:
    return [None if a is None or "upload" in a else a for a in owed.calls]


def _chat_of(answer: Answer, chat: Any) -> Any:
    if "upload" in answer:
        return answer["upload"][1].get("chat_id", chat)
    return answer.get("params", {}).get("chat_id", chat)


def _edited_message(answer: Answer | None) -> tuple[Any, Any] | None:
    if answer is None or not _method(answer["method"]).startswith("edit"):
        return None
    params = answer.get("params", {})
    if "message_id" not in params:
        return None
    return params.get("chat_id"), params["message_id"]


async def _stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    return stopping.is_set()
