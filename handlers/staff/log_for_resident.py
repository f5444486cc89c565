"""/log: a worker notes an issue a resident raised by phone, at the desk or in person.

The same draft and questions as a resident's own report (report_draft.py), with three in front:
how the resident reached the community, who they are, their building; the draft carries
channel / reporter / logged_by. This module is the worker's side (it belongs with handlers/staff/
by who uses it); the typed answers about the resident are in report_draft.py, since the one
private-message router reaches every report draft through report.py.

The search for the resident shows each one's phone as its last four digits; the whole number
is in an alert on a press of "📞 Show", and each such look is recorded (`contact_look`), as the
issue card's contact button records its looks in the issue's history.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from handlers.residents.report_draft import (
    BUILDING,
    CHANNEL,
    NO_BUILDING,
    NO_PHONE,
    RESIDENT,
    SHOW_PHONE,
    UNREGISTERED,
    Pressed,
    advance,
    answered,
    open_draft,
)
from handlers.shared.fallback import answer_stale
from handlers.shared.offices import private_command_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage.models import STAFF_ROLES, Building, Membership, Person, Role
from storage.people import membership
from storage.reports import ReportDraft
from storage.residents import LOOK_VIA_LOG, record_phone_look


async def log_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, STAFF_ROLES, _("Only community staff can log issues for residents.")
    )
    if asked is None:
        return
    message, community = asked
    draft = ReportDraft(community_id=community.id, channel=None, logged_by_id=context.person.id)
    await advance(context, message.chat_id, draft)


async def _logged_draft(update: Update, context: NotebookContext, button: Button) -> Pressed | None:
    """The open /log draft a press of `button` answers (its token is the first value)."""
    pressed = await open_draft(update, context, button.values(update)[0])
    if pressed is not None and not pressed.draft.on_behalf:  # a resident's own report
        query = update.callback_query
        assert query is not None
        await answer_stale(query, context)
        return None
    return pressed


async def on_channel(update: Update, context: NotebookContext) -> None:
    pressed = await _logged_draft(update, context, CHANNEL)
    if pressed is not None:
        pressed.draft.channel = CHANNEL.values(update)[1]
        await answered(update, context, pressed)


async def on_unregistered(update: Update, context: NotebookContext) -> None:
    pressed = await _logged_draft(update, context, UNREGISTERED)
    if pressed is not None:
        pressed.draft.who, pressed.draft.reporter_id = "offline", None
        await answered(update, context, pressed)


async def on_no_phone(update: Update, context: NotebookContext) -> None:
    pressed = await _logged_draft(update, context, NO_PHONE)
    if pressed is not None:
        pressed.draft.phone_asked = True
        await answered(update, context, pressed)


async def on_no_building(update: Update, context: NotebookContext) -> None:
    pressed = await _logged_draft(update, context, NO_BUILDING)
    if pressed is not None:
        pressed.draft.building_asked = True
        await answered(update, context, pressed)


async def on_building(update: Update, context: NotebookContext) -> None:
    pressed = await _logged_draft(update, context, BUILDING)
    if pressed is None:
        return
    query = update.callback_query
    assert query is not None
    draft = pressed.draft
    building = await context.session.get(Building, BUILDING.values(update)[1])
    if building is None or building.community_id != draft.community_id:
        await answer_stale(query, context)
        return
    draft.building_id, draft.building_asked = building.id, True
    await answered(update, context, pressed)


async def _found_resident(
    update: Update, context: NotebookContext, button: Button
) -> tuple[Pressed, Membership] | None:
    """The open /log draft and the community's resident a press of `button` names; None (the
    press answered as stale) for anyone else: staff, another community's resident, a forgery."""
    pressed = await _logged_draft(update, context, button)
    if pressed is None:
        return None
    query = update.callback_query
    assert query is not None and pressed.draft.community_id is not None
    member = await membership(
        context.session, person_id=button.values(update)[1], community_id=pressed.draft.community_id
    )
    if member is None or Role(member.role) in STAFF_ROLES or not member.active:
        await answer_stale(query, context)
        return None
    return pressed, member


async def on_show_phone(update: Update, context: NotebookContext) -> None:
    """A found resident's whole phone number, in an alert only the worker sees; the look is
    recorded, as the issue card's contact button records its looks."""
    found = await _found_resident(update, context, SHOW_PHONE)
    if found is None:
        return
    member = found[1]
    query = update.callback_query
    assert query is not None and context.person.id is not None
    _ = context.tr.gettext
    person = await context.session.get(Person, member.person_id)
    if person is None or not person.phone:
        await query.answer(_("No phone number is known for this resident."), show_alert=True)
        return
    await record_phone_look(
        context.session,
        community_id=member.community_id,
        person_id=member.person_id,
        actor_id=context.person.id,
        via=LOOK_VIA_LOG,
        now=context.now(),
    )
    text = _("{name}, phone {phone}").format(name=person.full_name[:60], phone=person.phone[:40])
    await query.answer(text[:200], show_alert=True)  # an alert: plain text, 200 characters


async def on_resident(update: Update, context: NotebookContext) -> None:
    found = await _found_resident(update, context, RESIDENT)
    if found is None:
        return
    pressed, member = found
    draft = pressed.draft
    draft.who, draft.reporter_id = "registered", member.person_id
    draft.building_id, draft.unit_id = member.building_id, member.unit_id
    await answered(update, context, pressed)


HANDLERS = [
    CommandHandler("log", log_command),
    CHANNEL.handler(on_channel),
    UNREGISTERED.handler(on_unregistered),
    NO_PHONE.handler(on_no_phone),
    NO_BUILDING.handler(on_no_building),
    BUILDING.handler(on_building),
    RESIDENT.handler(on_resident),
    SHOW_PHONE.handler(on_show_phone),
]
