"""The outbox dispatcher: claims due rows, renders each in its reader's language, sends it.

It is a plain async function (`dispatch_due`) that the JobQueue merely calls, every
`OUTBOX_POLL_SECONDS` and right after a handler queued something (`kick`). Failures are handled
the way Telegram asks: 429 → that chat's rows wait `retry_after` (not counted as an attempt)
while other chats' rows go on; 403 → the person blocked the bot, mark them unreachable and
stop (a staff group that refuses the bot is recorded for the health report until a send there
succeeds); 400 → a bug in the message, not retried; network errors → retried with back-off, up
to MAX_ATTEMPTS. Every row given up on is logged (id, kind, reason; never its text). Nothing
is dropped silently, and nothing here waits out a 429.

What Telegram answered is recorded in a session of its own after the request, retried a few
times if the database fails (`_record`): a row Telegram took but left marked as being sent
would be sent again by a later dispatcher after STALE_CLAIM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from delivery.rate_limit import retry_seconds
from delivery.telegram_http import call, keyboard_json
from runtime import metrics
from runtime.i18n import Translator, locale_for_language_code
from runtime.rendering import SKIP, Rendered, Sent
from storage import health, outbox
from storage.db import BULK_CHANGED
from storage.models import Community, Issue, Outbox, OutboxStatus, Person
from storage.people import mark_unreachable_by_id
from storage.schedule import in_quiet_hours, quiet_hours_end

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)
OUTBOX_POLL_SECONDS = 30
MAX_ATTEMPTS = 8
# Waits before each new try to record what Telegram answered when the database failed: a
# few seconds in all, so a stop still completes; after the last the row stays claimed and a
# dispatcher takes it again after STALE_CLAIM.
RECORD_RETRY_DELAYS = (0.05, 0.25, 1.0, 2.0)


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


async def _send_one(app: NotebookApplication, row: Outbox, now: datetime) -> datetime | None:
    """Render and send one claimed row and record the outcome; after a 429, when its chat may
    be written to again (None otherwise)."""
    async with app.notebook.db.session() as session:
        rendered = await _render(app, session, row, now)
    if rendered is None:
        return None
    return await _deliver(app, row, rendered, now)


async def _render(
    app: NotebookApplication, session: AsyncSession, row: Outbox, now: datetime
) -> Rendered | None:
    """What to send for a claimed row, in its reader's language; None (and the row marked)
    when there is nothing to send."""
    nb = app.notebook
    tr = await translator_for(app, session, row)
    renderer = nb.renderers.by_kind.get(row.kind)
    if renderer is None:
        reason = f"no renderer for kind {row.kind!r}"
        _log_given_up(row, reason)
        await outbox.mark_failed(session, row, error=reason, attempted=False)
        metrics.OUTBOX_FAILED.labels(kind=row.kind).inc()
        return None
    rendered = await renderer(session, row, tr)
    if rendered is None:  # no longer relevant (resolved meanwhile, nothing left to say)
        await outbox.mark_done(session, row, status=OutboxStatus.CANCELLED, now=now)
    return rendered


Record = Callable[[AsyncSession], Awaitable[None]]


async def _deliver(
    app: NotebookApplication, row: Outbox, rendered: Rendered, now: datetime
) -> datetime | None:
    """Send a rendered row, then record the outcome (`_record`); after a 429, when its chat may
    be written to again (None otherwise). No transaction is open while the request is made."""
    if rendered.calls:
        return await _make_calls(app, row, rendered, now)
    params: dict[str, Any] = {"chat_id": row.chat_id, "text": rendered.text}
    if rendered.reply_markup is not None:
        params["reply_markup"] = keyboard_json(rendered.reply_markup)
    method = "send_message"
    if rendered.edit_message_id is not None:
        params["message_id"] = rendered.edit_message_id
        method = "edit_message_text"
    try:
        try:
            sent = Sent.of(await call(app.bot, method, params))
        except BadRequest as exc:
            if method == "send_message" or not _gone(exc) or rendered.when_gone is None:
                raise
            if rendered.when_gone == SKIP:
                await _record(app, row, "sent", _marking_sent(row, None, app.bot, None, now))
                return None
            # REPOST: the message was deleted, so the card (or notice) is posted again
            del params["message_id"]
            sent = Sent.of(await call(app.bot, "send_message", params))
    except RetryAfter as exc:  # Telegram took nothing: not an attempt
        at = now + timedelta(seconds=retry_seconds(exc))
        await _record(app, row, "postponed (429)", _postponing(row, at, "429 flood control"))
        return at
    except Forbidden as exc:
        await _record(app, row, "refused (403)", _refused(row, exc.message, now))
    except BadRequest as exc:
        if "not modified" in exc.message:  # the card already shows this state
            await _record(app, row, "sent", _marking_sent(row, None, app.bot, None, now))
            return None
        _log_given_up(row, f"400 {exc.message}")
        await _record(app, row, "failed (400)", _failing(row, f"400 {exc.message}"))
    except (NetworkError, TelegramError) as exc:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            reason = f"{type(exc).__name__} after {attempts} attempts: {exc}"
            _log_given_up(row, reason)
            await _record(app, row, "failed", _failing(row, str(exc)))
        else:
            at = now + timedelta(seconds=min(2**attempts, 600))
            await _record(app, row, "retry", _retrying(row, at, str(exc)))
    else:
        write = _marking_sent(row, sent, app.bot, rendered.after_send, now)
        await _record(app, row, "sent", write)
    return None


async def _make_calls(
    app: NotebookApplication, row: Outbox, rendered: Rendered, now: datetime
) -> datetime | None:
    """A row that makes calls instead of sending a message (`Rendered.calls`), with the same
    handling of Telegram's answers as a message; a refusal runs `Rendered.refused`."""
    try:
        for method, params in rendered.calls:
            await call(app.bot, method, params)
    except RetryAfter as exc:  # Telegram did nothing: the calls are made again later
        at = now + timedelta(seconds=retry_seconds(exc))
        await _record(app, row, "postponed (429)", _postponing(row, at, "429 flood control"))
        return at
    except (BadRequest, Forbidden) as exc:
        _log_given_up(row, f"refused: {exc.message}")
        refused, why = rendered.refused, exc.message

        async def write(session: AsyncSession) -> None:
            if refused is not None:
                await refused(session, why)
            await outbox.mark_failed(session, row, error=why[:500])

        await _record(app, row, "refused", write)
        if refused is not None:
            kick(app)  # what `refused` queued (a notice) goes now, not at the next poll
    except (NetworkError, TelegramError) as exc:
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            _log_given_up(row, f"{type(exc).__name__} after {attempts} attempts: {exc}")
            await _record(app, row, "failed", _failing(row, str(exc)))
        else:
            at = now + timedelta(seconds=min(2**attempts, 600))
            await _record(app, row, "retry", _retrying(row, at, str(exc)))
    else:
        await _record(app, row, "sent", _marking_sent(row, None, app.bot, None, now))
    return None


def _gone(exc: BadRequest) -> bool:
    """Telegram's answer to an edit of a message that no longer exists."""
    return "message to edit not found" in exc.message.lower()


def _log_given_up(row: Outbox, reason: str) -> None:
    """One line per row the outbox gives up on: its id, kind and why (never its text)."""
    log.warning("outbox %s (%s) given up: %s", row.id, row.kind, reason)


def _marking_sent(
    row: Outbox,
    sent: Sent | None,
    bot: Bot,
    after_send: Callable[[AsyncSession, Bot, Sent], Awaitable[None]] | None,
    now: datetime,
) -> Record:
    async def write(session: AsyncSession) -> None:
        if after_send is not None and sent is not None:
            await after_send(session, bot, sent)
        await outbox.mark_sent(session, row, now=now)
        if row.chat_id < 0:  # a group took it: if it is a staff group, it no longer refuses
            await health.clear_staff_refusal(session, chat_id=row.chat_id)

    return write


def _postponing(row: Outbox, at: datetime, reason: str) -> Record:
    async def write(session: AsyncSession) -> None:
        await outbox.postpone(session, row, at=at, reason=reason)

    return write


def _retrying(row: Outbox, at: datetime, error: str) -> Record:
    async def write(session: AsyncSession) -> None:
        await outbox.retry_later(session, row, at=at, error=error)

    return write


def _failing(row: Outbox, error: str) -> Record:
    async def write(session: AsyncSession) -> None:
        await outbox.mark_failed(session, row, error=error)

    return write


def _refused(row: Outbox, message: str, now: datetime) -> Record:
    """403: a person blocked the bot (unreachable from now on), or a staff group removed it
    (recorded for the health report until a send there succeeds)."""
    _log_given_up(row, f"403 {message}")

    async def write(session: AsyncSession) -> None:
        await mark_unreachable_by_id(session, row.person_id, now=now)
        if row.community_id is not None and row.chat_id < 0:
            community = await session.get(Community, row.community_id)
            if community is not None and community.staff_chat_id == row.chat_id:
                await health.note_staff_refusal(
                    session,
                    chat_id=row.chat_id,
                    community_id=row.community_id,
                    error=f"403 {message}",
                    now=now,
                )
        await outbox.mark_failed(session, row, error=f"403 {message}")

    return write


async def _record(app: NotebookApplication, row: Outbox, what: str, write: Record) -> None:
    """Run `write` in a session of its own, trying again after RECORD_RETRY_DELAYS if the
    database fails. Given up, the row stays claimed: a dispatcher takes it again after
    STALE_CLAIM (the message may then go twice, which is why this tries hard)."""
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            async with app.notebook.db.session() as session:
                await write(session)
            if what == "sent":
                metrics.OUTBOX_SENT.labels(kind=row.kind).inc()
            elif what.startswith(("failed", "refused")):
                metrics.OUTBOX_FAILED.labels(kind=row.kind).inc()
            return
        except SQLAlchemyError as exc:
            if delay is None:
                log.error(
                    "outbox %s (%s): could not record it as %s (%s); it stays claimed and is "
                    "taken again after %s",
                    row.id,
                    row.kind,
                    what,
                    type(exc).__name__,
                    outbox.STALE_CLAIM,
                )
                return
            log.warning(
                "outbox %s (%s): recording it as %s failed (%s); trying again",
                row.id,
                row.kind,
                what,
                type(exc).__name__,
            )
            await asyncio.sleep(delay)


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
        await outbox.postpone(session, row, at=until, reason="quiet hours")
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
    longer relevant). Safe to run anywhere, any time, from several processes at once.

    A 429 holds back only its own chat: that chat's other rows in the batch wait until
    Telegram allows it again, and the other chats' rows go on in the same run."""
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
            slowed: dict[int, datetime] = {}  # chat id -> when Telegram allows it again
            for index, row in enumerate(rows):
                if row.chat_id in slowed:
                    await _postpone(app, [row], slowed[row.chat_id], "429 flood control")
                    continue
                if await _hold_for_quiet_hours(app, row, now):
                    continue
                # Telegram allows about one message a second per chat: wait out the gap.
                if not await _in_pace(app, row.chat_id):  # stopping: the next start sends them
                    await _give_back(app, rows[index:], now)
                    return handled
                retry_at = await _send_one(app, row, now)
                if retry_at is not None:
                    slowed[row.chat_id] = retry_at
                    continue
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
    await _postpone(app, rows, now, "postponed")


async def _postpone(
    app: NotebookApplication, rows: list[Outbox], at: datetime, reason: str
) -> None:
    """Rows claimed and not sent (no attempt counted): pending again from `at`."""
    if rows:
        async with app.notebook.db.session() as session:
            for row in rows:
                await outbox.postpone(session, row, at=at, reason=reason)


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
                await outbox.postpone(session, row, at=until, reason="quiet hours")
                continue
            rendered = await _render(app, session, row, now)
        except Exception:  # a renderer's bug must not undo the update that queued the row
            # The row stays claimed, and a dispatcher takes it again after STALE_CLAIM, as it
            # does with a row whose dispatcher died.
            log.exception("outbox %s (%s) could not be rendered", row.id, row.kind)
            continue
        if rendered is not None:
            ready.append((row, rendered))
    ready = await _last_edit_only(session, ready, now)
    return Claimed(ready, now) if ready else None


async def _last_edit_only(
    session: AsyncSession, ready: list[tuple[Outbox, Rendered]], now: datetime
) -> list[tuple[Outbox, Rendered]]:
    """Two rows of one update editing the same message (a card refreshed by the change and by
    the step that made it): rendered from the same state, only the last is sent; the others
    are done with nothing to send."""
    last: dict[tuple[int, int], int] = {}
    for index, (row, rendered) in enumerate(ready):
        if rendered.edit_message_id is not None:
            last[(row.chat_id, rendered.edit_message_id)] = index
    kept = []
    for index, (row, rendered) in enumerate(ready):
        edit = rendered.edit_message_id
        if edit is not None and last[(row.chat_id, edit)] != index:
            await outbox.mark_done(session, row, status=OutboxStatus.CANCELLED, now=now)
            continue
        kept.append((row, rendered))
    return kept


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
    slowed: dict[int, datetime] = {}  # chat id -> when Telegram allows it again (a 429)
    async with nb.outbox_lock:
        for index, (row, rendered) in enumerate(claimed.ready):
            if row.chat_id in slowed:  # that chat waits; the others' messages go on
                await _postpone(app, [row], slowed[row.chat_id], "429 flood control")
                continue
            if not await _in_pace(app, row.chat_id):  # stopping: the next start sends them
                await _give_back(app, rows[index:], claimed.now)
                return
            retry_at = await _deliver(app, row, rendered, claimed.now)
            if retry_at is not None:
                slowed[row.chat_id] = retry_at
                continue
            nb.last_sent[row.chat_id] = time.monotonic()


async def dispatch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await dispatch_due(app, now=app.notebook.clock())


def kick(app: Any) -> None:
    """Dispatch now instead of at the next poll (runtime/effects.py: `kick` asks for it)."""
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
