"""/help: what the bot can do for this person, by their role."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape
from handlers.shared.labels import role_label
from runtime.context import NotebookContext
from storage.models import STAFF_ROLES, Role
from storage.people import current_membership


async def help_text(context: NotebookContext) -> str:
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
        ),
        "",
        _("Just write to me about any problem: I will note it and tell you who handles it."),
        _("/my: your issues and how they are going"),
        _("/profile: your building, language and phone"),
        _("/cancel: stop what we are doing"),
        _("/language: choose your language"),
        _("/propose: bring a matter to the courtyard council (小院议事堂)"),
        _("/topics: the council's topics; support your neighbours'"),
        _("/vote: your household's say on a building project (an elevator…)"),
        _("/duty: who is at the service desk (百通岗) now and this week"),
        _("/mydata: everything the notebook keeps about you"),
        _("/forget: delete your personal data"),
    ]
    if Role(member.role) in STAFF_ROLES:
        lines.append(_("/log: note an issue a resident raised by phone or in person"))
        lines.append(_("/poster: a printable poster with a QR code for a building"))
        lines.append(_("/invite: links for new workers and residents (secretary)"))
        lines.append(_("/todo: your open items, overdue first"))
        lines.append(_("/issue N: the card and the whole history of issue N"))
        lines.append(_("/bind: send it in your staff group to receive the issue cards there"))
        lines.append(_("/notebook: the notebook page for today or a week"))
        lines.append(_("/digest: how the community did, with the three rates"))
        lines.append(_("/export: spreadsheets and a printable notebook (secretary)"))
        lines.append(_("/meeting: courtyard council meetings, minutes and decisions"))
        lines.append(_("/campaign: consent votes: households, door-to-door votes, mediation"))
        lines.append(_("/desk: log a visit at the service desk"))
        lines.append(_("/calendar: meetings, desk shifts and due dates in your phone's calendar"))
        lines.append(_("/summary N: what open data shows of issue N (your words)"))
    if Role(member.role) is Role.SECRETARY:
        lines.append(_("/staff: a worker who left, or handing over the secretary role"))
    return "\n".join(lines)


async def show_help(update: Update, context: NotebookContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(await help_text(context))


HANDLERS = [CommandHandler("help", show_help)]
