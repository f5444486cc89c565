"""What every handler gets: the typed `NotebookContext` and the per-update scope behind it.

`NotebookApplication.process_update` (bot/app.py) opens exactly one database session per update
and puts it, with the person and their translator, in an `UpdateScope` held by a ContextVar: each
update is processed in its own task context, so nothing is shared between updates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import Application, CallbackContext, ExtBot

from runtime.i18n import I18n, Translator
from runtime.offload import Offload
from runtime.rendering import Renderers
from runtime.settings import Settings
from storage.db import Database
from storage.models import Community, Membership, Person

if TYPE_CHECKING:
    from bot.app import NotebookApplication


@dataclass
class Notebook:
    """The long-lived services of one running bot, built once by the factory."""

    settings: Settings
    db: Database
    i18n: I18n
    clock: Callable[[], datetime]
    renderers: Renderers = field(default_factory=Renderers)
    outbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_sent: dict[int, float] = field(default_factory=dict)  # chat id -> monotonic time
    community_tz: dict[int, ZoneInfo] = field(default_factory=dict)  # delivery/dispatch.py
    bot_username: str = ""
    # Set while the application stops: paced sends give back what would wait (delivery/dispatch.py)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # Asks the outbox dispatcher to run now (runtime/effects.py: kick), set by bot/app.py
    wake_dispatcher: Callable[[], None] | None = None
    # Pure CPU work (files, charts) in a process of its own (runtime/offload.py)
    offload: Offload = field(default_factory=Offload)


@dataclass
class UpdateScope:
    session: AsyncSession
    person: Person | None = None
    # the community the person acts in, read with them (handlers/shared/common.py: acting_in)
    acting: tuple[Membership, Community] | None = None
    acting_chosen: int | None = None  # person.current_community_id when `acting` was read
    translator: Translator | None = None
    failed: bool = False  # a handler raised: its writes were rolled back
    error: BaseException | None = None  # what it raised
    attempts: int = 0  # failures of its own this update had before (storage/inbox.py)
    press_answered: bool = False  # an earlier try answered its press: this one must not
    # True while the update's transaction is open: Bot API calls wait for the commit
    open: bool = True
    # documents the person sent, read before the transaction opened (bot/app.py: `_prefetch`),
    # by file_unique_id
    files: dict[str, bytes] = field(default_factory=dict)
    # Bot API calls kept for after the commit (delivery/answers.py), in the order they were made
    answers: list[dict[str, Any]] = field(default_factory=list)
    # heavy work handed over to run after the commit and the answers (runtime/effects.py)
    afterwards: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


CURRENT_SCOPE: ContextVar[UpdateScope] = ContextVar("notebook_update_scope")


class NotebookContext(CallbackContext[ExtBot[None], dict, dict, dict]):
    """CallbackContext with the notebook's services; attributes are read-only views."""

    def __init__(
        self,
        application: Application,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def notebook(self) -> Notebook:
        app: NotebookApplication = self.application  # type: ignore[assignment]
        return app.notebook

    @property
    def scope(self) -> UpdateScope:
        return CURRENT_SCOPE.get()

    @property
    def session(self) -> AsyncSession:
        return self.scope.session

    @property
    def person(self) -> Person:
        person = self.scope.person
        if person is None:
            raise RuntimeError("no person for this update (no effective user)")
        return person

    @property
    def tr(self) -> Translator:
        translator = self.scope.translator
        if translator is None:
            translator = self.notebook.i18n.translator(None, self.notebook.settings.tz)
        return translator

    def now(self) -> datetime:
        return self.notebook.clock()
