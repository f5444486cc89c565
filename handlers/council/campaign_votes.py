"""Consent campaigns, residents: /vote (or the button in the announcement), casting the
household's vote from the phone, changing it until voting closes, adding concerns; and the
support-rate chart, for staff and residents of the campaign's scope.

Only a verified member of a household on the campaign's list votes from the phone, and only for
that household. A resident whose household is not verified is told so and may type the
household code the community printed for it; typing a room number verifies nothing. Staff do
not vote as residents (they record votes given in person, campaign_door_votes).
"""

from __future__ import annotations

import asyncio

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.campaign_chart import ChartLabels, support_chart_png
from handlers.council.campaign_common import (
    ASK_FOR_CODE,
    CHART,
    VOTE_FLOW,
    campaign_text,
    choice_label,
    refusal_text,
    scope_text,
)
from handlers.council.guards import member_in_private, typed_text
from handlers.residents.profile import redeem_home_code
from handlers.shared.fallback import STALE
from handlers.shared.fitting import short
from handlers.shared.flows import (
    ask,
    cancel_markup,
    finish,
)
from handlers.shared.members import (
    Member,
    me_in,
    percent,
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered
from storage import consent, consent_rules, consent_votes
from storage.consent import ConsentError
from storage.households import Refusal, home_in_scope
from storage.models import (
    CampaignStatus,
    ConsentCampaign,
    ConsentHousehold,
    Outbox,
    VoteChoice,
)

# --- residents: /vote ---------------------------------------------------------------------------

BALLOT = Button("vote.ballot", int)  # the campaign
CAST = Button("vote.cast", int, VoteChoice)  # the campaign, the household's answer
NO_CONCERNS = Button("vote.none")


async def vote_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    found = await member_in_private(update, context)
    if found is None:
        return
    message, member = found
    if member.is_staff:
        await message.reply_text(refusal_text(context.tr, Refusal.STAFF))
        return
    campaigns = [
        c
        for c in await consent.campaigns_of(
            context.session, member.community_id, statuses=[CampaignStatus.OPEN]
        )
        if await consent_votes.concerns_campaign(context.session, c, member.membership)
    ]
    if not campaigns:
        await message.reply_text(_("There is no vote for your building right now."))
        return
    if len(campaigns) == 1:
        await show_ballot(context, message.chat.id, campaigns[0], member)
        return
    rows = [
        [
            InlineKeyboardButton(
                _("#{id} {question}").format(id=c.id, question=c.question[:40]),
                callback_data=BALLOT.data(c.id or 0),
            )
        ]
        for c in campaigns[:10]
    ]
    await message.reply_text(_("Which vote?"), reply_markup=InlineKeyboardMarkup(rows))


def ballot_buttons(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext
    cid = campaign.id or 0
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Agree"), callback_data=CAST.data(cid, VoteChoice.AGREE)),
                InlineKeyboardButton(
                    _("Disagree"), callback_data=CAST.data(cid, VoteChoice.DISAGREE)
                ),
                InlineKeyboardButton(
                    _("Abstain"), callback_data=CAST.data(cid, VoteChoice.ABSTAIN)
                ),
            ],
            [InlineKeyboardButton(_("Support chart"), callback_data=CHART.data(cid))],
        ]
    )


async def ballot_text(
    context: NotebookContext, campaign: ConsentCampaign, household: ConsentHousehold
) -> str:
    _ = context.tr.gettext
    text = await campaign_text(context.session, campaign, context.tr, staff=False)
    return (
        text
        + "\n\n"
        + _("Your household: room {room}. Its vote: {choice}.").format(
            room=short(household.room, 20), choice=choice_label(context.tr, household.choice)
        )
        + "\n"
        + _("One vote per household; you can change it until voting closes.")
    )


async def show_ballot(
    context: NotebookContext, chat_id: int, campaign: ConsentCampaign, member: Member
) -> None:
    """The ballot of the member's verified household; otherwise why not, and for a resident
    not verified yet, a chance to type their household code."""
    _ = context.tr.gettext
    household = await consent_votes.household_of(context.session, campaign, member.membership)
    if household is not None:
        await context.bot.send_message(
            chat_id,
            await ballot_text(context, campaign, household),
            reply_markup=ballot_buttons(campaign, context.tr),
        )
        return
    home = await consent_votes.home_of(context.session, member.membership)
    if home is None:
        await ask(context, chat_id, flow=VOTE_FLOW, step="code", data={"campaign": campaign.id})
        await context.bot.send_message(
            chat_id,
            context.tr.gettext(ASK_FOR_CODE),
            reply_markup=cancel_markup(context.tr),
        )
        return
    if not home_in_scope(home, campaign):
        await context.bot.send_message(chat_id, refusal_text(context.tr, Refusal.OTHER_SCOPE))
        return
    await context.bot.send_message(
        chat_id,
        _("Your room {room} is not on this vote's list. Please ask the community office.").format(
            room=short(home.room, 20)
        ),
    )


async def _voter(
    update: Update, context: NotebookContext, campaign_id: int
) -> tuple[ConsentCampaign, Member] | None:
    """The campaign of a voting button, if the presser lives in its scope; else an alert."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    campaign = await context.session.get(ConsentCampaign, campaign_id) if campaign_id else None
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None:
        await refuse(query, context)
        return None
    if member.is_staff:
        await refuse(query, context, refusal_text(context.tr, Refusal.STAFF))
        return None
    if not await consent_votes.concerns_campaign(context.session, campaign, member.membership):
        await refuse(query, context, _("This vote is for another building."))
        return None
    return campaign, member


async def on_ballot(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    (campaign_id,) = BALLOT.values(update)
    found = await _voter(update, context, campaign_id)
    if found is None:
        return
    campaign, member = found
    if not consent_rules.may_change_vote(campaign, context.now()):
        await refuse(query, context, _("Voting has closed."))
        return
    await query.answer()
    await show_ballot(context, query.message.chat.id, campaign, member)


async def on_vote(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    campaign_id, choice = CAST.values(update)
    found = await _voter(update, context, campaign_id)
    if found is None:
        return
    campaign, member = found
    household = await consent_votes.household_of(context.session, campaign, member.membership)
    if household is None:
        home = await consent_votes.home_of(context.session, member.membership)
        refusal = Refusal.NOT_VERIFIED if home is None else Refusal.OTHER_HOUSEHOLD
        await refuse(query, context, refusal_text(context.tr, refusal))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent_votes.cast_vote(
                context.session,
                campaign,
                household,
                choice=choice,
                cast_by_id=context.person.id,
                now=context.now(),
            )
    except ConsentError as refused:
        text = _("Voting has closed.")
        if refused.refusal is not None:
            text = refusal_text(context.tr, refused.refusal)
        await refuse(query, context, text)
        return
    await ask(
        context,
        query.message.chat.id,
        flow=VOTE_FLOW,
        step="concerns",
        data={"campaign": campaign.id, "household": household.id},
    )
    await query.answer(
        _("Thank you. Your household's vote: {choice}.").format(
            choice=choice_label(context.tr, choice)
        )
    )
    await query.edit_message_text(
        await ballot_text(context, campaign, household),
        reply_markup=ballot_buttons(campaign, context.tr),
    )
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "Thank you, your household's vote is {choice}. If you have worries (noise, light, "
            "privacy…), write them now and the community will hear them. Or press No concerns."
        ).format(choice=choice_label(context.tr, choice)),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("No concerns"), callback_data=NO_CONCERNS.data())]]
        ),
    )


async def on_no_concerns(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(_("Thank you for voting."))


async def on_vote_text(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    typed = await typed_text(update, context)
    if typed is None:
        return
    message, state, text = typed
    campaign = await context.session.get(ConsentCampaign, int(state.data.get("campaign") or 0))
    member = await me_in(context, campaign.community_id) if campaign else None
    if (
        campaign is None
        or member is None
        or not await consent_votes.concerns_campaign(context.session, campaign, member.membership)
    ):
        await finish(context, message.chat.id)
        await message.reply_text(_("This vote is for another building."))
        return
    if state.step == "code":  # a household code; a room number verifies nothing
        redeemed = await redeem_home_code(context, message.chat.id, text[:100])
        if isinstance(redeemed, Refusal):
            await message.reply_text(
                refusal_text(context.tr, redeemed), reply_markup=cancel_markup(context.tr)
            )
            return
        await finish(context, message.chat.id)
        await show_ballot(context, message.chat.id, campaign, member)
        return
    household = await consent_votes.household_of(context.session, campaign, member.membership)
    await finish(context, message.chat.id)
    if household is None or household.id != state.data.get("household"):
        await message.reply_text(_(STALE))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent_votes.add_concerns(
                context.session,
                campaign,
                household,
                text=text[:3000],
                now=context.now(),
                person_id=context.person.id,
            )
    except ConsentError:
        await message.reply_text(_("Voting has closed."))
        return
    await message.reply_text(_("Thank you, the community has noted your concerns."))


async def on_chart(update: Update, context: NotebookContext) -> None:
    """The support-rate chart, for staff and for the residents of the campaign's scope."""
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    (campaign_id,) = CHART.values(update)
    campaign = await context.session.get(ConsentCampaign, campaign_id) if campaign_id else None
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None:
        await refuse(query, context)
        return
    if not member.is_staff and not await consent_votes.concerns_campaign(
        context.session, campaign, member.membership
    ):
        await refuse(query, context, _("This vote is for another building."))
        return
    points = await consent_votes.series(context.session, campaign, now=context.now())
    if not points:
        await query.answer(_("No votes yet: nothing to draw."), show_alert=True)
        return
    labels = ChartLabels(
        title=_("Support for vote #{id}").format(id=campaign.id),
        heads=_("by households"),
        area=_("by floor area"),
        y_axis=_("agree, of all"),
    )
    await query.answer()
    png = await asyncio.to_thread(support_chart_png, points, labels, context.tr.tz)
    last = points[-1]
    await context.bot.send_photo(
        query.message.chat.id,
        png,
        caption=_("Support now: {heads} of households, {area} of floor area.").format(
            heads=percent(context.tr, last.heads), area=percent(context.tr, last.area)
        ),
    )


async def render_opened(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    campaign = await session.get(ConsentCampaign, row.payload.get("campaign_id"))
    if campaign is None or campaign.status != CampaignStatus.OPEN:
        return None
    _ = tr.gettext
    text = _(
        "Consent vote for {scope}: {question}\n"
        "Every household says yes or no; your vote counts. Press Vote to give yours "
        "(you can change it until voting closes)."
    ).format(scope=await scope_text(session, campaign, tr), question=short(campaign.question, 500))
    return Rendered(
        text,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Vote"), callback_data=BALLOT.data(campaign.id or 0))]]
        ),
    )


HANDLERS = [
    BALLOT.handler(on_ballot),
    CAST.handler(on_vote),
    NO_CONCERNS.handler(on_no_concerns),
    CHART.handler(on_chart),
]
