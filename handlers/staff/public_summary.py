"""/summary N text: a worker writes the public summary of issue N, the only description open
data publishes of it (storage/open311.py). Without a summary an issue is published with its
category, status, dates and building only.

Staff only, in a private chat, for an issue of the community they act in. `/summary N` shows
the current summary; `/summary N -` removes it. A summary with a phone number in it, or with
the resident's own words copied in, is refused: it is written for the public.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape
from handlers.shared.offices import private_command_as
from runtime.context import NotebookContext
from runtime.i18n import N_
from storage import issues as rules
from storage import open311
from storage.models import STAFF_ROLES

REFUSALS = {
    "long": N_("A public summary has at most 500 characters."),
    "phone": N_("A public summary may not contain a phone number."),
    "resident_words": N_(
        "Please write the summary in your own words: the resident's words are never published."
    ),
}
CLEAR = "-"


async def summary_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, STAFF_ROLES, _("Public summaries are written by the community's staff.")
    )
    if asked is None:
        return
    message, community = asked
    assert community.id is not None
    words = (message.text or "").split(maxsplit=2)
    usage = _(
        "Send /summary, the issue's number and a short summary for the public, for example "
        "/summary 12 The stairwell light in building 3 was replaced. /summary 12 - removes it."
    )
    if len(words) < 2 or not words[1].lstrip("#").isdigit():
        await message.reply_text(usage)
        return
    number = int(words[1].lstrip("#"))
    issue = await rules.get_issue(context.session, community_id=community.id, number=number)
    if issue is None:
        await message.reply_text(
            _("There is no No. {number} in {community}.").format(
                number=number, community=escape(community.name)
            )
        )
        return
    if len(words) < 3:
        if issue.public_summary:
            await message.reply_text(
                _("The public summary of No. {number}: {summary}").format(
                    number=number, summary=escape(issue.public_summary)
                )
            )
        else:
            await message.reply_text(
                _("No. {number} has no public summary.").format(number=number) + "\n" + usage
            )
        return
    text = words[2].strip()
    try:
        await open311.set_public_summary(
            context.session, issue, None if text == CLEAR else text, now=context.now()
        )
    except open311.SummaryError as exc:
        await message.reply_text(_(REFUSALS[exc.reason]))
        return
    if issue.public_summary is None:
        await message.reply_text(_("No. {number} has no public summary now.").format(number=number))
        return
    await message.reply_text(
        _(
            "The public summary of No. {number} is now: {summary}\n"
            "Open data shows it as the issue's description."
        ).format(number=number, summary=escape(issue.public_summary))
    )


HANDLERS = [CommandHandler("summary", summary_command)]
