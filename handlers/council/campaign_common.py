"""What the consent-campaign modules share: the labels, the campaign's text and staff card, and
the rights checks of a staff press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from babel.numbers import format_decimal
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.council.guards import staff_of, staff_press
from handlers.shared.fitting import short
from handlers.shared.flows import (
    finish,
    state_in,
)
from handlers.shared.members import (
    Member,
    fit,
    percent,
    refuse,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from storage import consent, consent_rules, consent_votes
from storage.chat_state import FlowState
from storage.consent_rules import Verdict
from storage.households import Refusal
from storage.models import (
    Building,
    CampaignStatus,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentRule,
    Unit,
    VoteChoice,
)

FLOW = "campaign"
VOTE_FLOW = "vote"

# The buttons of the staff card, each carrying the campaign's id; their handlers are in the
# campaign_* modules named in the comments.
VIEW = Button("camp.view", int)  # campaign_setup
OPEN = Button("camp.open", int)  # campaign_setup
CLOSE = Button("camp.close", int)  # campaign_setup
ADD = Button("camp.add", int)  # campaign_households
CSV = Button("camp.csv", int)  # campaign_households
HOUSEHOLDS = Button("camp.homes", int)  # campaign_households
CHART = Button("camp.chart", int)  # campaign_votes
RECORD = Button("camp.record", int)  # campaign_door_votes
MEDIATE = Button("camp.mediate", int)  # campaign_mediation
VERIFY = Button("camp.verify", int)  # campaign_verify
CODES = Button("camp.codes", int)  # campaign_verify
EXPORT = Button("camp.export", int)  # campaign_verify

RULE_LABELS = {
    ConsentRule.ART278: N_(
        "Civil Code Art. 278: at least 2/3 of the households and of the floor area take part, "
        "and at least 3/4 of them (by households and by area) agree"
    ),
    ConsentRule.MAJORITY: N_(
        "Majority: at least 2/3 of the households and of the floor area take part, and more "
        "than half of them (by households and by area) agree"
    ),
    ConsentRule.UNANIMITY: N_("Unanimity: every household agrees"),
}
RULE_BUTTONS = {
    ConsentRule.ART278: N_("Civil Code Art. 278 (2/3 take part, 3/4 agree)"),
    ConsentRule.MAJORITY: N_("Majority (2/3 take part, more than half agree)"),
    ConsentRule.UNANIMITY: N_("Unanimity (every household)"),
}
CHOICE_LABELS = {
    VoteChoice.AGREE: N_("agree"),
    VoteChoice.DISAGREE: N_("disagree"),
    VoteChoice.ABSTAIN: N_("abstain"),
}
CHANNEL_LABELS = {
    Channel.TELEGRAM: N_("from the phone"),
    Channel.VISIT: N_("door to door"),
    Channel.MEETING: N_("at a meeting"),
    Channel.PAPER: N_("on paper"),
    Channel.PROXY: N_("by proxy"),
}
# Why a vote, a code or a verification was refused, in the person's words. Nothing was recorded.
REFUSALS = {
    Refusal.STAFF: N_(
        "Community staff do not vote as residents of the buildings they serve. Record a "
        "household's vote from the campaign card."
    ),
    Refusal.NOT_VERIFIED: N_(
        "Your household is not verified yet: nothing was recorded. Send /vote to type your "
        "household code, or ask your grid worker."
    ),
    Refusal.OTHER_SCOPE: N_("This vote is for another building."),
    Refusal.OTHER_HOUSEHOLD: N_(
        "You can vote only for your own verified household; nothing was recorded."
    ),
    Refusal.UNKNOWN_CODE: N_(
        "That is not a household code I know, so nothing was recorded. Please check it "
        "(10 letters and digits), or ask your grid worker to verify your home."
    ),
    Refusal.USED_CODE: N_(
        "This household code has already been used. Each code works once: please ask the "
        "community office for another."
    ),
    Refusal.NOT_RESIDENT: N_("Only a registered resident of the household can vote."),
}
STATUS_LABELS = {
    CampaignStatus.DRAFT: N_("being prepared"),
    CampaignStatus.OPEN: N_("voting"),
    CampaignStatus.CLOSED: N_("voting closed"),
}


# --- texts --------------------------------------------------------------------------------------


def choice_label(tr: Translator, choice: str | None) -> str:
    return tr.gettext(CHOICE_LABELS[VoteChoice(choice)]) if choice else tr.gettext("not yet")


# (a press's alert holds 200 characters: the refusals above are short; this one is a message)
ASK_FOR_CODE = N_(
    "Your household is not verified yet, so I cannot take a vote from you; nothing was "
    "recorded. If the community gave you a household code, type it now. Otherwise please "
    "ask your grid worker to verify your home."
)


def refusal_text(tr: Translator, refusal: Refusal | None) -> str:
    return tr.gettext(REFUSALS[refusal or Refusal.NOT_RESIDENT])


def m2(tr: Translator, value: Decimal | None) -> str:
    if value is None:
        return "—"
    return tr.gettext("{area} m²").format(area=format_decimal(value, locale=tr.babel_locale))


async def scope_text(session: AsyncSession, campaign: ConsentCampaign, tr: Translator) -> str:
    building = await session.get(Building, campaign.building_id)
    unit = await session.get(Unit, campaign.unit_id) if campaign.unit_id else None
    name = short(building.name if building else "—", 60)
    if unit is None:
        return tr.gettext("{building} (the whole building)").format(building=name)
    return tr.gettext("{building}, {unit}").format(building=name, unit=short(unit.name, 60))


def standing_lines(tr: Translator, verdict: Verdict, homes: list[ConsentHousehold]) -> list[str]:
    _ = tr.gettext
    agree = sum(1 for h in homes if h.choice == VoteChoice.AGREE)
    against = sum(1 for h in homes if h.choice == VoteChoice.DISAGREE)
    abstain = sum(1 for h in homes if h.choice == VoteChoice.ABSTAIN)
    silent = sum(1 for h in homes if h.choice is None)
    heads, area = verdict.heads, verdict.area
    lines = [
        _(
            "Households: {total} · agree {agree} · disagree {against} · abstain {abstain} · "
            "not yet {silent}"
        ).format(total=len(homes), agree=agree, against=against, abstain=abstain, silent=silent),
        _("Took part: {heads} of households · {area} of floor area").format(
            heads=percent(tr, heads.participation), area=percent(tr, area.participation)
        ),
        _("Agree, of those who took part: {heads} of households · {area} of floor area").format(
            heads=percent(tr, heads.approval), area=percent(tr, area.approval)
        ),
        _("Support (agree, of all): {heads} of households · {area} of floor area").format(
            heads=percent(tr, heads.support), area=percent(tr, area.support)
        ),
    ]
    if verdict.unknown_area_rooms:
        lines.append(
            _("Floor area unknown for: {rooms}. Area shares count only known areas.").format(
                rooms=short(", ".join(verdict.unknown_area_rooms), 300)
            )
        )
    if verdict.passed:
        lines.append(_("✅ Passes under the rule."))
        return lines
    lines.append(_("Not passing yet. Still missing:"))
    if verdict.more_households is None:
        lines.append(_("• by households: cannot pass even if every other household agrees"))
    elif verdict.more_households:
        lines.append(
            _("• by households: {count} more households agreeing").format(
                count=verdict.more_households
            )
        )
    if verdict.area_undecided:  # a gap over the known areas alone would mislead
        lines.append(_("• by floor area: enter the missing floor areas to decide"))
    elif consent_rules.RULES[verdict.rule].uses_area and verdict.more_area is None:
        lines.append(_("• by floor area: cannot pass even if every other household agrees"))
    elif verdict.more_area:
        lines.append(
            _("• by floor area: {area} more agreeing").format(area=m2(tr, verdict.more_area))
        )
    if verdict.blocking_rooms:
        lines.append(
            _("• own space occupied, must agree themselves: {rooms}").format(
                rooms=short(", ".join(verdict.blocking_rooms), 300)
            )
        )
    return lines


async def campaign_text(
    session: AsyncSession, campaign: ConsentCampaign, tr: Translator, *, staff: bool
) -> str:
    _ = tr.gettext
    homes = await consent.households(session, campaign)
    verdict = consent_rules.evaluate(ConsentRule(campaign.rule), consent_votes.ballots(homes))
    checked = await consent_votes.verification(session, campaign, homes)
    status = tr.gettext(STATUS_LABELS[CampaignStatus(campaign.status)])
    lines = [
        _("Consent vote #{id}: {question}").format(
            id=campaign.id, question=short(campaign.question, 500)
        ),
        _("Scope: {scope}").format(scope=await scope_text(session, campaign, tr)),
        _("Rule: {rule}").format(rule=tr.gettext(RULE_LABELS[ConsentRule(campaign.rule)])),
        _("Status: {status}").format(status=status),
        _("Verified households: {verified} of {total} (only they vote from the phone).").format(
            verified=checked.verified, total=checked.households
        ),
        "",
        *standing_lines(tr, verdict, homes),
    ]
    if checked.uncounted:
        lines.append(
            _("Votes not verified, not counted: {count} households.").format(
                count=checked.uncounted
            )
        )
    if staff:
        concerned = sum(1 for h in homes if h.concerns)
        mediations = await consent.mediations(session, campaign)
        lines += ["", _("Concerns from {count} households.").format(count=concerned)]
        for mediation, rooms in mediations:
            outcome = _("agreement reached") if mediation.reached else _("no agreement yet")
            lines.append(
                _("Mediation {date} (rooms {rooms}, {outcome}): {agreement}").format(
                    date=tr.date(mediation.at, "short"),
                    rooms=short(", ".join(rooms), 100),
                    outcome=outcome,
                    agreement=short(mediation.agreement, 200),
                )
            )
    return fit(lines, _("…and {count} more lines."))


def staff_buttons(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext
    cid = campaign.id or 0
    rows = []
    status = CampaignStatus(campaign.status)
    if status is not CampaignStatus.CLOSED:
        rows.append(
            [
                InlineKeyboardButton(_("Add households"), callback_data=ADD.data(cid)),
                InlineKeyboardButton(_("Import a CSV file"), callback_data=CSV.data(cid)),
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(_("Households"), callback_data=HOUSEHOLDS.data(cid)),
            InlineKeyboardButton(_("Support chart"), callback_data=CHART.data(cid)),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(_("Verify a household"), callback_data=VERIFY.data(cid)),
            InlineKeyboardButton(_("Household codes"), callback_data=CODES.data(cid)),
        ]
    )
    rows.append([InlineKeyboardButton(_("Export (CSV)"), callback_data=EXPORT.data(cid))])
    if status is CampaignStatus.OPEN:
        rows.append(
            [
                InlineKeyboardButton(_("Record a vote"), callback_data=RECORD.data(cid)),
                InlineKeyboardButton(_("Record a mediation"), callback_data=MEDIATE.data(cid)),
            ]
        )
        rows.append([InlineKeyboardButton(_("Close voting"), callback_data=CLOSE.data(cid))])
    elif status is CampaignStatus.DRAFT:
        rows.append([InlineKeyboardButton(_("Open voting"), callback_data=OPEN.data(cid))])
    return InlineKeyboardMarkup(rows)


def open_button(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.gettext("Open vote #{id}").format(id=campaign.id),
                    callback_data=VIEW.data(campaign.id or 0),
                )
            ]
        ]
    )


async def staff_campaign(
    update: Update, context: NotebookContext, button: Button
) -> tuple[ConsentCampaign, Member] | None:
    """The campaign of a staff card's `button` (its one value), if the presser is its staff."""
    (campaign_id,) = button.values(update)
    return await staff_press(update, context, ConsentCampaign, campaign_id)


async def staff_step(
    update: Update, context: NotebookContext, step: str
) -> tuple[ConsentCampaign, dict[str, object]] | None:
    """A button of the vote-recording steps: the flow must be at `step`, by staff."""
    query = update.callback_query
    assert query is not None and query.message is not None
    state = await state_in(context, query.message.chat.id, FLOW, step)
    found = await staff_of(context, ConsentCampaign, int(state.data["campaign"])) if state else None
    if state is None or found is None:
        await refuse(query, context)
        return None
    return found[0], dict(state.data)


async def flow_campaign(
    update: Update, context: NotebookContext, state: FlowState
) -> ConsentCampaign | None:
    """The campaign a typed answer of the staff flow is about; when it is gone the flow ends."""
    assert update.message is not None
    campaign = await context.session.get(ConsentCampaign, int(state.data["campaign"]))
    if campaign is None:
        await finish(context, update.message.chat.id)
    return campaign


# One typed answer of the staff flow at a step: (update, context, its state, the text).
Step = Callable[[Update, NotebookContext, FlowState, str], Awaitable[None]]
