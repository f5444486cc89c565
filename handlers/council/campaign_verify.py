"""Consent campaigns, staff: verifying households and the campaign's export.

**Verify a household**: the worker types a room of the list, then presses the resident they
checked (residents who say they live in the scope, those who gave this room first); the
resident becomes a verified member of that household and is told. The room's verified members
are listed with "↩ Undo" (handlers/council/household_checks.py). **Household codes**: one
single-use code per household on the list (a code still unused is printed again, not replaced),
as printable PDF slips (eight to an A4 page: room, code, QR code of its link, how to use it;
runtime/posters.py) to hand out door to door, and a CSV sheet for the office; the code's link
(`/start home-<code>`), or the code typed at /vote or in /profile, verifies whoever uses it.
**Export (CSV)**: every household with its verified members, its vote and whether it counts,
then the vote log: who cast each vote and how, the worker who recorded it, the proxy and the
evidence.
"""

from __future__ import annotations

import asyncio
import csv
import io

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from handlers.council.campaign_common import (
    CHANNEL_LABELS,
    CODES,
    EXPORT,
    FLOW,
    VERIFY,
    Step,
    choice_label,
    flow_campaign,
    refusal_text,
    staff_campaign,
    staff_step,
)
from handlers.council.household_checks import undo_row
from handlers.shared.common import deep_link
from handlers.shared.fitting import short
from handlers.shared.flows import ask, cancel_markup, cancel_row, finish
from handlers.shared.members import me_in, refuse
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.posters import Slip, SlipText, render_slips_pdf
from storage import consent, consent_votes, household_checks, households
from storage.chat_state import FlowState
from storage.households import HouseholdError
from storage.models import (
    Building,
    Channel,
    Community,
    ConsentCampaign,
    ConsentHousehold,
    Membership,
    Person,
    Unit,
)

PICK = Button("camp.vfpick", int)  # the resident (person id) the worker checked
SLIP_LOCALE = "zh_Hans"  # slips are handed to residents at the door, in Chinese
MAX_CANDIDATES = 12


def defuse(value: str | None) -> str:
    """User text for a spreadsheet cell: verbatim, unless it could start a formula."""
    text = value or ""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


async def on_verify(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    found = await staff_campaign(update, context, VERIFY)
    if found is None:
        return
    campaign = found[0]
    await ask(
        context, query.message.chat.id, flow=FLOW, step="vf_room", data={"campaign": campaign.id}
    )
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id,
        context.tr.gettext("Which household did you check? Type the room number (e.g. 101)."),
        reply_markup=cancel_markup(context.tr),
    )


async def on_room_text(
    update: Update, context: NotebookContext, state: FlowState, text: str
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
    household = await consent.household_by_room(context.session, campaign, text)
    if household is None:
        await message.reply_text(
            _("Room {room} is not on this vote's list. Please type the room again.").format(
                room=short(text, 20)
            ),
            reply_markup=cancel_markup(context.tr),
        )
        return
    people = await consent_votes.claimants(
        context.session, campaign, household, limit=MAX_CANDIDATES
    )
    undo_rows = await _undo_rows(context, campaign, household)
    if not people:
        await finish(context, message.chat.id)
        text = _(
            "No resident of this building is waiting to be verified for room {room}. "
            "They can join with the household code (Household codes on the card)."
        ).format(room=short(household.room, 20))
        if undo_rows:
            text += "\n" + _("Its verified members can be undone below (a mistake, moved out).")
        await message.reply_text(
            text, reply_markup=InlineKeyboardMarkup(undo_rows) if undo_rows else None
        )
        return
    await ask(
        context,
        message.chat.id,
        flow=FLOW,
        step="vf_pick",
        data={"campaign": campaign.id, "household": household.id},
    )
    rows = [
        [InlineKeyboardButton(_label(person, member_row), callback_data=PICK.data(person.id or 0))]
        for person, member_row in people
    ]
    await message.reply_text(
        _("Room {room}: who did you check as a member of this household?").format(
            room=short(household.room, 20)
        ),
        reply_markup=InlineKeyboardMarkup([*rows, *undo_rows, cancel_row(context.tr)]),
    )


async def _undo_rows(
    context: NotebookContext, campaign: ConsentCampaign, household: ConsentHousehold
) -> list[list[InlineKeyboardButton]]:
    """An "↩ Undo" button for each verified member of the room (household_checks.py)."""
    members = await households.verified_members(context.session, campaign)
    rows = []
    for person_id in members.get(households.normalise_room(household.room), []):
        home = await households.verified_home(
            context.session, person_id=person_id, community_id=campaign.community_id
        )
        person = await context.session.get(Person, person_id)
        if home is not None and person is not None:
            rows.append(undo_row(context.tr, home, person.full_name))
    return rows


def _label(person: Person, member: Membership) -> str:
    """A button's text (not HTML): the name, and the room they gave, if any."""
    name = (person.full_name or "—")[:30]
    return f"{name} ({member.room[:20]})" if member.room else name


async def on_pick(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_step(update, context, "vf_pick")
    if found is None:
        return
    campaign, data = found
    (person_id,) = PICK.values(update)
    household = await context.session.get(ConsentHousehold, int(str(data["household"])))
    worker = await me_in(context, campaign.community_id)
    resident = await consent_votes.membership_of(context.session, person_id, campaign.community_id)
    person = await context.session.get(Person, person_id)
    if household is None or household.campaign_id != campaign.id or worker is None:
        await refuse(query, context)
        return
    if resident is None or person is None or not consent_votes.lives_in_scope(resident, campaign):
        await refuse(query, context, _("This vote is for another building."))
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await household_checks.confirm(  # the resident is told
                context.session,
                resident,
                worker=worker.membership,
                building_id=campaign.building_id,
                unit_id=campaign.unit_id,
                room=household.room,
                now=context.now(),
            )
    except HouseholdError as refused:
        await refuse(query, context, refusal_text(context.tr, refused.refusal))
        return
    await finish(context, query.message.chat.id)
    await query.answer()
    await query.edit_message_text(
        _(
            "✅ {name} is now a verified member of room {room}: they can vote from the phone."
        ).format(name=short(person.full_name, 40), room=short(household.room, 20))
    )


async def on_codes(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_campaign(update, context, CODES)
    if found is None:
        return
    campaign = found[0]
    homes = await consent.households(context.session, campaign)
    if not homes:
        await refuse(query, context, _("No households yet."))
        return
    codes = await households.codes_for(
        context.session,
        community_id=campaign.community_id,
        building_id=campaign.building_id,
        unit_id=campaign.unit_id,
        rooms=[h.room for h in homes],
        created_by_id=context.person.id,
        now=context.now(),
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Room"), _("Owner"), _("Household code"), _("Link")])
    slips = []
    place = await _place(context, campaign)
    for home, code in zip(homes, codes, strict=True):
        link = deep_link(context.bot.username, households.LINK_PREFIX + code.token)
        writer.writerow([defuse(home.room), defuse(home.owner_name), code.token, link])
        slips.append(Slip(place=place, room=home.room[:20], code=code.token, link=link))
    await query.answer()
    zh = context.notebook.i18n.translator(SLIP_LOCALE, context.tr.tz)
    community = await context.session.get(Community, campaign.community_id)
    words = SlipText(
        community=community.name if community else "",
        title=zh.gettext("Household verification code"),
        room_label=zh.gettext("Room {room}"),
        lines=(
            zh.gettext("Scan the code, or send the bot /profile"),
            zh.gettext("and type this code, to verify your household."),
            zh.gettext("Each code works once: one per family member."),
        ),
    )
    await context.bot.send_document(
        query.message.chat.id,
        InputFile(
            out.getvalue().encode("utf-8-sig"), filename=f"household-codes-{campaign.id}.csv"
        ),
        caption=_(
            "Household codes for vote #{id}: print the sheet and hand each household its slip. "
            "Each code verifies one person (open the link, or type the code at /vote); print "
            "again for more family members. Codes still unused are printed again, not replaced."
        ).format(id=campaign.id),
    )
    pdf = await asyncio.to_thread(render_slips_pdf, words, slips)
    await context.bot.send_document(
        query.message.chat.id,
        InputFile(pdf, filename=f"household-slips-{campaign.id}.pdf"),
        caption=_(
            "Household code slips for vote #{id}: print them (eight to a page), cut along the "
            "dashed lines and hand each household its slip at the door."
        ).format(id=campaign.id),
    )


async def _place(context: NotebookContext, campaign: ConsentCampaign) -> str:
    """The building (and unit) as a slip prints it."""
    building = await context.session.get(Building, campaign.building_id)
    unit = await context.session.get(Unit, campaign.unit_id) if campaign.unit_id else None
    name = building.name if building else ""
    return f"{name} {unit.name}"[:20] if unit else name[:20]


async def on_export(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    found = await staff_campaign(update, context, EXPORT)
    if found is None:
        return
    campaign = found[0]
    homes = await consent.households(context.session, campaign)
    checked = await consent_votes.verification(context.session, campaign, homes)
    names = await consent_votes.names_of_voters(context.session, campaign)
    tr = context.tr
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Consent vote #{id}").format(id=campaign.id), defuse(campaign.question)])
    writer.writerow(
        [
            _("Verified households"),
            _("{verified} of {total}").format(verified=checked.verified, total=checked.households),
        ]
    )
    writer.writerow([])
    writer.writerow(
        [_("Room"), _("Owner"), _("Verified members"), _("Vote"), _("Counted"), _("How")]
    )
    for home in homes:
        counted = home.choice is not None and home.vote_verified
        writer.writerow(
            [
                defuse(home.room),
                defuse(home.owner_name),
                checked.members.get(home.id or 0, 0),
                choice_label(tr, home.choice) if home.choice else "",
                _("yes") if counted else (_("no") if home.choice else ""),
                tr.gettext(CHANNEL_LABELS[Channel(home.vote_channel)]) if home.vote_channel else "",
            ]
        )
    writer.writerow([])
    writer.writerow(
        [
            _("Time"),
            _("Room"),
            _("Vote"),
            _("Before"),
            _("How"),
            _("Cast by"),
            _("Recorded by"),
            _("Proxy"),
            _("Evidence"),
            _("Verified"),
            _("Concerns"),
        ]
    )
    rooms = {h.id: h.room for h in homes}
    for entry in await consent_votes.vote_log(context.session, campaign):
        writer.writerow(
            [
                entry.at.astimezone(tr.tz).strftime("%Y-%m-%d %H:%M"),
                defuse(rooms.get(entry.household_id, "")),
                choice_label(tr, entry.choice),
                choice_label(tr, entry.previous_choice) if entry.previous_choice else "",
                tr.gettext(CHANNEL_LABELS.get(Channel(entry.channel), entry.channel)),
                defuse(names.get(entry.cast_by_id or 0, "")),
                defuse(names.get(entry.recorded_by_id or 0, "")),
                defuse(entry.proxy_name),
                defuse(entry.evidence),
                _("yes") if entry.verified else _("no"),
                defuse(entry.concerns),
            ]
        )
    await query.answer()
    await context.bot.send_document(
        query.message.chat.id,
        InputFile(out.getvalue().encode("utf-8-sig"), filename=f"consent-vote-{campaign.id}.csv"),
        caption=_("Vote #{id}: verified households {verified} of {total}.").format(
            id=campaign.id, verified=checked.verified, total=checked.households
        ),
    )


STEPS: dict[str, Step] = {"vf_room": on_room_text}

HANDLERS = [
    VERIFY.handler(on_verify),
    PICK.handler(on_pick),
    CODES.handler(on_codes),
    EXPORT.handler(on_export),
]
