"""Consent campaigns, staff: recording a household's vote given in person: door to door, at a
meeting, on a paper form, or by a proxy (whose name is kept). The worker who records it is named
in the log, with the evidence they saw (a signed form, an ID checked, a 委托书)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.campaign_common import (
    CHANNEL_LABELS,
    FLOW,
    RECORD,
    VIEW,
    Step,
    choice_label,
    flow_campaign,
    staff_campaign,
    staff_step,
)
from handlers.shared.fallback import STALE
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    cancel_row,
    finish,
)
from handlers.shared.members import (
    me_in,
    percent,
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import consent, consent_rules, consent_votes
from storage.chat_state import FlowState
from storage.consent import ConsentError
from storage.models import (
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    VoteChoice,
)

# --- staff: recording a vote given door to door or at a meeting ---------------------------------

CHOICE = Button("camp.rchoice", VoteChoice)
CHANNEL = Button("camp.rchannel", tuple(c.value for c in consent_rules.RECORDED_CHANNELS))
NO_CONCERNS = Button("camp.rnone")


async def on_record_vote(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_campaign(update, context, RECORD)
    if found is None:
        return
    campaign = found[0]
    if not consent_rules.may_change_vote(campaign, context.now()):
        await refuse(query, context, _("Voting is not open."))
        return
    await ask(
        context, query.message.chat.id, flow=FLOW, step="rv_room", data={"campaign": campaign.id}
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _("Which household? Type the room number (for example: 301)."),
        reply_markup=cancel_markup(context.tr),
    )


async def _record_step(
    update: Update,
    context: NotebookContext,
    *,
    step: str,
    field: str,
    value: str,
    then: tuple[str, str, list[list[InlineKeyboardButton]]],
) -> None:
    """One press of the "record a vote" wizard: check it is this staff member's `step`, keep
    the pressed value as `field`, then ask the next question (`then`: its step, its text and
    its buttons, above Cancel)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_step(update, context, step)
    if found is None:
        return
    _campaign, data = found
    next_step, question, buttons = then
    await ask(
        context, query.message.chat.id, flow=FLOW, step=next_step, data={**data, field: value}
    )
    await query.answer()
    await query.edit_message_text(
        question, reply_markup=InlineKeyboardMarkup([*buttons, cancel_row(context.tr)])
    )


async def on_record_choice(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    ways = [
        [
            InlineKeyboardButton(_("Door to door"), callback_data=CHANNEL.data(Channel.VISIT)),
            InlineKeyboardButton(_("At a meeting"), callback_data=CHANNEL.data(Channel.MEETING)),
        ],
        [
            InlineKeyboardButton(_("On paper"), callback_data=CHANNEL.data(Channel.PAPER)),
            InlineKeyboardButton(_("By proxy"), callback_data=CHANNEL.data(Channel.PROXY)),
        ],
    ]
    (choice,) = CHOICE.values(update)
    await _record_step(
        update,
        context,
        step="rv_choice",
        field="choice",
        value=choice,
        then=("rv_channel", _("How was it given?"), ways),
    )


EVIDENCE_QUESTION = N_(
    "What is the evidence? For example: signed form no. 12, ID checked at the door, written "
    "authorisation (委托书) seen."
)


async def on_record_channel(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    (channel,) = CHANNEL.values(update)
    then: tuple[str, str, list[list[InlineKeyboardButton]]]
    if channel == Channel.PROXY:
        question = _("Who voted for the owner? Type the proxy's name.")
        then = ("rv_proxy", question, [])
    else:
        then = ("rv_evidence", _(EVIDENCE_QUESTION), [])
    await _record_step(
        update, context, step="rv_channel", field="channel", value=channel, then=then
    )


async def on_record_no_concerns(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_step(update, context, "rv_concerns")
    if found is None:
        return
    await query.answer()
    text = await _record(context, query.message.chat.id, found[0], found[1], None)
    await query.edit_message_text(text, reply_markup=_after_record(found[0], context.tr))


def _after_record(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Record another vote"), callback_data=RECORD.data(campaign.id or 0)
                ),
                InlineKeyboardButton(
                    _("Open vote #{id}").format(id=campaign.id),
                    callback_data=VIEW.data(campaign.id or 0),
                ),
            ]
        ]
    )


async def _record(
    context: NotebookContext,
    chat_id: int,
    campaign: ConsentCampaign,
    data: dict[str, object],
    concerns: str | None,
) -> str:
    """Cast the vote the worker collected; returns the confirmation to show."""
    _ = context.tr.gettext
    household = await context.session.get(ConsentHousehold, int(str(data["household"])))
    await finish(context, chat_id)
    if household is None:
        return _(STALE)
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent_votes.cast_vote(
                context.session,
                campaign,
                household,
                choice=VoteChoice(str(data["choice"])),
                channel=Channel(str(data["channel"])),
                recorded_by_id=context.person.id,
                concerns=concerns,
                proxy_name=str(data.get("proxy") or "") or None,
                evidence=str(data.get("evidence") or ""),
                now=context.now(),
            )
    except ConsentError:
        return _("Voting is not open.")
    verdict = await consent_votes.verdict(context.session, campaign)
    return (
        _(
            "Recorded for room {room}: {choice} ({channel}). Support now: {heads} of households."
        ).format(
            room=short(household.room, 20),
            choice=choice_label(context.tr, household.choice),
            channel=context.tr.gettext(CHANNEL_LABELS[Channel(str(data["channel"]))]),
            heads=percent(context.tr, verdict.heads.support),
        )
        + "\n"
        + _("Evidence: {evidence}").format(evidence=short(str(data.get("evidence")), 200))
    )


async def on_room_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    data = dict(state.data)
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await flow_campaign(update, context, state)
    if campaign is None:
        return
    household = await consent.household_by_room(context.session, campaign, text)
    if household is None:
        await message.reply_text(
            _("Room {room} is not on this vote's list. Please type the room again.").format(
                room=short(text, 20)
            ),
            reply_markup=cancel_markup(context.tr),
        )
        return
    await ask(
        context,
        message.chat.id,
        flow=FLOW,
        step="rv_choice",
        data={**data, "household": household.id},
    )
    await message.reply_text(
        _("Room {room} ({owner}), vote so far: {choice}. What did they say?").format(
            room=short(household.room, 20),
            owner=short(household.owner_name or "—", 40),
            choice=choice_label(context.tr, household.choice),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Agree"), callback_data=CHOICE.data(VoteChoice.AGREE)),
                    InlineKeyboardButton(
                        _("Disagree"), callback_data=CHOICE.data(VoteChoice.DISAGREE)
                    ),
                    InlineKeyboardButton(
                        _("Abstain"), callback_data=CHOICE.data(VoteChoice.ABSTAIN)
                    ),
                ],
                cancel_row(context.tr),
            ]
        ),
    )


async def on_concerns_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    chat_id = message.chat.id
    data = dict(state.data)
    campaign = await context.session.get(ConsentCampaign, int(data["campaign"]))
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None or not member.is_staff:
        await finish(context, chat_id)
        await message.reply_text(_("Only community staff can do this."))
        return
    reply = await _record(context, chat_id, campaign, data, text)
    await message.reply_text(reply, reply_markup=_after_record(campaign, context.tr))


async def on_proxy_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    """The proxy's name, then the evidence (their written authorisation)."""
    await _typed_step(update, context, state, "proxy", text[:200], "rv_evidence", EVIDENCE_QUESTION)


async def on_evidence_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
) -> None:
    await _typed_step(
        update,
        context,
        state,
        "evidence",
        text[:1000],
        "rv_concerns",
        N_("Did they raise concerns? Type them, or press No concerns."),
    )


async def _typed_step(
    update: Update,
    context: NotebookContext,
    state: FlowState,
    field: str,
    value: str,
    next_step: str,
    question: str,
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await flow_campaign(update, context, state)
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None or not member.is_staff:
        await finish(context, message.chat.id)
        await message.reply_text(_("Only community staff can do this."))
        return
    data = {**state.data, field: value}
    await ask(context, message.chat.id, flow=FLOW, step=next_step, data=data)
    rows = [cancel_row(context.tr)]
    if next_step == "rv_concerns":
        rows.insert(0, [InlineKeyboardButton(_("No concerns"), callback_data=NO_CONCERNS.data())])
    await message.reply_text(_(question), reply_markup=InlineKeyboardMarkup(rows))


STEPS: dict[str, Step] = {
    "rv_room": on_room_text,
    "rv_proxy": on_proxy_text,
    "rv_evidence": on_evidence_text,
    "rv_concerns": on_concerns_text,
}


HANDLERS = [
    RECORD.handler(on_record_vote),
    CHOICE.handler(on_record_choice),
    CHANNEL.handler(on_record_channel),
    NO_CONCERNS.handler(on_record_no_concerns),
]
