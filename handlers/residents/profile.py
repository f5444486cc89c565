"""Where a resident lives and how to reach them: the questions after joining, and /profile.

After someone joins as a resident the bot asks, one at a time and each skippable: building,
unit (only when the building has units), language, and phone number. The phone number is taken
only from Telegram's "share contact" button, never typed: a typed number gets a friendly hint.
The questions still to ask live in `chat_state` (flow "profile"), so a restart loses nothing.
Whatever the person wrote before joining waits in `pending_report` and is continued after.
"""

from __future__ import annotations

from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import CommandHandler

from handlers.residents import report
from handlers.residents.menu import menu_keyboard
from handlers.shared.common import escape
from handlers.shared.fallback import answer_stale
from handlers.shared.flows import current_state
from handlers.shared.issue_texts import home_text
from handlers.shared.labels import LANGUAGE_NAMES
from handlers.shared.members import private_only
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.settings import SUPPORTED_LOCALES
from storage.chat_state import FlowState, clear_state, get_state, set_state
from storage.households import (
    VIA_CODE,
    HouseholdError,
    Redeemed,
    Refusal,
    redeem_code,
    verified_home,
)
from storage.models import STAFF_ROLES, Membership, Person, Role, VerifiedHome
from storage.people import current_membership, set_locale
from storage.reports import FLOW as REPORT_FLOW
from storage.reports import Step as ReportStep
from storage.residents import NotInCommunity, buildings_of, set_home, set_phone, units_of

FLOW = "profile"
BUILDING, UNIT, LANGUAGE, PHONE = "building", "unit", "language", "phone"
JOINING_STEPS = [BUILDING, UNIT, LANGUAGE, PHONE]
CHANGE = {"b": [BUILDING, UNIT], "l": [LANGUAGE], "p": [PHONE]}
SKIP = Button("pf.skip")  # the open question
CHOOSE_BUILDING = Button("pf.building", int)
CHOOSE_UNIT = Button("pf.unit", int)
CHOOSE_LANGUAGE = Button("pf.lang", tuple(SUPPORTED_LOCALES))
EDIT = Button("pf.edit", tuple(CHANGE))  # /profile: what to change
VERIFY_HOME = Button("pf.home")  # /profile: verify my household (handlers/residents/household.py)


def _user_id(context: NotebookContext, chat_id: int) -> int:
    return context.person.telegram_user_id or chat_id


async def _member(context: NotebookContext) -> Membership | None:
    current = await current_membership(context.session, context.person)
    return current[0] if current else None


# --- starting the questions ----------------------------------------------------------------------


async def after_join(
    context: NotebookContext, chat_id: int, member: Membership, *, new: bool
) -> None:
    """Called by /start once someone joined: ask about their home (residents who just joined),
    then continue whatever they wrote before joining."""
    state = await get_state(context.session, chat_id=chat_id, user_id=_user_id(context, chat_id))
    pending = (
        state.data
        if state and state.flow == REPORT_FLOW and state.step == ReportStep.JOIN
        else None
    )
    if new and Role(member.role) not in STAFF_ROLES:
        steps = list(JOINING_STEPS)
        if member.building_id is not None:  # a building's poster link chose it already
            steps.remove(BUILDING)
        await ask_next(context, chat_id, {"steps": steps, "pending_report": pending})
    elif pending is not None:
        await report.resume_after_join(context, chat_id, pending, member)


async def ask_next(
    context: NotebookContext, chat_id: int, data: dict[str, Any], *, edit: Message | None = None
) -> None:
    """Ask the first remaining question that applies; when none is left, finish."""
    member = await _member(context)
    steps: list[str] = list(data.get("steps", []))
    while steps and member is not None:
        step = steps.pop(0)
        asked = await _question(context, member, step)
        if asked is None:
            continue  # e.g. no units in this building
        text, markup = asked
        data = {**data, "steps": steps}
        if step == PHONE:
            data["keyboard"] = True
        await set_state(
            context.session,
            chat_id=chat_id,
            user_id=_user_id(context, chat_id),
            flow=FLOW,
            step=step,
            data=data,
            now=context.now(),
        )
        if edit is not None and isinstance(markup, InlineKeyboardMarkup):
            await edit.edit_text(text, reply_markup=markup)
        else:
            if edit is not None:  # the question answered keeps no buttons
                await edit.edit_reply_markup(reply_markup=None)
            await context.bot.send_message(chat_id, text, reply_markup=markup)
        return
    await _finish(context, chat_id, data, member, edit=edit)


async def _question(
    context: NotebookContext, member: Membership, step: str
) -> tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup] | None:
    _ = context.tr.gettext
    skip = [InlineKeyboardButton(_("Skip"), callback_data=SKIP.data())]
    if step == BUILDING:
        buildings = await buildings_of(context.session, member.community_id)
        if not buildings:
            return None
        buttons = [
            InlineKeyboardButton(b.name, callback_data=CHOOSE_BUILDING.data(b.id or 0))
            for b in buildings[:90]
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        return _("Which building do you live in?"), InlineKeyboardMarkup([*rows, skip])
    if step == UNIT:
        units = await units_of(context.session, member.building_id) if member.building_id else []
        if not units:
            return None
        buttons = [
            InlineKeyboardButton(u.name, callback_data=CHOOSE_UNIT.data(u.id or 0))
            for u in units[:90]
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        return _("Which unit (entrance)?"), InlineKeyboardMarkup([*rows, skip])
    if step == LANGUAGE:
        buttons = [
            InlineKeyboardButton(LANGUAGE_NAMES[loc], callback_data=CHOOSE_LANGUAGE.data(loc))
            for loc in SUPPORTED_LOCALES
        ]
        return _("Which language should I use?"), InlineKeyboardMarkup([buttons, skip])
    if step == PHONE:
        keyboard = ReplyKeyboardMarkup(
            [
                [KeyboardButton(_("📱 Share my phone number"), request_contact=True)],
                [KeyboardButton(_("Skip"))],
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        return (
            _(
                "May the community call you when needed? Press the button below to share your "
                "phone number, or Skip."
            ),
            keyboard,
        )
    return None


async def _finish(
    context: NotebookContext,
    chat_id: int,
    data: dict[str, Any],
    member: Membership | None,
    *,
    edit: Message | None,
) -> None:
    _ = context.tr.gettext
    await clear_state(context.session, chat_id=chat_id, user_id=_user_id(context, chat_id))
    text = _(
        "All set. Whenever something is wrong, just write to me, send a photo or a voice message."
    )
    if edit is not None:  # the last question answered: its buttons go
        await edit.edit_reply_markup(reply_markup=None)
    # the menu under the chat (in place of the phone question's keyboard, if it was shown)
    await context.bot.send_message(chat_id, text, reply_markup=menu_keyboard(context.tr))
    pending = data.get("pending_report")
    if pending and member is not None:
        await report.resume_after_join(context, chat_id, pending, member)


# --- answers -------------------------------------------------------------------------------------


async def _opened(
    update: Update, context: NotebookContext, step: str | None
) -> tuple[Membership, FlowState] | None:
    """The member and the open question a press answers (`step`, or any for Skip); None
    (answered) when they have not joined or the question is not the one open."""
    query = update.callback_query
    assert query is not None
    member = await _member(context)
    if member is None:
        await query.answer(
            context.tr.gettext("Please send /start to join your community first."),
            show_alert=True,
        )
        return None
    chat_id = _chat_id(update, context)
    state = await get_state(context.session, chat_id=chat_id, user_id=_user_id(context, chat_id))
    if state is None or state.flow != FLOW or (step is not None and state.step != step):
        await answer_stale(query, context)
        return None
    return member, state


def _chat_id(update: Update, context: NotebookContext) -> int:
    query = update.callback_query
    assert query is not None
    return query.message.chat.id if query.message else _user_id(context, 0)


async def _ask_after(update: Update, context: NotebookContext, data: dict[str, Any]) -> None:
    query = update.callback_query
    assert query is not None
    message = query.message if isinstance(query.message, Message) else None
    await query.answer()
    await ask_next(context, _chat_id(update, context), data, edit=message)


async def on_edit(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (what,) = EDIT.values(update)
    if await _member(context) is None:
        await query.answer(
            context.tr.gettext("Please send /start to join your community first."),
            show_alert=True,
        )
        return
    await _ask_after(update, context, {"steps": list(CHANGE[what])})


async def on_skip(update: Update, context: NotebookContext) -> None:
    opened = await _opened(update, context, None)
    if opened is not None:
        await _ask_after(update, context, dict(opened[1].data))


async def on_building(update: Update, context: NotebookContext) -> None:
    (building_id,) = CHOOSE_BUILDING.values(update)
    await _set_home(update, context, BUILDING, building_id, None)


async def on_unit(update: Update, context: NotebookContext) -> None:
    (unit_id,) = CHOOSE_UNIT.values(update)
    await _set_home(update, context, UNIT, None, unit_id)


async def _set_home(
    update: Update,
    context: NotebookContext,
    step: str,
    building_id: int | None,
    unit_id: int | None,
) -> None:
    """A building (with no unit yet), or a unit of the member's building."""
    query = update.callback_query
    assert query is not None
    opened = await _opened(update, context, step)
    if opened is None:
        return
    member, state = opened
    try:
        await set_home(
            context.session,
            member,
            building_id=member.building_id if building_id is None else building_id,
            unit_id=unit_id,
        )
    except NotInCommunity:
        await answer_stale(query, context)
        return
    await _ask_after(update, context, dict(state.data))


async def on_language(update: Update, context: NotebookContext) -> None:
    (locale,) = CHOOSE_LANGUAGE.values(update)
    opened = await _opened(update, context, LANGUAGE)
    if opened is None:
        return
    await set_locale(context.session, context.person, locale)
    context.scope.translator = context.notebook.i18n.translator(locale, context.tr.tz)
    await _ask_after(update, context, dict(opened[1].data))


async def on_input(update: Update, context: NotebookContext) -> None:
    """A message while a question is open: the shared contact, "Skip", or a gentle hint."""
    state = current_state(context)
    assert state is not None  # the router calls a flow's answer only while it is open
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    data = dict(state.data)
    if state.step == PHONE:
        if message.contact is not None:
            if message.contact.user_id != context.person.telegram_user_id:
                await message.reply_text(
                    _("Please share your own number with the button below, or press Skip.")
                )
                return
            await set_phone(context.session, context.person, message.contact.phone_number)
            await ask_next(context, message.chat_id, data)
            return
        if message.text and message.text.strip() == _("Skip"):
            await ask_next(context, message.chat_id, data)
            return
        await message.reply_text(
            _(
                "To keep your number safe, please do not type it: press the button "
                "«📱 Share my phone number» below, or Skip."
            )
        )
        return
    await message.reply_text(_("Please choose with the buttons above, or press Skip."))


# --- a household code (printed by the community, typed or scanned) --------------------------------


async def redeem_home_code(
    context: NotebookContext, chat_id: int, typed: str
) -> Redeemed | Refusal:
    """Use a household code: the person becomes a verified member of its household (joining the
    community if needed) and is told so; on a refusal nothing is changed and the caller says
    why. A new member is then asked the rest of their details."""
    _ = context.tr.gettext
    try:
        async with context.session.begin_nested():  # a refused code changes nothing
            redeemed = await redeem_code(
                context.session, typed=typed, person=context.person, now=context.now()
            )
    except HouseholdError as refused:
        return refused.refusal
    home = await home_text(context.session, redeemed.home.building_id, redeemed.home.unit_id)
    await context.bot.send_message(
        chat_id,
        _(
            "Your household {home}, room {room}, is now verified in {community}. You can vote "
            "for it from your phone when the community asks."
        ).format(
            home=home, room=escape(redeemed.home.room), community=escape(redeemed.community.name)
        ),
    )
    if redeemed.joined:
        await after_join(context, chat_id, redeemed.membership, new=True)
    return redeemed


# --- /profile ------------------------------------------------------------------------------------


async def show_profile(update: Update, context: NotebookContext) -> None:
    if not await private_only(update, context):
        return
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    current = await current_membership(context.session, context.person)
    if current is None:
        await message.reply_text(_("Please send /start to join your community first."))
        return
    member, community = current
    home = await home_text(context.session, member.building_id, member.unit_id)
    not_given = _("not given")
    verified = await verified_home(
        context.session, person_id=member.person_id, community_id=member.community_id
    )
    locale = context.person.locale
    lines = [
        _("Your details in {community}:").format(community=escape(community.name)),
        _("Building: {home}").format(home=home or not_given),
        await _household_line(context, member, verified),
        _("Language: {language}").format(
            language=LANGUAGE_NAMES.get(locale or "", "") or LANGUAGE_NAMES[context.tr.locale]
        ),
        _("Phone: {phone}").format(phone=escape(context.person.phone) or not_given),
        _("What would you like to change?"),
    ]
    buttons = [
        InlineKeyboardButton(_("Building"), callback_data=EDIT.data("b")),
        InlineKeyboardButton(_("Language"), callback_data=EDIT.data("l")),
        InlineKeyboardButton(_("Phone"), callback_data=EDIT.data("p")),
    ]
    rows = [buttons]
    if verified is None and Role(member.role) not in STAFF_ROLES:
        rows.append(
            [InlineKeyboardButton(_("🏠 Verify my household"), callback_data=VERIFY_HOME.data())]
        )
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def _household_line(
    context: NotebookContext, member: Membership, verified: VerifiedHome | None
) -> str:
    """The household's verification: how and since when, or the room waiting for a check."""
    _ = context.tr.gettext
    tr = context.tr
    if verified is None:
        if member.room and Role(member.role) not in STAFF_ROLES:
            return _("Household: not verified yet; room {room} is waiting for a check").format(
                room=escape(member.room[:50])
            )
        return _("Household: not verified (a grid worker or a household code verifies it)")
    where = await home_text(context.session, verified.building_id, verified.unit_id)
    if verified.via == VIA_CODE:
        how = _("with a household code, {date}").format(date=tr.date(verified.verified_at))
    else:
        worker = (
            await context.session.get(Person, verified.verified_by_id)
            if verified.verified_by_id
            else None
        )
        how = _("checked by {worker}, {date}").format(
            worker=escape((worker.full_name if worker else "—")[:40]),
            date=tr.date(verified.verified_at),
        )
    return _("Verified household: {home}, room {room} ({how})").format(
        home=where, room=escape(verified.room), how=how
    )


HANDLERS = [
    CommandHandler("profile", show_profile),
    EDIT.handler(on_edit),
    SKIP.handler(on_skip),
    CHOOSE_BUILDING.handler(on_building),
    CHOOSE_UNIT.handler(on_unit),
    CHOOSE_LANGUAGE.handler(on_language),
]
