"""Consent campaigns, staff: recording a mediation between households (who took part, their
positions, what was agreed, and whether agreement was reached).
"""

from __future__ import annotations

from typing import cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.campaign_common import (
    FLOW,
    MEDIATE,
    Step,
    flow_campaign,
    open_button,
    staff_campaign,
    staff_step,
)
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    cancel_row,
    finish,
)
from handlers.shared.members import (
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import consent
from storage.chat_state import FlowState
from storage.consent import ConsentError
from storage.models import (
    ConsentHousehold,
)

# --- staff: mediation ---------------------------------------------------------------------------

REACHED = Button("camp.reached", ("yes", "no"))  # did the parties agree?


async def on_mediation(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_campaign(update, context, MEDIATE)
    if found is None:
        return
    campaign = found[0]
    await ask(
        context, query.message.chat.id, flow=FLOW, step="m_rooms", data={"campaign": campaign.id}
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "Which households took part? Type their rooms, separated by commas "
            "(for example: 101, 601)."
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_mediation_outcome(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_step(update, context, "m_reached")
    (reached,) = REACHED.values(update)
    if found is None:
        return
    campaign, data = found
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            mediation = await consent.record_mediation(
                context.session,
                campaign,
                household_ids=[int(h) for h in cast(list[int], data["households"])],
                parties=str(data["parties"]),
                positions=str(data["positions"]),
                agreement=str(data["agreement"]),
                reached=reached == "yes",
                recorded_by_id=context.person.id,
                now=context.now(),
            )
    except ConsentError:
        await refuse(query, context)
        return
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(
        _("Mediation recorded for rooms {rooms}.").format(rooms=short(str(data["rooms"]), 200))
        if mediation.reached
        else _("Mediation recorded for rooms {rooms}; no agreement yet.").format(
            rooms=short(str(data["rooms"]), 200)
        ),
        reply_markup=open_button(campaign, context.tr),
    )


async def on_rooms_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    data = dict(state.data)
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await flow_campaign(update, context, state)
    if campaign is None:
        return
    rooms = [r.strip() for r in text.replace("，", ",").replace("、", ",").split(",") if r.strip()]
    found: list[ConsentHousehold] = []
    unknown: list[str] = []
    for room in rooms:
        household = await consent.household_by_room(context.session, campaign, room)
        if household is None:
            unknown.append(room)
        elif household.id not in [h.id for h in found]:
            found.append(household)
    if unknown or not found:
        await message.reply_text(
            _("Not on this vote's list: {rooms}. Please type the rooms again.").format(
                rooms=short(", ".join(unknown) or text, 200)
            ),
            reply_markup=cancel_markup(context.tr),
        )
        return
    await ask(
        context,
        message.chat.id,
        flow=FLOW,
        step="m_parties",
        data={
            **data,
            "households": [h.id for h in found],
            "rooms": ", ".join(h.room for h in found),
        },
    )
    await message.reply_text(
        _(
            "Who took part in the mediation? "
            "(for example: 许大爷 of 101, the residents of 601, secretary 谢兰)"
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_account_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    """Who took part, their positions, what was agreed: one step each."""
    step, data = state.step, dict(state.data)
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    field = {"m_parties": "parties", "m_positions": "positions", "m_agreement": "agreement"}[step]
    data = {**data, field: text[:3000]}
    if step == "m_parties":
        await ask(context, message.chat.id, flow=FLOW, step="m_positions", data=data)
        await message.reply_text(
            _("What were their positions? (for example: 101 fears noise and losing privacy)"),
            reply_markup=cancel_markup(context.tr),
        )
    elif step == "m_positions":
        await ask(context, message.chat.id, flow=FLOW, step="m_agreement", data=data)
        await message.reply_text(
            _("What was agreed? (for example: sound-proof panels and a security door for 101)"),
            reply_markup=cancel_markup(context.tr),
        )
    else:
        await ask(context, message.chat.id, flow=FLOW, step="m_reached", data=data)
        await message.reply_text(
            _("Did the parties reach agreement?"),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(_("Yes, agreed"), callback_data=REACHED.data("yes")),
                        InlineKeyboardButton(_("Not yet"), callback_data=REACHED.data("no")),
                    ],
                    cancel_row(context.tr),
                ]
            ),
        )


STEPS: dict[str, Step] = {
    "m_rooms": on_rooms_text,
    "m_parties": on_account_text,
    "m_positions": on_account_text,
    "m_agreement": on_account_text,
}


HANDLERS = [MEDIATE.handler(on_mediation), REACHED.handler(on_mediation_outcome)]
