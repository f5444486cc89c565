"""Answers after the commit: an update's answer to a press, and its edits of messages, go out once
its transaction has committed, while the bot already works on the next update.

Handlers used to wait for each of these Bot API round trips inside the update, and the bot sat
idle meanwhile (bench/load.py: busy about 85% of the time under load). Handlers never use what
these calls return, so inside an update (bot/context.py: CURRENT_SCOPE) `NotebookBot` does not
make them: it keeps each as an answer, `{"method": …, "params": …}`, and returns True.

- `NotebookApplication.process_update` (bot/app.py) stores the update's answers in its inbox row
  in the same commit that marks it handled (storage/inbox.py: `finish`), then `Answers.follow`
  sends them in the order they were made.
- Per chat, the answers of one update go out after those of the updates handled before it:
  a message is never edited back to an older text.
- The inbox row keeps them until they went out. Which updates' answers went out is written in
  batches, with an update's commit (`take_paid`), or after PAY_DELAY when no update comes: not
  a transaction of its own for each. After a crash, the next start sends again what was not
  marked (`Answers.replay`), before any update is replayed. An edit sent twice is "not
  modified" and a press answered twice is "query is too old": both harmless, taken as done.
- An update whose handler failed drops its edits, which showed what was rolled back; its press
  is still answered, so the button stops spinning.
- Telegram's refusals are handled as the dispatcher handles them (bot/dispatch.py): 429 → wait
  as long as Telegram says and try again; 403 → the person is marked unreachable; another 400 is
  a bug in the message, logged; a network error leaves the answer owed, and the next start sends
  it.

A call with an option this module does not keep (entities, a link preview, an inline message…)
is made at once, as before, and so is every call outside an update (jobs, the dispatcher).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.context import CURRENT_SCOPE
from bot.dispatch import retry_seconds
from bot.telegram_http import call, keyboard_json
from storage import inbox
from storage.people import mark_unreachable_by_id

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)

Answer = dict[str, Any]  # {"method": "edit_message_text", "params": {...}}: JSON, stored as is

# The calls kept for after the commit, and the parameters kept with them.
KEPT: dict[str, frozenset[str]] = {
    "answer_callback_query": frozenset(
        {"callback_query_id", "text", "show_alert", "url", "cache_time"}
    ),
    "edit_message_text": frozenset({"text", "chat_id", "message_id", "parse_mode", "reply_markup"}),
    "edit_message_reply_markup": frozenset({"chat_id", "message_id", "reply_markup"}),
}
# Each method's parameters that may be given by position, in order (after `self`).
_POSITIONAL = {
    method: [
        p.name
        for p in list(inspect.signature(getattr(ExtBot, method)).parameters.values())[1:]
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    for method in KEPT
}
# Telegram's words for an answer that had already arrived: the call is done.
ALREADY_THERE = ("message is not modified", "query is too old")
ATTEMPTS = 3  # a 429 is waited out this many times before the answer is left owed
# Marks of answers sent wait for an update's commit to go with, once PAY_BATCH of them have
# gathered, or for PAY_DELAY seconds: a crash sends at most these again, harmlessly.
PAY_BATCH = 32
PAY_DELAY = 1.0


def as_answer(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Answer | None:
    """The call as JSON, or None when it carries something not kept (make it at once)."""
    if len(args) > len(_POSITIONAL[method]):
        return None
    given = dict(zip(_POSITIONAL[method], args, strict=False)) | kwargs
    params: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, DefaultValue):
            continue  # python-telegram-bot's defaults apply when the call is made
        if name not in KEPT[method]:
            if value is None:
                continue
            return None
        if name == "parse_mode":
            params[name] = value  # None is meaningful here: no parse mode at all
        elif value is None:
            continue
        elif name == "reply_markup":
            if not isinstance(value, InlineKeyboardMarkup):
                return None
            params[name] = keyboard_json(value)
        elif isinstance(value, str | int | bool):
            params[name] = value
        else:
            return None
    return {"method": method, "params": params}


def _keep(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    scope = CURRENT_SCOPE.get(None)
    if scope is None:
        return False
    answer = as_answer(method, args, kwargs)
    if answer is None:
        return False
    scope.answers.append(answer)
    return True


class NotebookBot(ExtBot[Any]):
    """python-telegram-bot's ExtBot; inside an update, the calls in KEPT wait for the commit."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        if _keep("answer_callback_query", args, kwargs):
            return True
        return await super().answer_callback_query(*args, **kwargs)

    async def edit_message_text(self, *args: Any, **kwargs: Any) -> Any:
        if _keep("edit_message_text", args, kwargs):
            return True
        return await super().edit_message_text(*args, **kwargs)

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Any:
        if _keep("edit_message_reply_markup", args, kwargs):
            return True
        return await super().edit_message_reply_markup(*args, **kwargs)


async def send(bot: ExtBot[Any], answer: Answer) -> None:
    """Make the call now (bot/telegram_http.py: `call`, which does not read Telegram's answer
    back into python-telegram-bot's objects: nobody looks at the edited message)."""
    await call(bot, answer["method"], answer["params"])


class Answers:
    """The answers on their way: a chain per chat, and the updates whose answers went out."""

    def __init__(
        self,
        app: NotebookApplication,
        send: Callable[[ExtBot[Any], Answer], Awaitable[None]] = send,
    ) -> None:
        self.app = app
        self.send = send
        self.tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[Any, asyncio.Future[None]] = {}  # chat -> the last answers queued
        self._paid: list[int] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

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
        task = asyncio.create_task(self._follow(update_id, person_id, answers, chat, then))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _follow(
        self,
        update_id: int | None,
        person_id: int | None,
        answers: list[Answer],
        chat: Any,
        then: Callable[[], Awaitable[None]] | None,
    ) -> None:
        if answers:
            by_chat: dict[Any, list[Answer]] = {}
            for answer in answers:
                by_chat.setdefault(answer["params"].get("chat_id", chat), []).append(answer)
            sent = await asyncio.gather(
                *(self._in_turn(c, calls, person_id) for c, calls in by_chat.items())
            )
            if update_id is not None and all(sent):
                self._pay(update_id)
        if then is not None:
            await then()

    async def _in_turn(self, chat: Any, answers: list[Answer], person_id: int | None) -> bool:
        before = self._tails.get(chat)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[chat] = mine
        try:
            if before is not None:
                await before
            return await self._send_all(answers, person_id)
        finally:
            mine.set_result(None)
            if self._tails.get(chat) is mine:
                del self._tails[chat]

    async def _send_all(self, answers: list[Answer], person_id: int | None) -> bool:
        """True when nothing is owed any more (sent, or refused for good)."""
        bot = self.app.bot
        for answer in answers:
            for _attempt in range(ATTEMPTS):
                try:
                    await self.send(bot, answer)
                    break
                except RetryAfter as exc:
                    await asyncio.sleep(retry_seconds(exc))  # as Telegram asks
                except BadRequest as exc:
                    if not exc.message.lower().startswith(ALREADY_THERE):
                        log.error("%s refused: %s", answer["method"], exc.message)
                    break
                except Forbidden as exc:  # blocked, or the bot left the group
                    log.info("%s not delivered: %s", answer["method"], exc)
                    await self._unreachable(person_id)
                    break
                except NetworkError as exc:
                    log.warning("%s not sent, owed until the next start: %s", answer["method"], exc)
                    return False
                except TelegramError as exc:
                    log.error("%s failed: %s", answer["method"], exc)
                    break
            else:
                return False
        return True

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
        """At the start: send what a previous run owed when it stopped, oldest first."""
        async with self.app.notebook.db.session() as session:
            owed = await inbox.owed(session)
        for update_id, answers in owed:
            await self._send_all(answers, None)
            self._paid.append(update_id)  # one try at the start, then it is history
        await self._flush()
        if owed:
            log.warning("sent the answers of %d updates a previous run did not finish", len(owed))
        return len(owed)

    async def close(self) -> None:
        """At shutdown: let the answers on their way go out, and note them."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self._closing.set()
        if self._flusher is not None:
            await self._flusher
        await self._flush()
