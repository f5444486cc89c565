"""Consent campaigns for building projects (adding an elevator…): the handler list, the typed
answers of the staff flow, and the notices.

Staff (/campaign): create a campaign for a building or a unit with its question and rule
(campaign_setup), enter the households (typed lines or a CSV file: bad lines are reported, good
ones kept; campaign_households), open and close voting (campaign_setup), record votes given door
to door or at a meeting (campaign_door_votes), record mediations (campaign_mediation), and watch
the standing and the support-rate chart. Residents (/vote, or the button in the announcement):
cast their household's vote from the phone, change it until voting closes, and add their
concerns (campaign_votes), once their household is verified by a worker or a household code
(campaign_verify, which also has the export).

Typed answers wait in `chat_state` (flow "campaign" for staff, "vote" for residents). Every press
re-checks rights: staff of the campaign's community, or a resident (never staff) whose verified
household is on the campaign's list.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import CommandHandler

from handlers.council import (
    campaign_door_votes,
    campaign_households,
    campaign_mediation,
    campaign_setup,
    campaign_verify,
    campaign_votes,
)
from handlers.council.campaign_common import FLOW, VOTE_FLOW, Step
from handlers.shared.flows import Flow, cancel_markup, current_state
from runtime.context import NotebookContext
from runtime.rendering import Renderers
from storage import consent

# the staff flow's step -> what takes the text typed at it
STEPS: dict[str, Step] = {
    **campaign_setup.STEPS,
    **campaign_households.STEPS,
    **campaign_door_votes.STEPS,
    **campaign_mediation.STEPS,
    **campaign_verify.STEPS,
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


FLOWS = [
    Flow(FLOW, on_text, max_age=timedelta(hours=6), typed=True),
    # a resident's concerns or room come right after the vote, or not at all
    Flow(VOTE_FLOW, campaign_votes.on_vote_text, max_age=timedelta(minutes=30), typed=True),
]

HANDLERS = [
    CommandHandler("campaign", campaign_setup.campaigns_menu),
    CommandHandler("vote", campaign_votes.vote_command),
    *campaign_setup.HANDLERS,
    *campaign_households.HANDLERS,
    *campaign_door_votes.HANDLERS,
    *campaign_mediation.HANDLERS,
    *campaign_votes.HANDLERS,
    *campaign_verify.HANDLERS,
]
