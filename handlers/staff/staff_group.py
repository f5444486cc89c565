"""/bind: the secretary makes a Telegram group the community's staff group.

The bot is added to the group and the secretary sends /bind there; privacy mode stays on, since
a command always reaches the bot. Every open card (names, descriptions, buildings) is posted
where the staff group is, so only the secretary binds or moves it:

- a worker's /bind is a request: nothing changes, and the secretary is asked in their private
  chat (Confirm / Refuse, checked again on the press: the request must be theirs to answer,
  pending and at most `REQUEST_VALID` old). The request waits in `chat_state` under the group
  and the worker (flow `bind_request`), so it survives a restart and reaches any instance;
- a public group (one with a @username: anyone can open it) is refused, whoever asks;
- when the group moves, the old group is told it gets no more cards, and the secretaries are
  told in private (whoever did it).

A group serves one community; binding another group moves the cards there. When Telegram turns
the group into a supergroup (a new chat id), the binding follows it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from handlers.shared.commands import refresh_group_menu
from handlers.shared.common import escape, is_private
from handlers.shared.offices import SECRETARY, community_as
from handlers.staff.cards import community_translator
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator, locale_for_language_code
from storage.chat_state import clear_state, get_state, set_state
from storage.escalation import secretaries
from storage.models import STAFF_ROLES, Community, Person, Role
from storage.people import current_membership
from storage.staff import BindOutcome, bind_staff_group, community_of_group, follow_group_migration

REQUEST_FLOW = "bind_request"
REQUEST_VALID = timedelta(hours=24)
# <group chat id> (negative: a word, not an id), <the worker's Telegram id>
CONFIRM = Button("bind.ok", str, int)
REFUSE = Button("bind.no", str, int)


def _reader(context: NotebookContext, person: Person, community: Community) -> Translator:
    """A secretary's private chat reads their own language, in the community's time zone."""
    locale = person.locale or locale_for_language_code(
        person.telegram_language_code, community.default_locale
    )
    return context.notebook.i18n.translator(locale, ZoneInfo(community.timezone))


async def bind(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    chat = update.effective_chat
    assert message is not None and chat is not None
    _ = context.tr.gettext
    if is_private(update):
        await message.reply_text(
            _(
                "Add me to your staff group, then send /bind in that group. "
                "New issues will appear there as cards."
            )
        )
        return
    if chat.username:
        await message.reply_text(
            _(
                "This group is public: anyone with its link can read it, and the cards show "
                "residents' names and problems. Please make a private group the staff group."
            )
        )
        return
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        await message.reply_text(
            _("Sorry, only the community's secretary or workers can make this the staff group.")
        )
        return
    member, community = current
    if Role(member.role) is Role.SECRETARY:
        text = await _bind(context, community, chat.id)
        await message.reply_text(text)
        return
    await _ask_secretary(context, community, chat.id, chat.title or "")


async def _ask_secretary(
    context: NotebookContext, community: Community, chat_id: int, title: str
) -> None:
    """A worker's /bind: the secretary decides; until then nothing changes."""
    _ = context.tr.gettext
    name = escape(community.name)
    holder = await community_of_group(context.session, chat_id)
    if holder is not None:  # nothing to ask: say what the group already is
        text = await _bind(context, community, chat_id)
        await context.bot.send_message(chat_id, text)
        return
    assert community.id is not None
    worker_id = context.person.telegram_user_id or 0
    now = context.now()
    asked = [p for p in await secretaries(context.session, community.id) if p.telegram_user_id]
    if not asked:
        await context.bot.send_message(
            chat_id,
            _(
                "Only the secretary of {community} can make this the staff group, and "
                "{community} has no secretary yet. Nothing was changed."
            ).format(community=name),
        )
        return
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=worker_id,
        flow=REQUEST_FLOW,
        step="asked",
        data={"community_id": community.id, "title": title, "asked_at": now.isoformat()},
        now=now,
    )
    for secretary in asked:
        tr = _reader(context, secretary, community)
        text = tr.gettext(
            "{worker} asks to make the group «{title}» the staff group of {community}. Every "
            "open issue's card (residents' names and problems) would be posted there."
        ).format(worker=escape(context.person.full_name), title=escape(title), community=name)
        if community.staff_chat_id is not None:
            text += "\n" + tr.gettext("The present staff group would get no more cards.")
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        tr.gettext("Confirm"), callback_data=CONFIRM.data(str(chat_id), worker_id)
                    ),
                    InlineKeyboardButton(
                        tr.gettext("Refuse"), callback_data=REFUSE.data(str(chat_id), worker_id)
                    ),
                ]
            ]
        )
        assert secretary.telegram_user_id is not None
        await context.bot.send_message(secretary.telegram_user_id, text, reply_markup=markup)
    await context.bot.send_message(
        chat_id,
        _(
            "I have asked the secretary to confirm this group as the staff group of "
            "{community}. Nothing changes until they do."
        ).format(community=name),
    )


async def _bind(context: NotebookContext, community: Community, chat_id: int) -> str:
    """Bind (the secretary decided): what to say in the group; the old group and the
    secretaries are told of a move."""
    _ = community_translator(context.notebook, community).gettext
    old = community.staff_chat_id
    result = await bind_staff_group(
        context.session, community=community, chat_id=chat_id, now=context.now()
    )
    name = escape(community.name)
    if result.outcome is BindOutcome.TAKEN:
        assert result.holder is not None
        return _(
            "This group is already the staff group of {other}. "
            "Please use a separate group for {community}."
        ).format(other=escape(result.holder.name), community=name)
    if result.outcome is BindOutcome.ALREADY:
        return _("This group already is the staff group of {community}.").format(community=name)
    assert community.id is not None
    if result.outcome is BindOutcome.MOVED and old is not None:
        await context.bot.send_message(
            old,
            _(
                "The staff group of {community} has moved to another group. This group gets "
                "no more cards, and the buttons of the cards here no longer work."
            ).format(community=name),
        )
    for secretary in await secretaries(context.session, community.id):
        if secretary.telegram_user_id is None or secretary.id == context.person.id:
            continue
        tr = _reader(context, secretary, community)
        await context.bot.send_message(
            secretary.telegram_user_id,
            tr.gettext("{name} made a new group the staff group of {community}.").format(
                name=escape(context.person.full_name), community=name
            ),
        )
    if result.outcome is BindOutcome.MOVED:
        text = _(
            "The staff group of {community} is now this group. "
            "Open issues get their cards here; the old group gets no more updates."
        )
    else:
        text = _(
            "This is now the staff group of {community}. Every new issue will appear here as "
            "a card. Act with its buttons; when I ask a question, reply to my message."
        )
    await refresh_group_menu(context, chat_id, community.default_locale)
    return text.format(community=name)


def _pending(data: dict[str, object], community: Community, now: datetime) -> bool:
    asked = data.get("asked_at")
    if data.get("community_id") != community.id or not isinstance(asked, str):
        return False
    try:
        return timedelta(0) <= now - datetime.fromisoformat(asked) <= REQUEST_VALID
    except ValueError:
        return False


async def on_answer(update: Update, context: NotebookContext) -> None:
    """The secretary confirms or refuses a worker's request (checked again here)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    confirm = CONFIRM.parse(query.data) is not None
    group, worker_id = (CONFIRM if confirm else REFUSE).values(update)
    community = await community_as(context, SECRETARY)
    if community is None or not re.fullmatch(r"-\d{1,15}", group):
        await query.answer(_("Only the community secretary can do this."), show_alert=True)
        return
    chat_id = int(group)
    state = await get_state(context.session, chat_id=chat_id, user_id=worker_id)
    if (
        state is None
        or state.flow != REQUEST_FLOW
        or not _pending(state.data, community, context.now())
    ):
        await query.answer(_("This request was answered already or has expired."), show_alert=True)
        return
    await clear_state(context.session, chat_id=chat_id, user_id=worker_id)
    title = escape(str(state.data.get("title") or ""))
    await query.answer()
    if not confirm:
        group_ = community_translator(context.notebook, community).gettext
        await context.bot.send_message(
            chat_id,
            group_("The secretary did not make this group the staff group. Nothing changed."),
        )
        await query.edit_message_text(
            _("Refused: «{title}» is not the staff group.").format(title=title)
        )
        return
    await context.bot.send_message(chat_id, await _bind(context, community, chat_id))
    await query.edit_message_text(
        _("Confirmed: «{title}» is the staff group of {community} now.").format(
            title=title, community=escape(community.name)
        )
    )


async def group_migrated(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id is None:
        return
    await follow_group_migration(
        context.session, old_chat_id=message.chat.id, new_chat_id=message.migrate_to_chat_id
    )


HANDLERS = [
    CommandHandler("bind", bind),
    MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated),
    CONFIRM.handler(on_answer),
    REFUSE.handler(on_answer),
]
