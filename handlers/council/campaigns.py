"""Consent campaigns for building projects (adding an elevator…).

Staff (/campaign): create a campaign for a building or a unit with its question and rule, enter
the households (typed lines or a CSV file: bad lines are reported, good ones kept), open and close
voting, record votes given door to door or at a meeting, record mediations, and watch the standing
and the support-rate chart. Residents (/vote, or the button in the announcement): cast their
household's vote from the phone, change it until voting closes, and add their concerns.

Typed answers wait in `chat_state` (flow "campaign" for staff, "vote" for residents). Every press
re-checks rights: staff of the campaign's community, or a registered resident of the campaign's
scope whose membership is linked to a household by room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import cast

from babel.numbers import format_decimal
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.council.campaign_chart import ChartLabels, support_chart_png
from handlers.shared.fitting import short
from handlers.shared.flows import (
    AwaitedInput,
    ask,
    cancel_markup,
    cancel_row,
    current_state,
    finish,
    flow_input,
    state_in,
)
from handlers.shared.members import (
    Member,
    as_id,
    fit,
    ids,
    me,
    me_in,
    percent,
    private_only,
    refuse,
)
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from runtime.rendering import Rendered, Renderers
from storage import consent, consent_rules
from storage.consent import ConsentError, ParsedRows
from storage.consent_rules import Verdict
from storage.models import (
    Building,
    CampaignStatus,
    Channel,
    ConsentCampaign,
    ConsentHousehold,
    ConsentRule,
    Outbox,
    Unit,
    VoteChoice,
)
from storage.residents import buildings_of

FLOW = "campaign"
VOTE_FLOW = "vote"
PREFIX = "cp:"
VOTE = "cv:"
PAGE = 25  # households per page of the list
CSV_MAX_BYTES = 1_000_000

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
CHOICE_KEYS = {"a": VoteChoice.AGREE, "d": VoteChoice.DISAGREE, "x": VoteChoice.ABSTAIN}
CHANNEL_LABELS = {
    Channel.TELEGRAM: N_("from the phone"),
    Channel.VISIT: N_("door to door"),
    Channel.MEETING: N_("at a meeting"),
}
CHANNEL_KEYS = {"v": Channel.VISIT, "m": Channel.MEETING}
STATUS_LABELS = {
    CampaignStatus.DRAFT: N_("being prepared"),
    CampaignStatus.OPEN: N_("voting"),
    CampaignStatus.CLOSED: N_("voting closed"),
}
BAD_REASONS = {
    consent.BAD_NO_ROOM: N_("no room number"),
    consent.BAD_ROOM_TOO_LONG: N_("room number too long"),
    consent.BAD_AREA: N_("floor area is not a number of m² (up to two decimals)"),
    consent.BAD_FLAG: N_("the last column must be yes or no (own space occupied)"),
    consent.BAD_COLUMNS: N_("too many columns"),
    consent.BAD_DUPLICATE: N_("this room appears twice"),
}


# --- texts --------------------------------------------------------------------------------------


def choice_label(tr: Translator, choice: str | None) -> str:
    return tr.gettext(CHOICE_LABELS[VoteChoice(choice)]) if choice else tr.gettext("not yet")


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
    verdict = consent_rules.evaluate(ConsentRule(campaign.rule), consent.ballots(homes))
    status = tr.gettext(STATUS_LABELS[CampaignStatus(campaign.status)])
    lines = [
        _("Consent vote #{id}: {question}").format(
            id=campaign.id, question=short(campaign.question, 500)
        ),
        _("Scope: {scope}").format(scope=await scope_text(session, campaign, tr)),
        _("Rule: {rule}").format(rule=tr.gettext(RULE_LABELS[ConsentRule(campaign.rule)])),
        _("Status: {status}").format(status=status),
        "",
        *standing_lines(tr, verdict, homes),
    ]
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
    cid = campaign.id
    rows = []
    status = CampaignStatus(campaign.status)
    if status is not CampaignStatus.CLOSED:
        rows.append(
            [
                InlineKeyboardButton(_("Add households"), callback_data=f"{PREFIX}h:{cid}"),
                InlineKeyboardButton(_("Import a CSV file"), callback_data=f"{PREFIX}csv:{cid}"),
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(_("Households"), callback_data=f"{PREFIX}l:{cid}:0"),
            InlineKeyboardButton(_("Support chart"), callback_data=f"{PREFIX}ch:{cid}"),
        ]
    )
    if status is CampaignStatus.OPEN:
        rows.append(
            [
                InlineKeyboardButton(_("Record a vote"), callback_data=f"{PREFIX}rv:{cid}"),
                InlineKeyboardButton(_("Record a mediation"), callback_data=f"{PREFIX}m:{cid}"),
            ]
        )
        rows.append([InlineKeyboardButton(_("Close voting"), callback_data=f"{PREFIX}c:{cid}")])
    elif status is CampaignStatus.DRAFT:
        rows.append([InlineKeyboardButton(_("Open voting"), callback_data=f"{PREFIX}o:{cid}")])
    return InlineKeyboardMarkup(rows)


def open_button(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.gettext("Open vote #{id}").format(id=campaign.id),
                    callback_data=f"{PREFIX}v:{campaign.id}",
                )
            ]
        ]
    )


def report_rows(tr: Translator, parsed: ParsedRows, saved: consent.Saved) -> str:
    _ = tr.gettext
    lines = [
        _("Saved: {added} households added, {updated} corrected.").format(
            added=saved.added, updated=saved.updated
        )
    ]
    if parsed.bad:
        lines.append(_("These lines were not taken; please correct and send them again:"))
        for bad in parsed.bad:
            lines.append(
                _("Line {line}: {text} ({reason})").format(
                    line=bad.line,
                    text=short(bad.text, 80),
                    reason=tr.gettext(BAD_REASONS.get(bad.reason, bad.reason)),
                )
            )
    return fit(lines, _("…and {count} more lines."))


# --- staff: /campaign and creating a campaign -----------------------------------------------------


async def campaigns_menu(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not await private_only(update, context):
        return
    member = await me(context)
    if member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this. To vote, send /vote."))
        return
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
                _("Open #{id}").format(id=campaign.id), callback_data=f"{PREFIX}v:{campaign.id}"
            )
        )
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(_("New consent vote"), callback_data=f"{PREFIX}new")])
    await message.reply_text("\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def on_new(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    member = await me(context)
    if member is None or not member.is_staff:
        await refuse(query, context, _("Only community staff can do this."))
        return
    await ask(
        context,
        query.message.chat.id,
        flow=FLOW,
        step="building",
        data={"community": member.community_id},
    )
    buildings = (await buildings_of(context.session, member.community_id))[:60]
    buttons = [InlineKeyboardButton(b.name, callback_data=f"{PREFIX}b:{b.id}") for b in buildings]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(cancel_row(context.tr))
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _("Which building is the vote for?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def on_building(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "building")
    building_id = as_id(ids(query.data, PREFIX + "b:")[0])
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
    rows = [[InlineKeyboardButton(_("The whole building"), callback_data=f"{PREFIX}u:0")]]
    buttons = [InlineKeyboardButton(u.name, callback_data=f"{PREFIX}u:{u.id}") for u in units]
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
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    state = await state_in(context, query.message.chat.id, FLOW, "unit")
    unit_id = as_id(ids(query.data, PREFIX + "u:")[0])
    if state is None or unit_id is None:
        await refuse(query, context)
        return
    if unit_id:
        unit = await context.session.get(Unit, unit_id)
        if unit is None or unit.building_id != state.data["building"]:
            await refuse(query, context)
            return
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    await _ask_question(context, query.message.chat.id, {**state.data, "unit": unit_id or None})


async def on_rule(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    state = await state_in(context, query.message.chat.id, FLOW, "rule")
    raw = ids(query.data, PREFIX + "r:")[0]
    member = await me(context)
    if state is None or raw not in {r.value for r in ConsentRule} or member is None:
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
                unit_id=as_id(str(state.data.get("unit"))),
                question=str(state.data["question"]),
                rule=ConsentRule(raw),
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


# --- staff: the campaign card and its actions -----------------------------------------------------


async def _staff_campaign(
    update: Update, context: NotebookContext, raw: str | None
) -> tuple[ConsentCampaign, Member] | None:
    query = update.callback_query
    assert query is not None
    campaign_id = as_id(raw)
    campaign = await context.session.get(ConsentCampaign, campaign_id) if campaign_id else None
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None or not consent.may_manage(member.role):
        await refuse(query, context, context.tr.gettext("Only community staff can do this."))
        return None
    return campaign, member


async def on_view(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "v:")[0])
    if found is None:
        return
    campaign = found[0]
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        await campaign_text(context.session, campaign, context.tr, staff=True),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def on_add_households(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "h:")[0])
    if found is None or found[0].status == CampaignStatus.CLOSED:
        if found is not None:
            await refuse(query, context, _("Voting has closed."))
        return
    campaign = found[0]
    await ask(
        context, query.message.chat.id, flow=FLOW, step="lines", data={"campaign": campaign.id}
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "Send the households, one per line: room, owner, floor area in m², own space "
            "occupied (yes or no). Only the room is needed. For example:\n"
            "101, 许大爷, 60.5, yes\n102, 李阿姨, 75\n201"
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def on_csv(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "csv:")[0])
    if found is None or found[0].status == CampaignStatus.CLOSED:
        if found is not None:
            await refuse(query, context, _("Voting has closed."))
        return
    campaign = found[0]
    await ask(context, query.message.chat.id, flow=FLOW, step="csv", data={"campaign": campaign.id})
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        _(
            "Send the CSV file as a document. Columns: room, owner, floor area (m²), own space "
            "occupied (yes/no); a header line is fine. UTF-8 or GBK (Excel) both work."
        ),
        reply_markup=cancel_markup(context.tr),
    )


async def _save_rows(
    update: Update, context: NotebookContext, campaign_id: int, parsed: ParsedRows
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await context.session.get(ConsentCampaign, campaign_id)
    member = await me_in(context, campaign.community_id) if campaign else None
    await finish(context, message.chat.id)
    if campaign is None or member is None or not member.is_staff:
        await message.reply_text(_("Only community staff can do this."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            saved = await consent.save_households(
                context.session, campaign, parsed.rows, now=context.now()
            )
    except ConsentError:
        await message.reply_text(_("Voting has closed."))
        return
    await message.reply_text(
        report_rows(context.tr, parsed, saved), reply_markup=open_button(campaign, context.tr)
    )


async def _read_csv(update: Update, context: NotebookContext, campaign_id: int) -> None:
    message = update.message
    assert message is not None and message.document is not None
    _ = context.tr.gettext
    document = message.document
    name = (document.file_name or "").lower()
    is_text = (document.mime_type or "").startswith("text/") or name.endswith((".csv", ".txt"))
    if not is_text:
        await message.reply_text(
            _("Please send a .csv file (in Excel: Save as, CSV)."),
            reply_markup=cancel_markup(context.tr),
        )
        return
    if (document.file_size or 0) > CSV_MAX_BYTES:
        await message.reply_text(_("The file is too large (at most 1 MB)."))
        return
    data = context.scope.files.get(document.file_unique_id)  # read before the transaction
    if data is None:
        await message.reply_text(_("The file is too large (at most 1 MB)."))
        return
    await _save_rows(update, context, campaign_id, consent.parse_household_csv(data))


async def on_households_page(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    editing = query.data.startswith(PREFIX + "lp:")
    parts = ids(query.data, PREFIX + ("lp:" if editing else "l:"))
    found = await _staff_campaign(update, context, parts[0])
    if found is None:
        return
    campaign = found[0]
    homes = await consent.households(context.session, campaign)
    pages = max(1, (len(homes) + PAGE - 1) // PAGE)
    page = min(max(as_id(parts[-1]) or 0, 0), pages - 1)
    lines = [
        _("Households of vote #{id} ({page} of {pages}):").format(
            id=campaign.id, page=page + 1, pages=pages
        )
    ]
    for home in homes[page * PAGE : (page + 1) * PAGE]:
        line = _("{room} {owner} {area}{flag}: {choice}").format(
            room=short(home.room, 20),
            owner=short(home.owner_name or "", 20),
            area=m2(context.tr, consent.from_dm2(home.area_dm2)),
            flag=" ⚑" if home.own_space_occupied else "",
            choice=choice_label(context.tr, home.choice),
        )
        if home.vote_channel:
            line += _(" ({channel})").format(
                channel=context.tr.gettext(CHANNEL_LABELS[Channel(home.vote_channel)])
            )
        if home.concerns:
            line += "\n   " + _("Concerns: {text}").format(text=short(home.concerns, 120))
        lines.append(line)
    if not homes:
        lines.append(_("No households yet."))
    lines.append(_("⚑ own space occupied: must agree themselves."))
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=f"{PREFIX}lp:{campaign.id}:{page - 1}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("▶", callback_data=f"{PREFIX}lp:{campaign.id}:{page + 1}"))
    markup = InlineKeyboardMarkup([nav]) if nav else None
    text = fit(lines, _("…and {count} more lines."))
    await query.answer()
    if editing:
        await query.edit_message_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(query.message.chat.id, text, reply_markup=markup)


async def on_open(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "o:")[0])
    if found is None:
        return
    campaign = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            residents = await consent.open_campaign(context.session, campaign, now=context.now())
    except ConsentError:
        await refuse(query, context, _("Enter the households first (a vote can be opened once)."))
        return
    told = await consent.tell_residents(
        context.session, campaign, residents, kind=consent.CAMPAIGN_OPENED, now=context.now()
    )
    await query.answer(_("Voting is open; {count} residents are told.").format(count=told))
    await query.edit_message_text(
        await campaign_text(context.session, campaign, context.tr, staff=True),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def on_close(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "c:")[0])
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
                        _("Yes, close voting now"), callback_data=f"{PREFIX}cc:{campaign.id}"
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("No, keep it open"), callback_data=f"{PREFIX}v:{campaign.id}"
                    )
                ],
            ]
        )
    )


async def on_close_confirmed(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "cc:")[0])
    if found is None:
        return
    campaign = found[0]
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            residents = await consent.close_campaign(context.session, campaign, now=context.now())
    except ConsentError:
        await refuse(query, context, _("Voting has closed."))
        return
    await consent.tell_residents(
        context.session, campaign, residents, kind=consent.CAMPAIGN_CLOSED, now=context.now()
    )
    await query.answer()
    await query.edit_message_text(
        await campaign_text(context.session, campaign, context.tr, staff=True),
        reply_markup=staff_buttons(campaign, context.tr),
    )


async def on_chart(update: Update, context: NotebookContext) -> None:
    """The support-rate chart, for staff and for the residents of the campaign's scope."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    campaign_id = as_id(ids(query.data, PREFIX + "ch:")[0])
    campaign = await context.session.get(ConsentCampaign, campaign_id) if campaign_id else None
    member = await me_in(context, campaign.community_id) if campaign else None
    if campaign is None or member is None:
        await refuse(query, context)
        return
    if not member.is_staff and not consent.lives_in_scope(member.membership, campaign):
        await refuse(query, context, _("This vote is for another building."))
        return
    points = await consent.series(context.session, campaign, now=context.now())
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


# --- staff: recording a vote given door to door or at a meeting ---------------------------------


async def on_record_vote(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "rv:")[0])
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


async def _staff_step(
    update: Update, context: NotebookContext, step: str
) -> tuple[ConsentCampaign, dict[str, object]] | None:
    """A button of the vote-recording steps: the flow must be at `step`, by staff."""
    query = update.callback_query
    assert query is not None and query.message is not None
    state = await state_in(context, query.message.chat.id, FLOW, step)
    campaign_id = as_id(str(state.data.get("campaign"))) if state else None
    campaign = await context.session.get(ConsentCampaign, campaign_id) if campaign_id else None
    member = await me_in(context, campaign.community_id) if campaign else None
    if state is None or campaign is None or member is None or not member.is_staff:
        await refuse(query, context)
        return None
    return campaign, dict(state.data)


async def _record_step(
    update: Update,
    context: NotebookContext,
    *,
    step: str,
    prefix: str,
    keys: Mapping[str, str],
    field: str,
    then: tuple[str, str, list[list[InlineKeyboardButton]]],
) -> None:
    """One press of the "record a vote" wizard: check it is this staff member's `step`, keep
    the pressed value as `field`, then ask the next question (`then`: its step, its text and
    its buttons, above Cancel)."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    found = await _staff_step(update, context, step)
    value = keys.get(ids(query.data, PREFIX + prefix)[0])
    if found is None or value is None:
        if found is not None:
            await refuse(query, context)
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
        InlineKeyboardButton(_("Door to door"), callback_data=f"{PREFIX}rh:v"),
        InlineKeyboardButton(_("At a meeting"), callback_data=f"{PREFIX}rh:m"),
    ]
    await _record_step(
        update,
        context,
        step="rv_choice",
        prefix="rc:",
        keys=CHOICE_KEYS,
        field="choice",
        then=("rv_channel", _("How was it given?"), [ways]),
    )


async def on_record_channel(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    none = InlineKeyboardButton(_("No concerns"), callback_data=f"{PREFIX}rn")
    await _record_step(
        update,
        context,
        step="rv_channel",
        prefix="rh:",
        keys=CHANNEL_KEYS,
        field="channel",
        then=(
            "rv_concerns",
            _("Did they raise concerns? Type them, or press No concerns."),
            [[none]],
        ),
    )


async def on_record_no_concerns(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await _staff_step(update, context, "rv_concerns")
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
                    _("Record another vote"), callback_data=f"{PREFIX}rv:{campaign.id}"
                ),
                InlineKeyboardButton(
                    _("Open vote #{id}").format(id=campaign.id),
                    callback_data=f"{PREFIX}v:{campaign.id}",
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
    household = await context.session.get(ConsentHousehold, as_id(str(data["household"])) or 0)
    await finish(context, chat_id)
    if household is None:
        return _("This button is no longer valid.")
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent.cast_vote(
                context.session,
                campaign,
                household,
                choice=VoteChoice(str(data["choice"])),
                channel=Channel(str(data["channel"])),
                recorded_by_id=context.person.id,
                concerns=concerns,
                now=context.now(),
            )
    except ConsentError:
        return _("Voting is not open.")
    verdict = await consent.verdict(context.session, campaign)
    return _(
        "Recorded for room {room}: {choice} ({channel}). Support now: {heads} of households."
    ).format(
        room=short(household.room, 20),
        choice=choice_label(context.tr, household.choice),
        channel=context.tr.gettext(CHANNEL_LABELS[Channel(str(data["channel"]))]),
        heads=percent(context.tr, verdict.heads.support),
    )


# --- staff: mediation ---------------------------------------------------------------------------


async def on_mediation(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_campaign(update, context, ids(query.data, PREFIX + "m:")[0])
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
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _staff_step(update, context, "m_reached")
    reached = ids(query.data, PREFIX + "mr:")[0]
    if found is None or reached not in ("0", "1"):
        if found is not None:
            await refuse(query, context)
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
                reached=reached == "1",
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


# --- typed answers (staff) ----------------------------------------------------------------------


async def on_text(update: Update, context: NotebookContext) -> None:
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    _ = context.tr.gettext
    data = dict(state.data)
    if message.document is not None:
        if state.step == "csv":
            await _read_csv(update, context, int(data["campaign"]))
        else:
            await message.reply_text(_("Please answer in words."))
        return
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return
    chat_id = message.chat.id
    if state.step == "unit":
        building_id = int(data["building"])
        unit = await consent.unit_named(context.session, building_id=building_id, name=text)
        await _ask_question(context, chat_id, {**data, "unit": unit.id})
    elif state.step == "question":
        await ask(context, chat_id, flow=FLOW, step="rule", data={**data, "question": text[:2000]})
        rows = [
            [
                InlineKeyboardButton(
                    context.tr.gettext(label), callback_data=f"{PREFIX}r:{rule.value}"
                )
            ]
            for rule, label in RULE_BUTTONS.items()
        ]
        rows.append(cancel_row(context.tr))
        await message.reply_text(
            _("Which rule decides it? (Art. 278 is the law for rebuilding such as an elevator.)"),
            reply_markup=InlineKeyboardMarkup(rows),
        )
    elif state.step in ("lines", "csv"):
        await _save_rows(
            update, context, int(data["campaign"]), consent.parse_household_lines(text)
        )
    elif state.step == "rv_room":
        await _record_room(update, context, data, text)
    elif state.step == "rv_concerns":
        campaign = await context.session.get(ConsentCampaign, int(data["campaign"]))
        member = await me_in(context, campaign.community_id) if campaign else None
        if campaign is None or member is None or not member.is_staff:
            await finish(context, chat_id)
            await message.reply_text(_("Only community staff can do this."))
            return
        reply = await _record(context, chat_id, campaign, data, text)
        await message.reply_text(reply, reply_markup=_after_record(campaign, context.tr))
    elif state.step == "m_rooms":
        await _mediation_rooms(update, context, data, text)
    elif state.step in ("m_parties", "m_positions", "m_agreement"):
        await _mediation_text(update, context, state.step, data, text)
    else:
        await message.reply_text(_("Please choose with the buttons above."))


async def _record_room(
    update: Update, context: NotebookContext, data: dict[str, object], text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await context.session.get(ConsentCampaign, int(str(data["campaign"])))
    if campaign is None:
        await finish(context, message.chat.id)
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
                    InlineKeyboardButton(_("Agree"), callback_data=f"{PREFIX}rc:a"),
                    InlineKeyboardButton(_("Disagree"), callback_data=f"{PREFIX}rc:d"),
                    InlineKeyboardButton(_("Abstain"), callback_data=f"{PREFIX}rc:x"),
                ],
                cancel_row(context.tr),
            ]
        ),
    )


async def _mediation_rooms(
    update: Update, context: NotebookContext, data: dict[str, object], text: str
) -> None:
    message = update.message
    assert message is not None
    _ = context.tr.gettext
    campaign = await context.session.get(ConsentCampaign, int(str(data["campaign"])))
    if campaign is None:
        await finish(context, message.chat.id)
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


async def _mediation_text(
    update: Update, context: NotebookContext, step: str, data: dict[str, object], text: str
) -> None:
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
                        InlineKeyboardButton(_("Yes, agreed"), callback_data=f"{PREFIX}mr:1"),
                        InlineKeyboardButton(_("Not yet"), callback_data=f"{PREFIX}mr:0"),
                    ],
                    cancel_row(context.tr),
                ]
            ),
        )


# --- residents: /vote ---------------------------------------------------------------------------


async def vote_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not await private_only(update, context):
        return
    member = await me(context)
    if member is None:
        await message.reply_text(_("Please join your community first: send /start."))
        return
    campaigns = [
        c
        for c in await consent.campaigns_of(
            context.session, member.community_id, statuses=[CampaignStatus.OPEN]
        )
        if consent.lives_in_scope(member.membership, c)
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
                callback_data=f"{VOTE}b:{c.id}",
            )
        ]
        for c in campaigns[:10]
    ]
    await message.reply_text(_("Which vote?"), reply_markup=InlineKeyboardMarkup(rows))


def ballot_buttons(campaign: ConsentCampaign, tr: Translator) -> InlineKeyboardMarkup:
    _ = tr.gettext
    cid = campaign.id
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Agree"), callback_data=f"{VOTE}c:{cid}:a"),
                InlineKeyboardButton(_("Disagree"), callback_data=f"{VOTE}c:{cid}:d"),
                InlineKeyboardButton(_("Abstain"), callback_data=f"{VOTE}c:{cid}:x"),
            ],
            [InlineKeyboardButton(_("Support chart"), callback_data=f"{PREFIX}ch:{cid}")],
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
    _ = context.tr.gettext
    household = await consent.household_of(context.session, campaign, member.membership)
    if household is None and member.membership.room:
        await context.bot.send_message(
            chat_id,
            _(
                "Your room {room} is not on this vote's list. Please ask the community office."
            ).format(room=short(member.membership.room, 20)),
        )
        return
    if household is None:
        await ask(context, chat_id, flow=VOTE_FLOW, step="room", data={"campaign": campaign.id})
        await context.bot.send_message(
            chat_id,
            _(
                "To vote for your household, please type your room number (for example: 301). "
                "I will remember it."
            ),
            reply_markup=cancel_markup(context.tr),
        )
        return
    await context.bot.send_message(
        chat_id,
        await ballot_text(context, campaign, household),
        reply_markup=ballot_buttons(campaign, context.tr),
    )


async def _voter(
    update: Update, context: NotebookContext, campaign_id: int | None
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
    if not consent.lives_in_scope(member.membership, campaign):
        await refuse(query, context, _("This vote is for another building."))
        return None
    return campaign, member


async def on_ballot(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    found = await _voter(update, context, as_id(ids(query.data, VOTE + "b:")[0]))
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
    assert query is not None and query.data is not None and query.message is not None
    _ = context.tr.gettext
    parts = ids(query.data, VOTE + "c:")
    choice = CHOICE_KEYS.get(parts[-1]) if len(parts) == 2 else None
    found = await _voter(update, context, as_id(parts[0]))
    if found is None:
        return
    campaign, member = found
    household = await consent.household_of(context.session, campaign, member.membership)
    if choice is None or household is None:
        await refuse(query, context, _("Only a registered resident of the household can vote."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent.cast_vote(
                context.session,
                campaign,
                household,
                choice=choice,
                cast_by_id=context.person.id,
                now=context.now(),
            )
    except ConsentError:
        await refuse(query, context, _("Voting has closed."))
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
            [[InlineKeyboardButton(_("No concerns"), callback_data=f"{VOTE}n")]]
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
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    _ = context.tr.gettext
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return
    campaign = await context.session.get(
        ConsentCampaign, as_id(str(state.data.get("campaign"))) or 0
    )
    member = await me_in(context, campaign.community_id) if campaign else None
    if (
        campaign is None
        or member is None
        or not consent.lives_in_scope(member.membership, campaign)
    ):
        await finish(context, message.chat.id)
        await message.reply_text(_("This vote is for another building."))
        return
    if state.step == "room":
        household = await consent.link_home(context.session, campaign, member.membership, text)
        if household is None:
            await message.reply_text(
                _(
                    "Room {room} is not on this vote's list. Please check the number, or ask "
                    "the community office."
                ).format(room=short(text, 20)),
                reply_markup=cancel_markup(context.tr),
            )
            return
        await finish(context, message.chat.id)
        await message.reply_text(
            await ballot_text(context, campaign, household),
            reply_markup=ballot_buttons(campaign, context.tr),
        )
        return
    household = await consent.household_of(context.session, campaign, member.membership)
    await finish(context, message.chat.id)
    if household is None or household.id != state.data.get("household"):
        await message.reply_text(_("This button is no longer valid."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await consent.add_concerns(
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


# --- outbox renderers ---------------------------------------------------------------------------


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
            [[InlineKeyboardButton(_("Vote"), callback_data=f"{VOTE}b:{campaign.id}")]]
        ),
    )


async def render_closed(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    campaign = await session.get(ConsentCampaign, row.payload.get("campaign_id"))
    if campaign is None or campaign.status != CampaignStatus.CLOSED:
        return None
    _ = tr.gettext
    verdict = await consent.verdict(session, campaign)
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


def register(renderers: Renderers) -> None:
    renderers.register(consent.CAMPAIGN_OPENED, render_opened)
    renderers.register(consent.CAMPAIGN_CLOSED, render_closed)


# For a router that dispatches typed answers by flow name itself (flow -> handler).
INPUTS = {FLOW: flow_input(on_text), VOTE_FLOW: flow_input(on_vote_text)}

HANDLERS = [
    AwaitedInput({FLOW}, on_text, max_age=timedelta(hours=6)),
    # a resident's concerns or room come right after the vote, or not at all
    AwaitedInput({VOTE_FLOW}, on_vote_text, max_age=timedelta(minutes=30)),
    CommandHandler("campaign", campaigns_menu),
    CommandHandler("vote", vote_command),
    CallbackQueryHandler(on_new, pattern=f"^{PREFIX}new$"),
    CallbackQueryHandler(on_building, pattern=f"^{PREFIX}b:"),
    CallbackQueryHandler(on_unit, pattern=f"^{PREFIX}u:"),
    CallbackQueryHandler(on_rule, pattern=f"^{PREFIX}r:"),
    CallbackQueryHandler(on_view, pattern=f"^{PREFIX}v:"),
    CallbackQueryHandler(on_add_households, pattern=f"^{PREFIX}h:"),
    CallbackQueryHandler(on_csv, pattern=f"^{PREFIX}csv:"),
    CallbackQueryHandler(on_households_page, pattern=f"^{PREFIX}lp?:"),
    CallbackQueryHandler(on_open, pattern=f"^{PREFIX}o:"),
    CallbackQueryHandler(on_close, pattern=f"^{PREFIX}c:"),
    CallbackQueryHandler(on_close_confirmed, pattern=f"^{PREFIX}cc:"),
    CallbackQueryHandler(on_chart, pattern=f"^{PREFIX}ch:"),
    CallbackQueryHandler(on_record_vote, pattern=f"^{PREFIX}rv:"),
    CallbackQueryHandler(on_record_choice, pattern=f"^{PREFIX}rc:"),
    CallbackQueryHandler(on_record_channel, pattern=f"^{PREFIX}rh:"),
    CallbackQueryHandler(on_record_no_concerns, pattern=f"^{PREFIX}rn$"),
    CallbackQueryHandler(on_mediation, pattern=f"^{PREFIX}m:"),
    CallbackQueryHandler(on_mediation_outcome, pattern=f"^{PREFIX}mr:"),
    CallbackQueryHandler(on_ballot, pattern=f"^{VOTE}b:"),
    CallbackQueryHandler(on_vote, pattern=f"^{VOTE}c:"),
    CallbackQueryHandler(on_no_concerns, pattern=f"^{VOTE}n$"),
]
