"""A resident's verified household, from their side: starting it from /profile, and what they
are told when a worker confirms it or takes it back.

**From /profile** (its "🏠 Verify my household" button, for a resident not yet verified): the
bot asks for the household code from the slip the community handed out (the same as opening its
link), or else the room number. A code verifies at once; a room is only a claim: the workers of
the resident's building (the secretary, when none serves it) are asked to check it
(storage/household_checks.py: `request`), and the resident hears when they have. /profile shows
whether the household is verified, how and since when, or that a check was asked for.

**Notices** (outbox kinds `household_verified`, `household_undone`): the resident is told in
plain words, and after an undoing why, and that their phone vote in an open campaign no longer
counts until they are verified again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers.residents.profile import VERIFY_HOME, redeem_home_code
from handlers.shared.common import escape
from handlers.shared.fitting import short
from handlers.shared.flows import Flow, ask, cancel_markup, current_state, finish
from handlers.shared.issue_texts import home_text
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import household_checks
from storage.households import (
    CODE_ALPHABET,
    CODE_LENGTH,
    HouseholdError,
    Refusal,
    may_vote_as_resident,
    normalise_code,
    verified_home,
)
from storage.models import HouseholdEvent, Outbox, Person
from storage.people import current_membership

FLOW = "household"
WAIT = timedelta(minutes=30)


def looks_like_code(typed: str) -> bool:
    """A household code (10 letters and digits of the printed alphabet, with at least one
    letter), as against a room number."""
    code = normalise_code(typed)
    return (
        len(code) == CODE_LENGTH
        and all(c in CODE_ALPHABET for c in code)
        and any(c.isalpha() for c in code)
    )


async def on_verify(update: Update, context: NotebookContext) -> None:
    """/profile's "Verify my household": ask for the code, or the room."""
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    current = await current_membership(context.session, context.person)
    member = current[0] if current else None
    if member is None or not may_vote_as_resident(member.role):
        await query.answer(_("Only residents verify a household."), show_alert=True)
        return
    await query.answer()
    home = await verified_home(
        context.session, person_id=member.person_id, community_id=member.community_id
    )
    if home is not None:
        await context.bot.send_message(
            query.message.chat.id,
            _("Your household is already verified: room {room}.").format(room=escape(home.room)),
        )
        return
    await ask(context, query.message.chat.id, flow=FLOW, step="code_or_room", data={})
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "To verify your household, type the household code from the slip the community "
            "gave you (for example K7QM-3XPA-9B).\n"
            "No slip? Type your room number (for example 301): the worker of your building "
            "will check it with you, and I will tell you when it is done."
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_text(update: Update, context: NotebookContext) -> None:
    state = current_state(context)
    assert state is not None
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please type the code or your room number."), reply_markup=cancel_markup(context.tr)
        )
        return
    if looks_like_code(text):
        redeemed = await redeem_home_code(context, message.chat_id, text[:100])
        if isinstance(redeemed, Refusal):
            await message.reply_text(
                _(
                    "This household code does not work (unknown or already used). Please check "
                    "it, or type your room number instead."
                ),
                reply_markup=cancel_markup(context.tr),
            )
            return
        await finish(context, message.chat_id)
        return
    current = await current_membership(context.session, context.person)
    member = current[0] if current else None
    if member is None:
        await finish(context, message.chat_id)
        await message.reply_text(_("Please send /start to join your community first."))
        return
    if member.building_id is None:
        await finish(context, message.chat_id)
        await message.reply_text(_("Please choose your building first: /profile, then “Building”."))
        return
    try:
        async with context.session.begin_nested():  # a refusal changes nothing
            asked = await household_checks.request(
                context.session, member, room=text, now=context.now()
            )
    except HouseholdError:
        await finish(context, message.chat_id)
        await message.reply_text(_("Only residents verify a household."))
        return
    await finish(context, message.chat_id)
    home = await home_text(context.session, member.building_id, member.unit_id)
    if asked.asked:
        reply = _(
            "Noted: {home}, room {room}. I have asked the community to check it with you; "
            "you will hear from me when your household is verified."
        )
    else:
        reply = _(
            "Noted: {home}, room {room}. The community already has your request; you will hear "
            "from me when your household is verified."
        )
    await message.reply_text(reply.format(home=home, room=short(asked.room, 50)))


# --- notices to the resident ------------------------------------------------------------------


async def _event(session: AsyncSession, row: Outbox) -> HouseholdEvent | None:
    return await session.get(HouseholdEvent, row.payload.get("event_id"))


async def render_verified(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    event = await _event(session, row)
    if event is None:
        return None
    _ = tr.gettext
    home = await verified_home(session, person_id=event.person_id, community_id=event.community_id)
    if home is None or home.room != event.room:
        return None  # undone or changed meanwhile: that notice says it
    worker = await session.get(Person, event.by_id) if event.by_id else None
    return Rendered(
        _(
            "✅ Your household {home}, room {room}, is verified (checked by {worker}). You can "
            "vote for it from your phone when the community asks (/vote)."
        ).format(
            home=await home_text(session, event.building_id, event.unit_id),
            room=escape(event.room),
            worker=short(worker.full_name if worker else "—", 40),
        )
    )


async def render_undone(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    event = await _event(session, row)
    if event is None:
        return None
    _ = tr.gettext
    worker = await session.get(Person, event.by_id) if event.by_id else None
    lines = [
        _(
            "Your household {home}, room {room}, is no longer verified: {worker} of the "
            "community took the verification back."
        ).format(
            home=await home_text(session, event.building_id, event.unit_id),
            room=escape(event.room),
            worker=short(worker.full_name if worker else "—", 40),
        )
    ]
    if event.reason:
        lines.append(_("Reason: {reason}").format(reason=short(event.reason, 300)))
    lines.append(
        _(
            "A vote you gave from your phone in a vote still open no longer counts. If this is "
            "a mistake, please talk to the community office; /profile lets you ask again."
        )
    )
    return Rendered("\n".join(lines))


def register(renderers: Renderers) -> None:
    renderers.register(household_checks.HOUSEHOLD_VERIFIED, render_verified)
    renderers.register(household_checks.HOUSEHOLD_UNDONE, render_undone)


FLOWS = [Flow(FLOW, on_text, max_age=WAIT, typed=True)]

HANDLERS = [VERIFY_HOME.handler(on_verify)]
