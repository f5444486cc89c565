"""A visit at the service desk (百通岗): /desk (or "Log a desk visit" under /duty) lets the worker
on duty log what a visitor came for as an issue with channel "desk" (category, the visitor, matched
to a resident already on file, and what they came for), and mark it settled on the spot.

This is the desk's own short flow (flow "desk" in chat_state), not the general /log of the
resident side: it asks only what a desk visit needs.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.fitting import short
from handlers.shared.flows import (
    Flow,
    ask,
    cancel_markup,
    cancel_row,
    current_state,
    finish,
)
from handlers.shared.issue_texts import home_names
from handlers.shared.labels import category_label
from handlers.shared.members import me, me_in, private_only, refuse, staff_press_here, step_press
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import roster
from storage.categories import DESK_CATEGORIES
from storage.chat_state import FlowState
from storage.issue_lifecycle import IssueError
from storage.models import Issue, Person
from storage.residents import find_residents
from storage.roster import RosterError

TYPING_TIME = timedelta(hours=2)  # answers typed later than this are not taken as the answer
FLOW = "desk"
OTHER = "other"  # a matter outside the desk's services, still logged
VISIT = Button("duty.visit")  # log a desk visit
CATEGORY = Button("duty.category", (*DESK_CATEGORIES, OTHER))
SETTLED = Button("duty.settled", int)  # the issue the visit was logged as
WHO = Button("duty.who", int)  # the visitor is this resident on file (0: someone new)
MATCHES_SHOWN = 5


# --- a visit at the desk ------------------------------------------------------------------------


async def desk_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    if not await private_only(update, context):
        return
    await _start_visit(context, message.chat.id)


async def on_visit(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await staff_press_here(update, context, _("Only community staff can do this."))
    if pressed is None:
        return
    query = pressed[0]
    await query.answer()
    assert query.from_user is not None
    await _start_visit(context, query.from_user.id)  # typed answers: in the private chat


async def _start_visit(context: NotebookContext, chat_id: int) -> None:
    _ = context.tr.gettext
    member = await me(context)
    if member is None or not member.is_staff:
        await context.bot.send_message(chat_id, _("Only community staff can do this."))
        return
    await ask(context, chat_id, flow=FLOW, step="category", data={"community": member.community_id})
    buttons = [
        InlineKeyboardButton(category_label(context.tr, key), callback_data=CATEGORY.data(key))
        for key in [*DESK_CATEGORIES, OTHER]
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(cancel_row(context.tr))
    await context.bot.send_message(
        chat_id,
        _("A visit at the service desk. What did the resident come for?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_category(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await step_press(update, context, FLOW, "category")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (category,) = CATEGORY.values(update)
    await ask(
        context,
        chat_id,
        flow=FLOW,
        step="name",
        data={**state.data, "category": category},
    )
    await query.answer()
    await query.edit_message_text(
        _("{category}. What is the resident's name?").format(
            category=category_label(context.tr, category)
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_text(update: Update, context: NotebookContext) -> None:
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    _ = context.tr.gettext
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return
    if state.step == "name":
        data = {**state.data, "name": text[:200]}
        community_id = int(state.data["community"])
        buttons = []
        async with context.notebook.db.reading() as reader:  # off the loop: every chat goes on
            found = await find_residents(reader, community_id=community_id, query=text)
            for person, lives in found[:MATCHES_SHOWN]:
                home = await home_names(reader, lives.building_id, lives.unit_id)
                label = " · ".join(x for x in (person.full_name, home) if x)
                buttons.append(
                    [InlineKeyboardButton(short(label, 60), callback_data=WHO.data(person.id or 0))]
                )
        if not buttons:  # nobody on file by that name: a new visitor
            await _ask_what(context, message.chat.id, data)
            await message.reply_text(
                _("What did {name} come for? A few words are enough.").format(name=short(text, 60)),
                reply_markup=cancel_markup(context.tr),
            )
            return
        await ask(context, message.chat.id, flow=FLOW, step="who", data=data)
        buttons.append(
            [
                InlineKeyboardButton(
                    _("Someone new: {name}").format(name=short(text, 40)),
                    callback_data=WHO.data(0),
                )
            ]
        )
        buttons.append(cancel_row(context.tr))
        await message.reply_text(
            _(
                "Is {name} one of these residents on file? Their visit then joins their own issues."
            ).format(name=short(text, 60)),
            reply_markup=InlineKeyboardMarkup(buttons),
        )
        return
    if state.step != "what":
        await message.reply_text(_("Please choose with the buttons above."))
        return
    community_id = int(state.data["community"])
    member = await me_in(context, community_id)
    await finish(context, message.chat.id)
    if member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            issue = await log_visit(context, state, member.community_id, text)
    except RosterError:  # the resident picked is no longer one of this community's
        await message.reply_text(_("Only community staff can do this."))
        return
    assert issue.id is not None
    await message.reply_text(
        _("Logged as No. {number} (service desk), for {name}: {what}").format(
            number=issue.number, name=short(str(state.data["name"]), 60), what=short(text, 300)
        ),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Settled on the spot"), callback_data=SETTLED.data(issue.id))]]
        ),
    )


async def log_visit(
    context: NotebookContext, state: FlowState, community_id: int, text: str
) -> Issue:
    return await roster.log_desk_visit(
        context.session,
        community_id=community_id,
        worker_id=context.person.id or 0,
        resident_name=str(state.data["name"]),
        category=str(state.data["category"]),
        description=text,
        now=context.now(),
        limits=context.notebook.settings.time_limits,
        resident_id=int(state.data["resident"]) if state.data.get("resident") else None,
    )


async def _ask_what(context: NotebookContext, chat_id: int, data: dict[str, object]) -> None:
    await ask(context, chat_id, flow=FLOW, step="what", data=data)


async def on_who(update: Update, context: NotebookContext) -> None:
    """The visitor is a resident on file (or someone new): then what they came for."""
    _ = context.tr.gettext
    pressed = await step_press(update, context, FLOW, "who")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (person_id,) = WHO.values(update)
    name = str(state.data.get("name", ""))
    data = {**state.data, "resident": person_id or None}
    if person_id:
        person = await context.session.get(Person, person_id)
        if person is None:
            await refuse(query, context)
            return
        name = person.full_name
    await _ask_what(context, chat_id, data)
    await query.answer()
    await query.edit_message_text(
        _("What did {name} come for? A few words are enough.").format(name=short(name, 60)),
        reply_markup=cancel_markup(context.tr),
    )


async def on_settled(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (issue_id,) = SETTLED.values(update)
    issue = await context.session.get(Issue, issue_id)
    member = await me_in(context, issue.community_id) if issue else None
    if issue is None or member is None or not member.is_staff:
        await refuse(query, context, _("Only community staff can do this."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await roster.handled_at_desk(
                context.session,
                issue,
                worker_id=context.person.id or 0,
                note=_("Settled at the service desk."),
                now=context.now(),
            )
    except (RosterError, IssueError):  # not the one who logged it, or taken up meanwhile
        await refuse(query, context)
        return
    await query.answer()
    await query.edit_message_text(
        _("No. {number} was settled at the desk.").format(number=issue.number)
    )


# what this feature waits for in a private chat (handlers/shared/flows.py)
FLOWS = [Flow(FLOW, on_text, max_age=TYPING_TIME, typed=True)]

HANDLERS = [
    CommandHandler("desk", desk_command),
    VISIT.handler(on_visit),
    CATEGORY.handler(on_category),
    SETTLED.handler(on_settled),
    WHO.handler(on_who),
]
