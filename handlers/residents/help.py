"""/help: what the bot can do for this person, by their role. First the five things a person
of that role does most (a phone screen, no scrolling); everything else one tap away
("All commands…", which turns the same message into the whole list)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape
from handlers.shared.labels import role_label
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_
from storage.models import STAFF_ROLES, Role
from storage.people import current_membership

ALL = Button("help.all")
MOST_USED = 5

WRITE = N_("Just write to me about any problem: I will note it and tell you who handles it.")
RESIDENT = [
    WRITE,
    N_("/my: your issues and how they are going"),
    N_("/duty: who is at the service desk (百通岗) now and this week"),
    N_("/propose: bring a matter to the courtyard council (小院议事堂)"),
    N_("/profile: your building, language and phone"),
    N_("/vote: your household's say on a building project (an elevator…)"),
    N_("/topics: the council's topics; support your neighbours'"),
    N_("/cancel: stop what we are doing"),
    N_("/language: choose your language"),
    N_("/mydata: everything the notebook keeps about you"),
    N_("/forget: delete your personal data"),
]
WORKER = [
    N_("/todo: your open items, overdue first"),
    N_("/issue N: the card and the whole history of issue N"),
    N_("/log: note an issue a resident raised by phone or in person"),
    N_("/desk: log a visit at the service desk"),
    N_("/notebook: the notebook page for today or a week"),
    N_("/digest: how the community did, with the three rates"),
    N_("/meeting: courtyard council meetings, minutes and decisions"),
    N_("/campaign: consent votes: households, door-to-door votes, mediation"),
    N_("/poster: a printable poster with a QR code for a building"),
    N_("/bind: send it in your staff group to receive the issue cards there"),
    N_("/calendar: meetings, desk shifts and due dates in your phone's calendar"),
    N_("/summary N: what open data shows of issue N (your words)"),
]
SECRETARY = [
    N_("/digest: how the community did, with the three rates"),
    N_("/todo: your open items, overdue first"),
    N_("/notebook: the notebook page for today or a week"),
    N_("/meeting: courtyard council meetings, minutes and decisions"),
    N_("/export: spreadsheets and a printable notebook (secretary)"),
    N_("/issue N: the card and the whole history of issue N"),
    N_("/log: note an issue a resident raised by phone or in person"),
    N_("/desk: log a visit at the service desk"),
    N_("/campaign: consent votes: households, door-to-door votes, mediation"),
    N_("/invite: links for new workers and residents (secretary)"),
    N_("/staff: a worker who left, or handing over the secretary role"),
    N_("/poster: a printable poster with a QR code for a building"),
    N_("/bind: send it in your staff group to receive the issue cards there"),
    N_("/calendar: meetings, desk shifts and due dates in your phone's calendar"),
    N_("/summary N: what open data shows of issue N (your words)"),
]


def commands_for(role: Role) -> list[str]:
    """Every line of the role's help, the most used first (msgids)."""
    if role is Role.SECRETARY:
        own = SECRETARY
    elif role in STAFF_ROLES:
        own = WORKER
    else:
        return RESIDENT
    rest = [line for line in RESIDENT if line not in own and line != WRITE]
    return own + rest


async def help_text(context: NotebookContext, *, full: bool = False) -> str:
    _ = context.tr.gettext
    current = await current_membership(context.session, context.person)
    if current is None:
        return _(
            "I am the community notebook. Open the link your community gave you, "
            "or send /start to choose your community."
        )
    member, community = current
    lines = [
        _("You are in {community} as {role}.").format(
            community=escape(community.name), role=role_label(context.tr, member.role)
        )
    ]
    every = commands_for(Role(member.role))
    lines += [_(line) for line in (every if full else every[:MOST_USED])]
    return "\n".join(lines)


async def help_markup(context: NotebookContext) -> InlineKeyboardMarkup | None:
    """The one button under the short help: everything else."""
    if await current_membership(context.session, context.person) is None:
        return None
    label = context.tr.gettext("All commands…")
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=ALL.data())]])


async def show_help(update: Update, context: NotebookContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        await help_text(context), reply_markup=await help_markup(context)
    )


async def on_all(update: Update, context: NotebookContext) -> None:
    """The whole list, in place of the short one (for the presser's own role: the help is in
    their private chat, and a press in a group shows nothing to anyone else)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(await help_text(context, full=True))


HANDLERS = [CommandHandler("help", show_help), ALL.handler(on_all)]
