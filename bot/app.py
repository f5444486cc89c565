"""The application factory: the one place that wires settings, database, i18n and handlers.

`python -m bot` and the tests build the bot with `build_application`, so tests run exactly what
production runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import inspect as sa_inspect
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    ContextTypes,
    Defaults,
    TypeHandler,
)

from bot import jobs, logs, menus, operations
from bot.per_chat import PerChatUpdates
from delivery import answers, dispatch
from delivery.answers import NotebookBot
from delivery.inbox import DurableUpdateQueue, InboxRequest
from delivery.rate_limit import ChatRateLimiter
from delivery.telegram_http import AiohttpRequest
from handlers.council import campaigns, household_checks, meetings, topic_staff, topics
from handlers.residents import (
    followup,
    help,
    household,
    language,
    menu,
    my_issues,
    notifications,
    privacy,
    private_messages,
    profile,
    report,
    start,
)
from handlers.secretary import (
    digest,
    export,
    invites,
    notebook_page,
    staff_admin,
    staff_removal,
)
from handlers.shared import common, errors, fallback, flows
from handlers.shared.common import load_person
from handlers.staff import (
    calendar,
    card_actions,
    card_delivery,
    card_info,
    card_steps,
    desk_visit,
    duty,
    escalations,
    issue_lookup,
    log_for_resident,
    phone_followup,
    posters,
    public_summary,
    reminders,
    staff_group,
    todo,
)
from runtime import effects, metrics
from runtime.context import CURRENT_SCOPE, Notebook, NotebookContext, UpdateScope
from runtime.i18n import I18n
from runtime.offload import Offload
from runtime.settings import Settings
from storage import inbox, migrate, outbox
from storage.db import Database
from storage.faults import describe, is_database_fault
from storage.types import utcnow

log = logging.getLogger(__name__)
# Documents up to this size are read before an update's transaction (`_prefetch`); larger ones
# are refused by the features that take files (a household list is at most 1 MB).
PREFETCH_MAX_BYTES = 1_000_000
TEXT_FILES = (".csv", ".txt")


class NotebookApplication(Application):
    """PTB's Application, plus the notebook's services and one DB session per update."""

    def __init__(self, *, notebook: Notebook, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notebook = notebook
        self.operations = operations.Operations()
        self.answers = answers.Answers(self)  # what updates send after their commit
        # heavy work updates hand over (runtime/effects.py: `afterwards`): one at a time, so
        # that a secretary asking for files and digests at once does not starve everyone else
        self.heavy_work = asyncio.Semaphore(1)

    async def start(self) -> None:
        self.notebook.stopping.clear()
        await super().start()

    async def stop(self) -> None:
        # Messages waiting for Telegram's per-chat pace go back to the outbox rather than hold
        # the stop for seconds (python-telegram-bot waits for a running job): the next start
        # sends them.
        self.notebook.stopping.set()
        operations.close_webhook(self)  # webhook mode: no new update from here on
        await super().stop()

    async def process_update(self, update: object) -> None:
        """Handle one update in one transaction; never raises, so nothing ends the fetcher.

        The single place a session is opened for an update: everything the handlers write
        commits together with the inbox row marked done (storage/inbox.py: `finish`), or is
        rolled back. Bot API calls the handlers made go out after the commit
        (delivery/answers.py), with the outbox messages they queued (delivery/dispatch.py:
        `claim_queued`), while the next update is handled. A failure leaves the update pending
        with the error noted, to be tried again (delivery/inbox.py: `retry_due`). Logs meanwhile
        carry the update id and the issue it touched (bot/logs.py)."""
        update_id = update.update_id if isinstance(update, Update) else None
        queue = self.update_queue if isinstance(self.update_queue, DurableUpdateQueue) else None
        if self.notebook.stopping.is_set() and update_id is not None:
            return  # left pending and held by this instance: its next start takes it first
        if queue is not None and update_id is not None:
            queue.begin(update_id)
        started = time.monotonic()
        scope: UpdateScope | None = None
        with logs.update_context(update):
            try:
                await operations.update_seen(self)  # liveness for /healthz and `status`
                files = await self._prefetch(update)
                async with self.notebook.db.session() as session:
                    scope = UpdateScope(session=session, files=files)
                    if queue is not None and update_id is not None:
                        scope.attempts = queue.attempts.get(update_id, 0)
                        scope.press_answered = update_id in queue.answered
                    claimed = await self._handle(update, scope)
                works = [] if scope.failed else scope.afterwards
                if scope.answers or claimed is not None or works:  # committed: send, go on
                    self.answers.follow(
                        update_id,
                        _person_id(scope),
                        scope.answers,
                        _chat_of(update),
                        then=self._after_answers(claimed, works),
                    )
            except Exception as exc:  # the database failed under the update: try it again
                await self._not_handled(update, scope, exc)
            finally:
                if queue is not None and update_id is not None:
                    queue.release(update_id)
            log.debug("update handled in %.0f ms", (time.monotonic() - started) * 1000)
        # With SQLite inline (storage/fast/sqlite_inline.py) an update may be handled without ever
        # waiting, and python-telegram-bot takes the next queued one at once: after a backlog
        # (a restart's replay, a burst) the answers and messages of those already committed
        # would wait for the whole queue. One turn of the loop per update lets them go out.
        await asyncio.sleep(0)

    def _after_answers(
        self, claimed: dispatch.Claimed | None, works: list[effects.Work]
    ) -> Callable[[], Awaitable[None]] | None:
        """What follows an update's answers: the outbox messages it queued, then the heavy work
        it handed over (runtime/effects.py: `afterwards`), one work at a time in the process."""
        if claimed is None and not works:
            return None

        async def after() -> None:
            if claimed is not None:
                await dispatch.send_claimed(self, claimed)
            for work in works:
                async with self.heavy_work:
                    if self.notebook.stopping.is_set():
                        return  # not done: the person asks again
                    try:
                        await work()
                    except Exception:
                        log.exception("work handed over by an update failed")

        return after

    async def _prefetch(self, update: object) -> dict[str, bytes]:
        """A small document the person sent, read from Telegram before the transaction opens
        (no network I/O inside it): a handler that imports it finds it in `scope.files`."""
        message = update.effective_message if isinstance(update, Update) else None
        document = message.document if message is not None else None
        if document is None or (document.file_size or PREFETCH_MAX_BYTES + 1) > PREFETCH_MAX_BYTES:
            return {}
        name = (document.file_name or "").lower()
        if not (document.mime_type or "").startswith("text/") and not name.endswith(TEXT_FILES):
            return {}  # only a text file is ever read (a household list); others are kept as is
        found = await self.bot.get_file(document.file_id)
        return {document.file_unique_id: bytes(await found.download_as_bytearray())}

    async def _handle(self, update: object, scope: UpdateScope) -> dispatch.Claimed | None:
        """The handlers, then the inbox row, inside the update's transaction."""
        session = scope.session
        logs.watch_issues(session)
        session.info[outbox.SENDS_AFTER_COMMIT] = True  # what it queues: below
        token = CURRENT_SCOPE.set(scope)
        try:
            await super().process_update(update)
            now = self.notebook.clock()
            if not isinstance(update, Update):
                return await dispatch.claim_queued(self, session, now=now)
            if scope.press_answered:  # by a try that failed: Telegram takes one answer
                scope.answers = [a for a in scope.answers if not _answers_press(a)]
            kept = answers.kept_calls(answers.Owed(update.update_id, list(scope.answers)))
            if scope.failed:  # rolled back: note why, and let it wait to be tried again
                metrics.UPDATES_FAILED.inc()
                error = scope.error or RuntimeError("handler failed")
                await inbox.failed_attempt(
                    session,
                    update_id=update.update_id,
                    now=now,
                    error=describe(error),
                    counts=not is_database_fault(error),
                    answers=kept,
                    press_answered=any(_answers_press(a) for a in scope.answers),
                )
                # what a handler committed before it failed still goes out
                return await dispatch.claim_queued(self, session, now=now)
            if not await inbox.finish(session, update_id=update.update_id, now=now, answers=kept):
                log.info(
                    "update %s was handled already; its second try is undone", update.update_id
                )
                await session.rollback()
                scope.answers, scope.afterwards = [], []
                return None
            await inbox.paid(session, self.answers.take_paid())
            metrics.UPDATES_HANDLED.inc()  # counted a moment before its commit
            return await dispatch.claim_queued(self, session, now=now)
        finally:
            scope.open = False
            CURRENT_SCOPE.reset(token)

    async def _not_handled(
        self, update: object, scope: UpdateScope | None, error: Exception
    ) -> None:
        """The update's transaction failed (the database is down, locked, or refused a
        statement): nothing it did stands. Note the failure in its inbox row and let it wait
        its back-off; if even that fails, keep it here and try again in a few seconds. A press
        is answered all the same, so its button stops spinning, unless an earlier try did: it
        is answered once, and the tries after this one know it (`press_answered`)."""
        log.error("update could not be handled: %s", describe(error))
        metrics.UPDATES_FAILED.inc()
        if not isinstance(update, Update):
            return
        now = self.notebook.clock()
        queue = self.update_queue if isinstance(self.update_queue, DurableUpdateQueue) else None
        answered = queue is not None and update.update_id in queue.answered
        presses = [a for a in (scope.answers if scope else []) if _answers_press(a)]
        if presses and not answered:
            self.answers.follow(None, None, presses, _chat_of(update))
            answered = True
        try:
            async with self.notebook.db.session() as session:
                await inbox.failed_attempt(
                    session,
                    update_id=update.update_id,
                    now=now,
                    error=describe(error),
                    counts=not (is_database_fault(error) or isinstance(error, NetworkError)),
                    press_answered=answered,
                )
        except Exception as again:
            log.warning(
                "update %s kept in memory to try again: %s", update.update_id, describe(again)
            )
            if queue is not None:
                queue.retry_in_memory(update, at=now + inbox.backoff(1), answered=answered)


def _answers_press(answer: dict[str, Any]) -> bool:
    return bool(answer["method"] == "answercallbackquery")


def _person_id(scope: UpdateScope) -> int | None:
    """The sender's id, without touching the database (a rollback expired the object)."""
    state = sa_inspect(scope.person) if scope.person is not None else None
    return int(state.identity[0]) if state is not None and state.identity else None


def _chat_of(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


def feature_handlers() -> list[tuple[int, BaseHandler[Any, Any, Any]]]:
    """Every handler, in one commented list: (group, handler)."""
    return [
        # -2: cross-cutting: know who is writing and in which language, before any feature.
        (-2, TypeHandler(Update, load_person)),
        # -1: the sender's conversation state (chat_state), so a waiting flow gets their answer
        # (read by load_person's query, in the same trip to the database).
        (-1, TypeHandler(Update, flows.load_chat_state)),
        # 0: features, one module each.
        *((0, h) for h in start.HANDLERS),  # /start, deep links, choosing a community
        *((0, h) for h in help.HANDLERS),  # /help
        *((0, h) for h in language.HANDLERS),  # /language
        *((0, h) for h in invites.HANDLERS),  # /invite (secretary)
        # residents (and staff logging on a resident's behalf)
        *((0, h) for h in profile.HANDLERS),  # /profile; building, unit, language, phone
        *((0, h) for h in report.HANDLERS),  # /report and every report draft's buttons
        *((0, h) for h in log_for_resident.HANDLERS),  # /log and its buttons (staff)
        *((0, h) for h in my_issues.HANDLERS),  # /my, an issue's history, withdrawing
        *((0, h) for h in followup.HANDLERS),  # 回访: solved? satisfied? (buttons)
        *((0, h) for h in posters.HANDLERS),  # /poster: a building's printable QR poster (staff)
        # staff
        *((0, h) for h in staff_group.HANDLERS),  # /bind: this group is the staff group
        *((0, h) for h in card_info.HANDLERS),  # the card's full text, photos, contact buttons
        *((0, h) for h in card_actions.HANDLERS),  # card buttons + replies to the bot's prompts
        *((0, h) for h in phone_followup.HANDLERS),  # 回访 by telephone, from a resolved card
        *((0, h) for h in todo.HANDLERS),  # /todo (staff, private chat)
        *((0, h) for h in issue_lookup.HANDLERS),  # /issue N (staff)
        *((0, h) for h in public_summary.HANDLERS),  # /summary N: what open data shows (staff)
        *((0, h) for h in calendar.HANDLERS),  # /calendar: the calendar feeds' addresses (staff)
        *((0, h) for h in digest.HANDLERS),  # /digest (staff): figures and chart for a period
        *((0, h) for h in notebook_page.HANDLERS),  # /notebook (staff): red and black entries
        *((0, h) for h in export.HANDLERS),  # /export (secretary): XLSX, CSV, printable PDF
        # the courtyard council, consent campaigns, the service desk
        *((0, h) for h in flows.HANDLERS),  # the Cancel button of any typed-answer flow
        *((0, h) for h in topics.HANDLERS),  # /propose, /topics, support (小院议事堂)
        *((0, h) for h in topic_staff.HANDLERS),  # a topic's staff card: grading, answering
        *((0, h) for h in meetings.HANDLERS),  # /meeting: schedule, attendance, minutes, decisions
        *((0, h) for h in campaigns.HANDLERS),  # /campaign (staff), /vote: consent campaigns
        *((0, h) for h in household.HANDLERS),  # /profile: verify my household (resident)
        *((0, h) for h in household_checks.HANDLERS),  # confirming, undoing a household (staff)
        *((0, h) for h in duty.HANDLERS),  # /duty roster (百通岗)
        *((0, h) for h in desk_visit.HANDLERS),  # /desk: a visit at the desk
        # running the notebook: staff turnover, residents' data
        *((0, h) for h in staff_admin.HANDLERS),  # /staff: deactivate, hand over; revoke links
        *((0, h) for h in privacy.HANDLERS),  # /mydata, /forget
        # then: /cancel, and every other private message (replies, flows, new reports)
        *((0, h) for h in menu.HANDLERS),  # "is this a new problem?"
        *((0, h) for h in private_messages.HANDLERS),
        # last in group 0: stale or forged buttons and unknown commands still get an answer
        *((0, h) for h in fallback.HANDLERS),
    ]


def feature_flows() -> list[flows.Flow]:
    """Every conversation that waits for a person's next private message (handlers/shared/
    flows.py); handlers/residents/private_messages.py routes the message to it."""
    return [
        *private_messages.FLOWS,  # a report, the profile questions, withdrawing, the 回访 comment
        *topics.FLOWS,  # a topic being proposed
        *meetings.FLOWS,  # a meeting being scheduled, minutes, decisions
        *campaigns.FLOWS,  # a campaign being set up; a resident's concerns after voting
        *desk_visit.FLOWS,  # a desk visit being logged
        *household.FLOWS,  # a resident's household code or room, from /profile
        *household_checks.FLOWS,  # why a worker undoes a household's verification
    ]


async def on_startup(app: Application) -> None:
    """post_init: bring the database schema up to date and tell Telegram our commands."""
    assert isinstance(app, NotebookApplication)
    nb = app.notebook
    await migrate.upgrade(nb.db)
    nb.bot_username = app.bot.username
    await menus.publish(app)  # command menus per scope and language, the description
    jobs.schedule(app)
    await operations.start(app)  # key check, presence, health endpoint, retention, backups
    queue = app.update_queue
    if isinstance(queue, DurableUpdateQueue):
        await app.answers.replay()  # answers a previous run owed, before its updates replay
        # Polling: this is the only instance, every pending update is its own. Webhook: its
        # own (INSTANCE_NAME) and those whose holder's lease ran out; the retry job takes the
        # rest as their leases run out.
        await queue.replay_at_start(app.bot, exclusive=not nb.settings.webhook_url)
    await operations.open_webhook(app)  # webhook mode: take Telegram's updates from now on


async def on_stop(app: Application) -> None:
    """post_stop: no update is being handled any more; what those handled still send (answers,
    queued messages) goes out now, while the bot can still talk to Telegram."""
    assert isinstance(app, NotebookApplication)
    await app.answers.close()


async def on_shutdown(app: Application) -> None:
    assert isinstance(app, NotebookApplication)
    await operations.stop(app)
    app.notebook.offload.close()
    await app.notebook.db.dispose()


async def serve_webhook(app: NotebookApplication, until: asyncio.Event) -> None:
    """Webhook mode (python-telegram-bot's custom-webhook pattern): what `run_webhook` does,
    with bot/health.py's server in place of the Updater's, until `until` is set (a signal)."""
    await app.initialize()
    try:
        await on_startup(app)  # the HTTP server starts here, and takes updates at its end
        await app.start()
        await until.wait()
    finally:
        if app.running:
            await app.stop()  # no new update first (NotebookApplication.stop), then PTB's stop
        await on_stop(app)
        await app.shutdown()
        await on_shutdown(app)


def build_application(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> NotebookApplication:
    db = db or Database(settings.database_url, background_checkpoints=True)
    db.set_phone_key(operations.resolve_phone_key(settings, create=True))
    notebook = Notebook(
        settings=settings,
        db=db,
        i18n=I18n(default_locale=settings.default_locale),
        clock=clock,
        offload=Offload(in_process=settings.offload_processes),
    )
    queue = DurableUpdateQueue(
        notebook.db, clock, owner=settings.instance_name, stopping=notebook.stopping
    )
    # python-telegram-bot's ExtBot; its calls in an update wait for the commit (delivery/answers.py)
    bot = NotebookBot(
        settings.token(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.file_url,
        request=AiohttpRequest(),  # lighter than PTB's default httpx (delivery/telegram_http.py)
        get_updates_request=InboxRequest(queue, connection_pool_size=1),  # durable intake
        defaults=Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz),
        # Telegram's overall and per-group limits; a 429 holds back its own chat only, and is
        # waited out by the caller (delivery/rate_limit.py).
        rate_limiter=ChatRateLimiter(
            overall_per_second=settings.rate_limit_overall_per_second,
            group_per_minute=settings.rate_limit_group_per_minute,
        ),
    )
    builder = ApplicationBuilder()
    if settings.webhook_url:
        # The webhook is our own HTTP server (bot/health.py), not python-telegram-bot's Updater
        # and its tornado server: one server for the webhook, /healthz, /metrics and the feeds.
        builder = builder.updater(None)
    app = (
        builder.bot(bot)
        .update_queue(queue)
        .concurrent_updates(PerChatUpdates())  # a chat waiting on a heavy read holds up no other
        .application_class(NotebookApplication, kwargs={"notebook": notebook})
        .context_types(ContextTypes(context=NotebookContext))
        .post_init(on_startup)
        .post_stop(on_stop)
        .post_shutdown(on_shutdown)
        .build()
    )
    assert isinstance(app, NotebookApplication)
    notebook.wake_dispatcher = partial(dispatch.kick, app)  # runtime/effects.py: kick
    notifications.register(
        notebook.renderers, reminder_after=timedelta(days=settings.followup_reminder_days)
    )
    reminders.register(notebook.renderers)
    card_delivery.register(notebook.renderers)  # the staff card: posted, then edited in place
    escalations.register(notebook.renderers)  # pages, missed promises, 上报, late transfers
    digest.register(  # the weekly digest (outbox)
        notebook.renderers, settings.digest_policy, notebook.db, notebook.offload
    )
    topics.register(notebook.renderers)
    topic_staff.register(notebook.renderers)
    meetings.register(notebook.renderers)
    campaigns.register(notebook.renderers)
    household.register(notebook.renderers)  # a resident told their household is verified/undone
    household_checks.register(notebook.renderers)  # a resident asks their worker for a check
    duty.register(notebook.renderers)
    staff_admin.register(notebook.renderers)
    staff_removal.register(notebook.renderers)
    # what runs after a message a handler sent has gone out (delivery/answers.py: `then`)
    app.answers.hooks.update(common.AFTER_SEND)
    app.answers.hooks.update(card_steps.AFTER_SEND)
    flows.register(*feature_flows())
    for group, handler in feature_handlers():
        app.add_handler(handler, group=group)
    app.add_error_handler(errors.on_error)
    return app
