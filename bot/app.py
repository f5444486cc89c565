"""The application factory: the one place that wires settings, database, i18n and handlers.

`python -m bot` and the tests build the bot with `build_application`, so tests run exactly what
production runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    ContextTypes,
    Defaults,
    TypeHandler,
)

from bot import jobs
from bot.context import CURRENT_SCOPE, Notebook, NotebookContext, UpdateScope
from bot.i18n import I18n
from bot.settings import Settings
from handlers import (
    campaigns,
    council,
    duty,
    errors,
    flows,
    help,
    invites,
    language,
    meetings,
    notifications,
    reminders,
    start,
)
from handlers.common import load_person
from storage import migrate
from storage.db import Database
from storage.types import utcnow


class NotebookApplication(Application):
    """PTB's Application, plus the notebook's services and one DB session per update."""

    def __init__(self, *, notebook: Notebook, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notebook = notebook

    async def process_update(self, update: object) -> None:
        # The single place a session is opened for an update: everything the handlers write
        # commits together when the update is done (or rolls back in the error handler).
        async with self.notebook.db.session() as session:
            token = CURRENT_SCOPE.set(UpdateScope(session=session))
            try:
                await super().process_update(update)
            finally:
                CURRENT_SCOPE.reset(token)


def feature_handlers() -> list[tuple[int, BaseHandler[Any, Any, Any]]]:
    """Every handler, in one commented list: (group, handler)."""
    return [
        # -2: the sender's conversation state (chat_state), so a waiting flow gets their answer.
        (-2, TypeHandler(Update, flows.load_chat_state)),
        # -1: cross-cutting: know who is writing and in which language, before any feature.
        (-1, TypeHandler(Update, load_person)),
        # 0: features, one module each.
        *((0, h) for h in start.HANDLERS),  # /start, deep links, choosing a community
        *((0, h) for h in help.HANDLERS),  # /help
        *((0, h) for h in language.HANDLERS),  # /language
        *((0, h) for h in invites.HANDLERS),  # /invite (secretary)
        *((0, h) for h in flows.HANDLERS),  # the Cancel button of any typed-answer flow
        *((0, h) for h in council.HANDLERS),  # /propose, /topics, support, grading (小院议事堂)
        *((0, h) for h in meetings.HANDLERS),  # /meeting: schedule, attendance, minutes, decisions
        *((0, h) for h in campaigns.HANDLERS),  # /campaign (staff), /vote: consent campaigns
        *((0, h) for h in duty.HANDLERS),  # /duty roster (百通岗), /desk: a visit at the desk
    ]


def bot_commands(i18n: I18n, settings: Settings, locale: str) -> list[BotCommand]:
    tr = i18n.translator(locale, settings.tz)
    _ = tr.gettext
    return [
        BotCommand("start", _("Start, or join a community")),
        BotCommand("help", _("What I can do for you")),
        BotCommand("language", _("Choose a language")),
        BotCommand("propose", _("Bring a matter to the courtyard council")),
        BotCommand("topics", _("The courtyard council's topics")),
        BotCommand("vote", _("Your household's vote on a building project")),
        BotCommand("duty", _("Who is at the service desk")),
    ]


async def on_startup(app: Application) -> None:
    """post_init: bring the database schema up to date and tell Telegram our commands."""
    assert isinstance(app, NotebookApplication)
    nb = app.notebook
    await migrate.upgrade(nb.db)
    nb.bot_username = app.bot.username
    await app.bot.set_my_commands(bot_commands(nb.i18n, nb.settings, nb.settings.default_locale))
    await app.bot.set_my_commands(bot_commands(nb.i18n, nb.settings, "en"), language_code="en")
    await app.bot.set_my_commands(bot_commands(nb.i18n, nb.settings, "zh_Hans"), language_code="zh")
    jobs.schedule(app)


async def on_shutdown(app: Application) -> None:
    assert isinstance(app, NotebookApplication)
    await app.notebook.db.dispose()


def build_application(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> NotebookApplication:
    notebook = Notebook(
        settings=settings,
        db=db or Database(settings.database_url),
        i18n=I18n(default_locale=settings.default_locale),
        clock=clock,
    )
    app = (
        ApplicationBuilder()
        .application_class(NotebookApplication, kwargs={"notebook": notebook})
        .token(settings.token())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz))
        .rate_limiter(
            # Telegram's overall and per-group limits; one retry after a 429 so a direct
            # reply survives a burst (the outbox reschedules on its own, see bot/dispatch.py).
            AIORateLimiter(
                overall_max_rate=settings.rate_limit_overall_per_second,
                overall_time_period=1,
                group_max_rate=settings.rate_limit_group_per_minute,
                group_time_period=60,
                max_retries=1,
            )
        )
        .context_types(ContextTypes(context=NotebookContext))
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
        .build()
    )
    assert isinstance(app, NotebookApplication)
    notifications.register(notebook.renderers)
    reminders.register(notebook.renderers)
    council.register(notebook.renderers)
    meetings.register(notebook.renderers)
    campaigns.register(notebook.renderers)
    duty.register(notebook.renderers)
    for group, handler in feature_handlers():
        app.add_handler(handler, group=group)
    app.add_error_handler(errors.on_error)
    return app
