"""Verified households, from the staff side: a resident's request to be checked, confirming it,
and undoing a verification.

- **The request** (outbox kind `household_request`, storage/household_checks.py): a resident
  typed their room in /profile; the workers of their building (else the secretary) get it in
  their private chat with **✅ Confirm** (they checked it at the door, or know the family).
- **Confirm**: the resident becomes a verified member of that room of their building, and is
  told. The message then offers **↩ Undo**.
- **Undo** (from that message, or from a campaign's *Verify a household* screen, which lists
  the room's verified members): the worker types the reason; the verification is taken back,
  the undoing is recorded with who, when and why (`household_event`), a phone vote the person
  gave in an open campaign stops counting, and the resident is told.

Every press is checked on the server: only active staff of the resident's community.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.shared.fitting import short
from handlers.shared.flows import Flow, ask, cancel_markup, current_state, finish
from handlers.shared.issue_texts import home_text
from handlers.shared.members import Member, me_in, refuse
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import household_checks
from storage.households import HouseholdError, Refusal, verified_home
from storage.models import Membership, Outbox, Person, VerifiedHome
from storage.people import membership

CONFIRM = Button("hh.ok", int)  # the request (its outbox row: who, where, which room)
UNDO = Button("hh.undo", int, int)  # community id, the resident's person id
FLOW = "household_undo"
WAIT = timedelta(minutes=30)


async def _staff_and_resident(
    context: NotebookContext, community_id: int, person_id: int
) -> tuple[Member, Membership, Person] | None:
    worker = await me_in(context, community_id)
    if worker is None or not worker.is_staff or not worker.membership.active:
        return None
    resident = await membership(context.session, person_id=person_id, community_id=community_id)
    person = await context.session.get(Person, person_id)
    if resident is None or person is None:
        return None
    return worker, resident, person


def undo_row(tr: Translator, home: VerifiedHome, name: str) -> list[InlineKeyboardButton]:
    label = tr.gettext("↩ Undo: {name}").format(name=name[:30])
    return [InlineKeyboardButton(label, callback_data=UNDO.data(home.community_id, home.person_id))]


# --- the request -------------------------------------------------------------------------------


def _asked(row: Outbox) -> tuple[int, int, str]:
    """Who asked, in which community, for which room (a request's payload)."""
    payload = row.payload
    return int(payload["person_id"]), int(payload["community_id"]), str(payload["room"])


async def render_request(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    person_id, community_id, room = _asked(row)
    resident = await membership(session, person_id=person_id, community_id=community_id)
    person = await session.get(Person, person_id)
    if resident is None or person is None or not resident.active or resident.room != room:
        return None  # gone, or asked for another room since (that request says so)
    if await verified_home(session, person_id=person_id, community_id=community_id):
        return None  # somebody confirmed it meanwhile
    assert row.id is not None
    _ = tr.gettext
    text = _(
        "🏠 {name} asks to be verified as a member of the household {home}, room {room}. "
        "Please check it with them (at the door, or from the household list), then confirm. "
        "Only a verified household votes from the phone."
    ).format(
        name=short(person.full_name, 40),
        home=await home_text(session, resident.building_id, resident.unit_id),
        room=short(resident.room, 50),
    )
    button = InlineKeyboardButton(
        _("✅ Confirm: room {room}").format(room=resident.room[:20]),
        callback_data=CONFIRM.data(row.id),
    )
    return Rendered(text, InlineKeyboardMarkup([[button]]))


async def on_confirm(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    (request_id,) = CONFIRM.values(update)
    row = await context.session.get(Outbox, request_id)
    if row is None or row.kind != household_checks.HOUSEHOLD_REQUEST:
        await refuse(query, context)
        return
    person_id, community_id, room = _asked(row)
    found = await _staff_and_resident(context, community_id, person_id)
    if found is None:
        await refuse(query, context, _("Only community staff can do this."))
        return
    worker, resident, person = found
    if resident.building_id is None or resident.room != room:
        await refuse(
            query,
            context,
            _("{name} has since asked about another room: please use the newer request.").format(
                name=person.full_name[:40]
            ),
        )
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            home = await household_checks.confirm(
                context.session,
                resident,
                worker=worker.membership,
                building_id=resident.building_id,
                unit_id=resident.unit_id,
                room=room,
                now=context.now(),
            )
    except HouseholdError as refused:
        text = (
            _("{name} is staff: staff do not vote as residents.")
            if refused.refusal is Refusal.STAFF
            else _("{name} is no longer a resident here.")
        )
        await refuse(query, context, text.format(name=person.full_name[:40]))
        return
    await query.answer()
    await query.edit_message_text(
        _("✅ {name} is now a verified member of room {room}. They have been told.").format(
            name=short(person.full_name, 40), room=short(home.room, 20)
        ),
        reply_markup=InlineKeyboardMarkup([undo_row(context.tr, home, person.full_name)]),
    )


# --- undoing -----------------------------------------------------------------------------------


async def on_undo(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    community_id, person_id = UNDO.values(update)
    found = await _staff_and_resident(context, community_id, person_id)
    if found is None:
        await refuse(query, context, _("Only community staff can do this."))
        return
    _worker, _resident, person = found
    home = await verified_home(context.session, person_id=person_id, community_id=community_id)
    if home is None:
        await refuse(
            query,
            context,
            _("{name}'s household is not verified.").format(name=person.full_name[:40]),
        )
        return
    await query.answer()
    await ask(
        context,
        query.message.chat.id,
        flow=FLOW,
        step="reason",
        data={"community": community_id, "person": person_id, "room": home.room},
    )
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "Undo the verification of {name} (room {room})? Their phone vote in a vote still "
            "open will stop counting, and they will be told. Please type the reason (it is "
            "recorded), or press Cancel."
        ).format(name=short(person.full_name, 40), room=short(home.room, 20)),
        reply_markup=cancel_markup(context.tr),
    )


async def on_reason(update: Update, context: NotebookContext) -> None:
    state = current_state(context)
    assert state is not None
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    reason = (message.text or "").strip()
    if not reason:
        await message.reply_text(
            _("Please type the reason, or press Cancel."), reply_markup=cancel_markup(context.tr)
        )
        return
    await finish(context, message.chat_id)
    community_id, person_id = int(state.data["community"]), int(state.data["person"])
    found = await _staff_and_resident(context, community_id, person_id)
    if found is None:
        await message.reply_text(_("Only community staff can do this."))
        return
    worker, resident, person = found
    home = await verified_home(context.session, person_id=person_id, community_id=community_id)
    if home is None or home.room != state.data.get("room"):
        await message.reply_text(
            _("{name}'s household changed meanwhile: nothing was undone.").format(
                name=short(person.full_name, 40)
            )
        )
        return
    try:
        async with context.session.begin_nested():
            await household_checks.undo(
                context.session,
                resident,
                worker=worker.membership,
                reason=reason,
                now=context.now(),
            )
    except HouseholdError:
        await message.reply_text(_("Only community staff can do this."))
        return
    await message.reply_text(
        _(
            "↩ {name} is no longer a verified member of room {room}. The undoing is recorded "
            "with your reason, and they have been told."
        ).format(name=short(person.full_name, 40), room=short(home.room, 20))
    )


def register(renderers: Renderers) -> None:
    renderers.register(household_checks.HOUSEHOLD_REQUEST, render_request)


FLOWS = [Flow(FLOW, on_reason, max_age=WAIT, typed=True)]

HANDLERS = [CONFIRM.handler(on_confirm), UNDO.handler(on_undo)]
