"""Consent campaigns for building projects (adding an elevator…): the handler list, the typed
answers of the staff flow, and the notices.

Staff (/campaign): create a campaign for a building or a unit with its question and rule
(campaign_setup), enter the households (typed lines or a CSV file: bad lines are reported, good
ones kept; campaign_households), open and close voting (campaign_setup), record votes given door
to door or at a meeting (campaign_door_votes), record mediations (campaign_mediation), and watch
the standing and the support-rate chart. Residents (/vote, or the button in the announcement):
cast their household's vote from the phone, change it until voting closes, and add their
concerns (campaign_votes).

Typed answers wait in `chat_state` (flow "campaign" for staff, "vote" for residents). Every press
re-checks rights: staff of the campaign's community, or a registered resident of the campaign's
scope whose membership is linked to a household by room.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.council import (
    campaign_door_votes,
    campaign_households,
    campaign_mediation,
    campaign_setup,
    campaign_votes,
)
from handlers.council.campaign_common import FLOW, PREFIX, VOTE, VOTE_FLOW, Step
from handlers.shared.flows import AwaitedInput, cancel_markup, current_state, flow_input
from runtime.context import NotebookContext
from runtime.rendering import Renderers
from storage import consent

# the staff flow's step -> what takes the text typed at it
STEPS: dict[str, Step] = {
    **campaign_setup.STEPS,
    **campaign_households.STEPS,
    **campaign_door_votes.STEPS,
    **campaign_mediation.STEPS,
}


async def on_text(update: Update, context: NotebookContext) -> None:
    message = update.message
    state = current_state(context)
    assert message is not None and state is not None
    _ = context.tr.gettext
    if message.document is not None:
        if state.step == "csv":
            await campaign_households.read_csv(update, context, int(state.data["campaign"]))
        else:
            await message.reply_text(_("Please answer in words."))
        return
    text = (message.text or "").strip()
    if not text:
        await message.reply_text(
            _("Please answer in words."), reply_markup=cancel_markup(context.tr)
        )
        return
    step = STEPS.get(state.step)
    if step is None:
        await message.reply_text(_("Please choose with the buttons above."))
        return
    await step(update, context, state, text)


def register(renderers: Renderers) -> None:
    renderers.register(consent.CAMPAIGN_OPENED, campaign_votes.render_opened)
    renderers.register(consent.CAMPAIGN_CLOSED, campaign_setup.render_closed)


# For a router that dispatches typed answers by flow name itself (flow -> handler).
INPUTS = {FLOW: flow_input(on_text), VOTE_FLOW: flow_input(campaign_votes.on_vote_text)}

HANDLERS = [
    AwaitedInput({FLOW}, on_text, max_age=timedelta(hours=6)),
    # a resident's concerns or room come right after the vote, or not at all
    AwaitedInput({VOTE_FLOW}, campaign_votes.on_vote_text, max_age=timedelta(minutes=30)),
    CommandHandler("campaign", campaign_setup.campaigns_menu),
    CommandHandler("vote", campaign_votes.vote_command),
    CallbackQueryHandler(campaign_setup.on_new, pattern=f"^{PREFIX}new$"),
    CallbackQueryHandler(campaign_setup.on_building, pattern=f"^{PREFIX}b:"),
    CallbackQueryHandler(campaign_setup.on_unit, pattern=f"^{PREFIX}u:"),
    CallbackQueryHandler(campaign_setup.on_rule, pattern=f"^{PREFIX}r:"),
    CallbackQueryHandler(campaign_setup.on_view, pattern=f"^{PREFIX}v:"),
    CallbackQueryHandler(campaign_households.on_add_households, pattern=f"^{PREFIX}h:"),
    CallbackQueryHandler(campaign_households.on_csv, pattern=f"^{PREFIX}csv:"),
    CallbackQueryHandler(campaign_households.on_households_page, pattern=f"^{PREFIX}lp?:"),
    CallbackQueryHandler(campaign_setup.on_open, pattern=f"^{PREFIX}o:"),
    CallbackQueryHandler(campaign_setup.on_close, pattern=f"^{PREFIX}c:"),
    CallbackQueryHandler(campaign_setup.on_close_confirmed, pattern=f"^{PREFIX}cc:"),
    CallbackQueryHandler(campaign_votes.on_chart, pattern=f"^{PREFIX}ch:"),
    CallbackQueryHandler(campaign_door_votes.on_record_vote, pattern=f"^{PREFIX}rv:"),
    CallbackQueryHandler(campaign_door_votes.on_record_choice, pattern=f"^{PREFIX}rc:"),
    CallbackQueryHandler(campaign_door_votes.on_record_channel, pattern=f"^{PREFIX}rh:"),
    CallbackQueryHandler(campaign_door_votes.on_record_no_concerns, pattern=f"^{PREFIX}rn$"),
    CallbackQueryHandler(campaign_mediation.on_mediation, pattern=f"^{PREFIX}m:"),
    CallbackQueryHandler(campaign_mediation.on_mediation_outcome, pattern=f"^{PREFIX}mr:"),
    CallbackQueryHandler(campaign_votes.on_ballot, pattern=f"^{VOTE}b:"),
    CallbackQueryHandler(campaign_votes.on_vote, pattern=f"^{VOTE}c:"),
    CallbackQueryHandler(campaign_votes.on_no_concerns, pattern=f"^{VOTE}n$"),
]
