"""What a feature gives the outbox to send, and what it gets back: the rendering types.

A feature registers a `Renderer` per outbox kind (handlers/residents/notifications.py and others);
the dispatcher (delivery/dispatch.py) calls it with the row and the reader's translator, sends the
`Rendered` it returns, and hands the message Telegram returned (`Sent`) to its `after_send`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup

from runtime.i18n import Translator
from storage.models import Outbox


@dataclass(frozen=True)
class Rendered:
    """What to send for one outbox row.

    `edit_message_id`: edit that message in place instead of sending a new one (a card
    refresh); "message is not modified" then counts as done. `when_gone`: what to do when that
    message is gone (someone deleted it): None gives the row up, REPOST sends the text as a new
    message, SKIP counts the row as done. `after_send` runs in the row's session with the
    message Telegram returned (`Sent`: to remember a card's message id, say).

    `calls`: instead of a message, Bot API calls made in order, as `(method, parameters)` (a
    leaver removed from the staff group: ban, then unban). When Telegram refuses one (a 400 or
    403), the rest are not made and `refused` runs with Telegram's words in the transaction
    that records the row as failed (to queue a notice for whoever must act).
    """

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    edit_message_id: int | None = None
    after_send: Callable[[AsyncSession, Bot, Sent], Awaitable[None]] | None = None
    when_gone: str | None = None
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    refused: Callable[[AsyncSession, str], Awaitable[None]] | None = None


REPOST = "repost"  # Rendered.when_gone: the edited message is gone, send it again
SKIP = "skip"  # Rendered.when_gone: the edited message is gone, nothing left to do


@dataclass(frozen=True)
class Sent:
    """The message Telegram answered a send (or an edit) with, as far as `after_send` reads it."""

    chat_id: int
    message_id: int
    date: datetime

    @classmethod
    def of(cls, answer: Any) -> Sent | None:
        """From Telegram's JSON; None for an answer that is not a message (True)."""
        if not isinstance(answer, dict):
            return None
        return cls(
            chat_id=answer["chat"]["id"],
            message_id=answer["message_id"],
            date=datetime.fromtimestamp(answer["date"], UTC),
        )


Renderer = Callable[[AsyncSession, Outbox, Translator], Awaitable[Rendered | None]]


@dataclass
class Renderers:
    """Outbox kind -> how to write it; features register theirs
    (handlers/residents/notifications.py)."""

    by_kind: dict[str, Renderer] = field(default_factory=dict)

    def register(self, kind: str, renderer: Renderer) -> None:
        self.by_kind[kind] = renderer
