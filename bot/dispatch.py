"""The outbox dispatcher: claims due rows, renders each in its reader's language, sends it.

It is a plain async function (`dispatch_due`) that the JobQueue merely calls, every
`OUTBOX_POLL_SECONDS` and right after a handler queued something (`kick`). Failures are handled
the way Telegram asks: 429 → retry after `retry_after`; 403 → the person blocked the bot, mark
them unreachable and stop; 400 → a bug in the message, logged and not retried; network errors
→ retried with back-off. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.i18n import Translator, locale_for_language_code
from bot.telegram_http import call, keyboard_json
from storage import outbox
from storage.db import BULK_CHANGED
from storage.models import Community, Issue, Outbox, OutboxStatus, Person
from storage.people import mark_unreachable_by_id
from storage.schedule import in_quiet_hours, quiet_hours_end

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)
OUTBOX_POLL_SECONDS = 30
MAX_ATTEMPTS = 8


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait (python-telegram-bot gives seconds or a timedelta)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


@dataclass(frozen=True)
class Rendered:
    """What to send for one outbox row.

    `edit_message_id`: edit that message in place instead of sending a new one (a card
    refresh); "message is not modified" then counts as done. `after_send` runs in the row's
    session with the message Telegram returned (`Sent`: to remember a card's message id, say).
    """

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    edit_message_id: int | None = None
    after_send: Callable[[AsyncSession, Bot, Sent], Awaitable[None]] | None = None


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
    """Outbox kind -> how to write it; features register theirs (handlers/notifications.py)."""

    by_kind: dict[str, Renderer] = field(default_factory=dict)

    def register(self, kind: str, renderer: Renderer) -> None:
        self.by_kind[kind] = renderer


async def translator_for(
    app: NotebookApplication, session: AsyncSession, row: Outbox
) -> Translator:
    nb = app.notebook
    tz = nb.settings.tz
    default = nb.settings.default_locale
    if row.community_id is not None:
        community = await session.get(Community, row.community_id)
        if community is not None:
            tz, default = ZoneInfo(community.timezone), community.default_locale
    locale = None
    if row.person_id is not None:
        person = await session.get(Person, row.person_id)
        if person is not None:
            locale = person.locale or locale_for_language_code(
                person.telegram_language_code, default
            )
    return nb.i18n.translator(locale or default, tz)


async def _send_one(app: NotebookApplication, row: Outbox, now: datetime) -> bool:
    """Render and send one claimed row and record the outcome; False when Telegram asked us to
    slow down."""
    async with app.notebook.db.session() as session:
        rendered = await _render(app, session, row, now)
        if rendered is None:
            return True
        return await _deliver(app, session, row, rendered, now)


async def _render(
    app: NotebookApplication, session: AsyncSession, row: Outbox, now: datetime
) -> Rendered | None:
    """What to send for a claimed row, in its reader's language; None (and the row marked)
    when there is nothing to send."""
    nb = app.notebook
    tr = await translator_for(app, session, row)
    renderer = nb.renderers.by_kind.get(row.kind)
    if renderer is None:
        log.error("outbox %s: no renderer for kind %r", row.id, row.kind)
        await outbox.mark_failed(session, row, error=f"no renderer for kind {row.kind!r}")
        return None
    rendered = await renderer(session, row, tr)
    if rendered is None:  # no longer relevant (resolved meanwhile, nothing left to say)
        await outbox.mark_done(session, row, status=OutboxStatus.CANCELLED, now=now)
    return rendered


async def _deliver(
    app: NotebookApplication,
    session: AsyncSession,
    row: Outbox,
    rendered: Rendered,
    now: datetime,
) -> bool:
    """Send a rendered row and record the outcome in `session`; False on 429."""
    params: dict[str, Any] = {"chat_id": row.chat_id, "text": rendered.text}
    if rendered.reply_markup is not None:
        params["reply_markup"] = keyboard_json(rendered.reply_markup)
    try:
        if rendered.edit_message_id is not None:
            params["message_id"] = rendered.edit_message_id
            sent = Sent.of(await call(app.bot, "edit_message_text", params))
        else:
            sent = Sent.of(await call(app.bot, "send_message", params))
        if rendered.after_send is not None and sent is not None:
            await rendered.after_send(session, app.bot, sent)
    except RetryAfter as exc:
        seconds = retry_seconds(exc)
        await outbox.retry_later(
            session, row, at=now + timedelta(seconds=seconds), error="429 flood control"
        )
        return False
    except Forbidden as exc:
        await mark_unreachable_by_id(session, row.person_id, now=now)
        await outbox.mark_failed(session, row, error=f"403 {exc.message}")
    except BadRequest as exc:
        if "not modified" in exc.message:  # the card already shows this state
            await outbox.mark_sent(session, row, now=now)
            return True
        log.error("outbox %s (%s) refused: %s", row.id, row.kind, exc.message)
        await outbox.mark_failed(session, row, error=f"400 {exc.message}")
    except (NetworkError, TelegramError) as exc:
        if row.attempts >= MAX_ATTEMPTS:
            await outbox.mark_failed(session, row, error=str(exc))
        else:
            backoff = timedelta(seconds=min(2**row.attempts, 600))
            await outbox.retry_later(session, row, at=now + backoff, error=str(exc))
    else:
        await outbox.mark_sent(session, row, now=now)
    return True


def interleave_by_chat(rows: list[Outbox]) -> list[Outbox]:
    """Round-robin over chats, so one busy chat does not hold up everyone else's messages."""
    queues: dict[int, list[Outbox]] = {}
    for row in rows:
        queues.setdefault(row.chat_id, []).append(row)
    ordered: list[Outbox] = []
    while queues:
        for chat_id in list(queues):
            ordered.append(queues[chat_id].pop(0))
            if not queues[chat_id]:
                del queues[chat_id]
    return ordered


async def _quiet_until(app: NotebookApplication, row: Outbox, now: datetime) -> datetime | None:
    """When a non-urgent row that falls in its community's quiet hours may go; None: now."""
    if row.urgent:
        return None
    start, end = app.notebook.settings.quiet_hours
    tz = await _community_tz(app, row.community_id)
    if not in_quiet_hours(now, tz, start, end):
        return None
    return quiet_hours_end(now, tz, start, end)


async def _hold_for_quiet_hours(app: NotebookApplication, row: Outbox, now: datetime) -> bool:
    """Postpone a non-urgent row that falls in its community's quiet hours."""
    until = await _quiet_until(app, row, now)
    if until is None:
        return False
    async with app.notebook.db.session() as session:
        await outbox.retry_later(session, row, at=until, error="quiet hours")
    return True


async def _community_tz(app: NotebookApplication, community_id: int | None) -> ZoneInfo:
    """A community's time zone. It is set when the community is created and never changed, so
    it is read once per process, not for every message sent."""
    nb = app.notebook
    if community_id is None:
        return nb.settings.tz
    tz = nb.community_tz.get(community_id)
    if tz is None:
        async with nb.db.session() as session:
            community = await session.get(Community, community_id)
        if community is None:
            return nb.settings.tz
        tz = nb.community_tz[community_id] = ZoneInfo(community.timezone)
    return tz


async def dispatch_due(app: NotebookApplication, *, now: datetime, batch: int = 50) -> int:
    """Send every due row; returns how many rows were handled (sent, refused or dropped as no
    longer relevant). Safe to run anywhere, any time, from several processes at once."""
    nb = app.notebook
    handled = 0
    async with nb.outbox_lock:
        while True:
            async with nb.db.session() as session:
                rows = await outbox.claim_due(session, now=now, limit=batch)
            if not rows:
                return handled
            more = len(rows) == batch  # a short batch took every row due by `now`
            rows = interleave_by_chat(rows)
            for index, row in enumerate(rows):
                if await _hold_for_quiet_hours(app, row, now):
                    continue
                # Telegram allows about one message a second per chat: wait out the gap.
                if not await _in_pace(app, row.chat_id):  # stopping: the next start sends them
                    await _give_back(app, rows[index:], now)
                    return handled
                if not await _send_one(app, row, now):
                    # Telegram asked us to wait: give the rest of this batch back, unsent.
                    await _give_back(app, rows[index + 1 :], now)
                    return handled
                nb.last_sent[row.chat_id] = time.monotonic()
                handled += 1
            if not more:
                return handled


async def _in_pace(app: NotebookApplication, chat_id: int) -> bool:
    """Wait until Telegram allows the next message to this chat (about one a second); False
    when the bot stops meanwhile (what needs no wait still goes out while it stops)."""
    nb = app.notebook
    gap = 1.0 / nb.settings.rate_limit_chat_per_second - (
        time.monotonic() - nb.last_sent.get(chat_id, -1e9)
    )
    if gap <= 0:
        return True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(nb.stopping.wait(), gap)
    return not nb.stopping.is_set()


async def _give_back(app: NotebookApplication, rows: list[Outbox], now: datetime) -> None:
    """Rows claimed and not sent: pending again, for the next dispatch."""
    if rows:
        async with app.notebook.db.session() as session:
            for row in rows:
                await outbox.retry_later(session, row, at=now, error="postponed")


@dataclass(frozen=True)
class Claimed:
    """Rows an update queued, claimed and rendered in its own transaction (`claim_queued`),
    waiting for its commit to be sent (`send_claimed`)."""

    ready: list[tuple[Outbox, Rendered]]
    now: datetime


async def claim_queued(
    app: NotebookApplication, session: AsyncSession, *, now: datetime
) -> Claimed | None:
    """Just before an update commits: render the due rows it queued (claimed as they were
    written, storage/outbox.py) with what the update has read (its community, people and
    events), so that they go out right after the commit without a dispatcher run reading them
    all again. Issues and outbox rows are read afresh if a bulk UPDATE or DELETE may have
    changed them behind the session's back (storage/db.py: BULK_CHANGED)."""
    rows = outbox.claim_queued(session)
    if not rows:
        return None
    await session.flush()
    if session.info.pop(BULK_CHANGED, False):
        for instance in list(session.sync_session.identity_map.values()):
            if isinstance(instance, Issue | Outbox):
                session.expire(instance)
    ready: list[tuple[Outbox, Rendered]] = []
    for row in rows:
        try:
            until = await _quiet_until(app, row, now)
            if until is not None:
                await outbox.retry_later(session, row, at=until, error="quiet hours")
                continue
            rendered = await _render(app, session, row, now)
        except Exception:  # a renderer's bug must not undo the update that queued the row
            # The row stays claimed, and a dispatcher takes it again after STALE_CLAIM, as it
            # does with a row whose dispatcher died.
            log.exception("outbox %s (%s) could not be rendered", row.id, row.kind)
            continue
        if rendered is not None:
            ready.append((row, rendered))
    return Claimed(ready, now) if ready else None


async def send_claimed(app: NotebookApplication, claimed: Claimed) -> None:
    """After the commit: send what `claim_queued` prepared, paced like `dispatch_due` (whose
    lock keeps the two from sending at once). A row left unsent (the process stopped) is
    claimed again by a dispatcher after STALE_CLAIM."""
    try:
        await _send_claimed(app, claimed)
    except Exception:  # the rows stay claimed; a dispatcher takes them again after STALE_CLAIM
        log.exception("sending %d queued messages failed", len(claimed.ready))


async def _send_claimed(app: NotebookApplication, claimed: Claimed) -> None:
    nb = app.notebook
    rows = [row for row, _rendered in claimed.ready]
    async with nb.outbox_lock:
        for index, (row, rendered) in enumerate(claimed.ready):
            if not await _in_pace(app, row.chat_id):  # stopping: the next start sends them
                await _give_back(app, rows[index:], claimed.now)
                return
            async with nb.db.session() as session:
                sent = await _deliver(app, session, row, rendered, claimed.now)
            if not sent:  # Telegram asked us to wait: the rest go with the next dispatch
                await _give_back(app, rows[index + 1 :], claimed.now)
                return
            nb.last_sent[row.chat_id] = time.monotonic()


async def dispatch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await dispatch_due(app, now=app.notebook.clock())


def kick(app: Any) -> None:
    """Dispatch now (after a job committed outbox rows) instead of at the next poll. In an
    update there is nothing to do: what it queued is sent when it commits (claim_queued)."""
    from bot.context import CURRENT_SCOPE  # bot.context builds on this module

    if CURRENT_SCOPE.get(None) is not None:
        return
    if app.job_queue is not None:
        app.job_queue.run_once(dispatch_job, when=0, job_kwargs={"misfire_grace_time": None})


def schedule(app: NotebookApplication) -> None:
    """The periodic catch-up: a late run still sends everything due (no misfire skipping)."""
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        dispatch_job,
        interval=OUTBOX_POLL_SECONDS,
        first=OUTBOX_POLL_SECONDS,
        name="outbox",
        job_kwargs={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
    )
