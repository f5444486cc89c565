"""Consent campaigns, staff: /campaign, creating a campaign (building, unit, question, rule),
opening it, the campaign card, and closing voting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.campaign_common import (
    CLOSE,
    FLOW,
    OPEN,
    RULE_BUTTONS,
    STATUS_LABELS,
    VIEW,
    Step,
    campaign_text,
    staff_buttons,
    staff_campaign,
)
from handlers.council.guards import member_in_private
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    cancel_row,
    finish,
    state_in,
)
from handlers.shared.members import me, percent, refuse, staff_press_here, step_press
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered
from storage import consent, consent_votes
from storage.chat_state import FlowState
from storage.consent import ConsentError
from storage.models import (
    Building,
    CampaignStatus,
    ConsentCampaign,
    ConsentRule,
    Outbox,
    Unit,
)
from storage.residents import buildings_of

NEW = Button("camp.new")
BUILDING = Button("camp.building", int)
UNIT = Button("camp.unit", int)  # 0: the whole building
RULE = Button("camp.rule", ConsentRule)
CLOSE_NOW = Button("camp.closenow", int)


# --- staff: /campaign and creating a campaign -----------------------------------------------------


async def campaigns_menu(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    found = await member_in_private(
        update, context, staff_only=_("Only community staff can do this. To vote, send /vote.")
    )
    if found is None:
        return
    message, member = found
    campaigns = await consent.campaigns_of(context.session, member.community_id)
    lines = [_("Consent votes:")] if campaigns else [_("No consent votes yet.")]
    buttons = []
    for campaign in campaigns[:12]:
        status = context.tr.gettext(STATUS_LABELS[CampaignStatus(campaign.status)])
        lines.append(
            _("#{id} {question} ({status})").format(
                id=campaign.id, question=short(campaign.question, 50), status=status
            )
        )
        buttons.append(
            InlineKeyboardButton(
                _("Open #{id}").format(id=campaign.id), callback_data=VIEW.data(campaign.id or 0)
            )
        )
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(_("New consent vote"), callback_data=NEW.data())])
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def on_new(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await staff_press_here(update, context, _("Only community staff can do this."))
    if pressed is None:
        return
    query, chat_id, member = pressed
    await ask(
        context,
        chat_id,
        flow=FLOW,
        step="building",
        data={"community": member.community_id},
    )
    buildings = (await buildings_of(context.session, member.community_id))[:60]
    buttons = [
        InlineKeyboardButton(b.name, callback_data=BUILDING.data(b.id or 0)) for b in buildings
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(cancel_row(context.tr))
    await query.answer()
    await context.bot.send_message(
        chat_id,
        _("Which building is the vote for?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_building(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "building")
    (building_id,) = BUILDING.values(update)
    building = await context.session.get(Building, building_id) if building_id else None
    if state is None or building is None or building.community_id != state.data["community"]:
        await refuse(query, context)
        return
    await ask(
        context,
        query.message.chat.id,
        flow=FLOW,
        step="unit",
        data={**state.data, "building": building.id},
    )
    units = (await consent.units_of(context.session, building.id or 0))[:30]
    rows = [[InlineKeyboardButton(_("The whole building"), callback_data=UNIT.data(0))]]
    buttons = [InlineKeyboardButton(u.name, callback_data=UNIT.data(u.id or 0)) for u in units]
    rows.extend(buttons[i : i + 3] for i in range(0, len(buttons), 3))
    rows.append(cancel_row(context.tr))
    await query.answer()
    await query.edit_message_text(
        _(
            "{building}: does the vote cover the whole building, or one unit (stairwell)? "
            "Press a button, or type the unit's name (for example: 2单元)."
        ).format(building=short(building.name, 60)),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _ask_question(context: NotebookContext, chat_id: int, data: dict[str, object]) -> None:
    _ = context.tr.gettext
    await ask(context, chat_id, flow=FLOW, step="question", data=data)
    await context.bot.send_message(
        chat_id,
        _(
            "What question do the households answer? "
            "(for example: Do you agree to add an elevator to 1栋 2单元?)"
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_unit(update: Update, context: NotebookContext) -> None:
    pressed = await step_press(update, context, FLOW, "unit")
    if pressed is None:
        return
    query, chat_id, state = pressed
    (unit_id,) = UNIT.values(update)  # 0: the whole building
    if unit_id:
        unit = await context.session.get(Unit, unit_id)
        if unit is None or unit.building_id != state.data["building"]:
            await refuse(query, context)
            return
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    await _ask_question(context, chat_id, {**state.data, "unit": unit_id or None})


async def on_rule(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "rule")
    (rule,) = RULE.values(update)
    member = await me(context)
    if state is None or member is None:
        await refuse(query, context)
        return
    if not member.is_staff or member.community_id != state.data["community"]:
        await refuse(query, context, _("Only community staff can do this."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            campaign = await consent.create_campaign(
                context.session,
                community_id=member.community_id,
                building_id=int(state.data["building"]),
                unit_id=state.data.get("unit") or None,
                question=str(state.data["question"]),
                rule=rule,
                created_by_id=context.person.id,
                now=context.now(),
            )
    except ConsentError:
        await refuse(query, context)
        return
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(
        await campaign_text(context.session, campaign, context.tr, staff=True)
        + "\n\n"
        + _("Now enter the households: type them, or send a CSV file. Then open voting."),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def on_view(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_campaign(update, context, VIEW)
    if found is None:
        return
    campaign = found[0]
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        await campaign_text(context.session, campaign, context.tr, staff=True),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def _switch_voting(
    update: Update,
    context: NotebookContext,
    button: Button,
    switch: Callable[..., Awaitable[list[int]]],
    *,
    kind: str,
    refusal: str,
    told: str | None = None,
) -> None:
    """Open or close voting (`switch`) on the campaign of a staff `button`, tell the residents
    (`kind`), and show the card as it now stands; `told`, with {count}, answers the press with
    how many were told. When the campaign's state forbids it the presser is told `refusal` and
    nothing changes."""
    query = update.callback_query
    assert query is not None
    found = await staff_campaign(update, context, button)
    if found is None:
        return
    campaign = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            residents = await switch(context.session, campaign, now=context.now())
    except ConsentError:
        await refuse(query, context, refusal)
        return
    count = await consent.tell_residents(
        context.session, campaign, residents, kind=kind, now=context.now()
    )
    await query.answer(told.format(count=count) if told else None)
    await query.edit_message_text(
        await campaign_text(context.session, campaign, context.tr, staff=True),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def on_open(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    await _switch_voting(
        update,
        context,
        OPEN,
        consent.open_campaign,
        kind=consent.CAMPAIGN_OPENED,
        refusal=_("Enter the households first (a vote can be opened once)."),
        told=_("Voting is open; {count} residents are told."),
    )


async def on_close(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    found = await staff_campaign(update, context, CLOSE)
    if found is None:
        return
    campaign = found[0]
    if campaign.status != CampaignStatus.OPEN:
        await refuse(query, context, _("Voting has closed."))
        return
    await query.answer()
    await query.edit_message_reply_markup(
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, close voting now"), callback_data=CLOSE_NOW.data(campaign.id or 0)
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("No, keep it open"), callback_data=VIEW.data(campaign.id or 0)
                    )
                ],
            ]
        )
    )


async def on_close_confirmed(update: Update, context: NotebookContext) -> None:
    await _switch_voting(
        update,
        context,
        CLOSE_NOW,
        consent.close_campaign,
        kind=consent.CAMPAIGN_CLOSED,
        refusal=context.tr.gettext("Voting has closed."),
    )


async def render_closed(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    campaign = await session.get(ConsentCampaign, row.payload.get("campaign_id"))
    if campaign is None or campaign.status != CampaignStatus.CLOSED:
        return None
    _ = tr.gettext
    verdict = await consent_votes.verdict(session, campaign)
    outcome = _("It passed.") if verdict.passed else _("It did not pass.")
    return Rendered(
        _(
            "Voting has closed: {question}\n{outcome}\n"
            "Agree: {heads} of households, {area} of floor area."
        ).format(
            question=short(campaign.question, 500),
            outcome=outcome,
            heads=percent(tr, verdict.heads.support),
            area=percent(tr, verdict.area.support),
        )
    )


# --- typed answers ------------------------------------------------------------------------------


async def on_unit_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    assert update.message is not None
    data = dict(state.data)
    building_id = int(data["building"])
    unit = await consent.unit_named(context.session, building_id=building_id, name=text)
    await _ask_question(context, update.message.chat.id, {**data, "unit": unit.id})


async def on_question_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    data = {**state.data, "question": text[:2000]}
    await ask(context, message.chat.id, flow=FLOW, step="rule", data=data)
    rows = [
        [InlineKeyboardButton(context.tr.gettext(label), callback_data=RULE.data(rule))]
        for rule, label in RULE_BUTTONS.items()
    ]
    rows.append(cancel_row(context.tr))
    await message.reply_text(
        _("Which rule decides it? (Art. 278 is the law for rebuilding such as an elevator.)"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


STEPS: dict[str, Step] = {"unit": on_unit_text, "question": on_question_text}


HANDLERS = [
    NEW.handler(on_new),
    BUILDING.handler(on_building),
    UNIT.handler(on_unit),
    RULE.handler(on_rule),
    VIEW.handler(on_view),
    OPEN.handler(on_open),
    CLOSE.handler(on_close),
    CLOSE_NOW.handler(on_close_confirmed),
]
