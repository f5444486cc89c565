"""Following one's own issues: /my, an issue's public history, adding to it by replying to
any bot message about it, and withdrawing it with a reason.

Buttons carry the issue's database id, never its per-community number, and every press checks
`may_see` (the reporter or a supporter): a forged press on someone else's issue shows nothing.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CommandHandler

from handlers.residents.report_content import react
from handlers.shared.common import escape, is_private, send_about_issue
from handlers.shared.fallback import answer_stale
from handlers.shared.flows import current_state
from handlers.shared.issue_texts import (
    MAX_TEXT,
    chunks,
    cut,
    event_line,
    header,
    status_line,
    title,
    title_text,
)
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_
from storage import issues as rules
from storage.chat_state import clear_state, get_state, set_state
from storage.followups import info_added
from storage.issue_lifecycle import OPEN, Action, IssueError, may
from storage.issue_support import may_see
from storage.issue_titles import needs_summary, set_summary
from storage.issues import NewAttachment
from storage.models import Issue, IssueStatus
from storage.notifications import issue_changed, notify_audience
from storage.people import role_in
from storage.residents import issue_of_message

SHOW = Button("my.show", int)  # an issue's history
FULL = Button("my.full", int)  # its whole description
WITHDRAW = Button("my.withdraw", int)  # withdraw it: asks the reason
WITHDRAW_FLOW = "withdraw"
LIST_LIMIT = 20
LIST_BUDGET = MAX_TEXT - 200  # HTML source is at least as long as the text Telegram counts
DETAIL_DESCRIPTION_CHARS = 1500
HISTORY_BUDGET = MAX_TEXT - 600  # room for the header, description and footer


async def list_mine(update: Update, context: NotebookContext, *, open_only: bool = False) -> None:
    """/my: the person's issues, open ones first (only those with `open_only`: the answer to
    "how is my issue going?")."""
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    person_id = context.person.id
    assert person_id is not None
    issues = await rules.issues_of_person(context.session, person_id=person_id)
    if not issues:
        await message.reply_text(
            _("You have no issues yet. Whenever something is wrong, just write to me.")
        )
        return
    # open ones first, newest first within each
    issues.sort(key=lambda i: IssueStatus(i.status) not in OPEN)
    if open_only:
        issues = [i for i in issues if IssueStatus(i.status) in OPEN]
        lines = [_("Your open issues (tap one to see its history):")]
    else:
        lines = [_("Your issues (tap one to see its history):")]
    buttons = []
    budget = LIST_BUDGET
    for issue in issues[:LIST_LIMIT]:
        backed = "" if issue.reporter_id == person_id else " " + _("(you back it)")
        entry = (
            f"<b>{header(context.tr, issue)}</b>{backed}\n{title(context.tr, issue)}\n"
            + await status_line(context.session, context.tr, issue, context.now())
        )
        budget -= len(entry) + 2
        if budget < 0:  # one message holds at most 4096 characters
            break
        lines.append(entry)
        first_line = title_text(context.tr, issue.description, issue.summary).splitlines() or [""]
        label = _("No. {number}: {title}").format(number=issue.number, title=cut(first_line[0], 30))
        buttons.append([InlineKeyboardButton(label, callback_data=SHOW.data(issue.id or 0))])
    if len(issues) > len(buttons):
        lines.append(_("…and {count} older ones.").format(count=len(issues) - len(buttons)))
    await message.reply_text("\n\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons))


async def _visible_issue(context: NotebookContext, issue_id: object) -> Issue | None:
    """The issue behind a button or a flow, only if this person may see it."""
    if not isinstance(issue_id, int) or isinstance(issue_id, bool):
        return None
    issue = await context.session.get(Issue, issue_id)
    person_id = context.person.id
    if issue is None or person_id is None:
        return None
    if not await may_see(context.session, issue, person_id=person_id):
        return None
    return issue


async def detail_text(context: NotebookContext, issue: Issue) -> tuple[str, bool]:
    """The issue with its public history; second value: whether the description was cut."""
    _ = context.tr.gettext
    session = context.session
    description_cut = len(issue.description or "") > DETAIL_DESCRIPTION_CHARS
    lines = [
        f"<b>{header(context.tr, issue)}</b>",
        escape(cut(issue.description, DETAIL_DESCRIPTION_CHARS)),
        await status_line(session, context.tr, issue, context.now()),
    ]
    if issue.plan:
        lines.append(_("Plan: {plan}").format(plan=escape(cut(issue.plan, 500))))
    lines.append("")
    history = [
        await event_line(session, context.tr, e)
        for e in await rules.history(session, issue, public_only=True)
    ]
    shown: list[str] = []
    budget = HISTORY_BUDGET - sum(len(x) for x in lines)
    for line in reversed(history):  # the newest steps matter most when space runs out
        if budget - len(line) < 0:
            shown.insert(0, "…")
            break
        shown.insert(0, line)
        budget -= len(line) + 1
    lines.extend(shown)
    if IssueStatus(issue.status) in OPEN:
        lines.append("")
        lines.append(_("To add something, reply to this message."))
    return "\n".join(lines), description_cut


async def _pressed_issue(
    update: Update, context: NotebookContext, issue_id: int
) -> tuple[Issue, int] | None:
    """The issue of a press and its chat; None (answered) when the presser may not see it."""
    query = update.callback_query
    assert query is not None
    issue = await _visible_issue(context, issue_id)
    if issue is None or issue.id is None:
        await query.answer(context.tr.gettext("You can only see your own issues."), show_alert=True)
        return None
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    return issue, chat_id


async def on_show(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    pressed = await _pressed_issue(update, context, *SHOW.values(update))
    if pressed is None:
        return
    issue, chat_id = pressed
    assert issue.id is not None
    await query.answer()
    text, description_cut = await detail_text(context, issue)
    buttons = []
    if description_cut:
        buttons.append(
            [InlineKeyboardButton(_("Show the full text"), callback_data=FULL.data(issue.id))]
        )
    if await _may_withdraw(context, issue):
        buttons.append(
            [InlineKeyboardButton(_("Withdraw this issue"), callback_data=WITHDRAW.data(issue.id))]
        )
    await send_about_issue(
        context,
        chat_id,
        text,
        issue_id=issue.id,
        reply_markup=InlineKeyboardMarkup(buttons) if buttons else None,
    )


async def on_full_text(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    pressed = await _pressed_issue(update, context, *FULL.values(update))
    if pressed is None:
        return
    issue, chat_id = pressed
    assert issue.id is not None
    await query.answer()
    for piece in chunks(issue.description or ""):
        await send_about_issue(context, chat_id, escape(piece), issue_id=issue.id)


async def on_withdraw(update: Update, context: NotebookContext) -> None:
    pressed = await _pressed_issue(update, context, *WITHDRAW.values(update))
    if pressed is not None:
        await _ask_withdraw_reason(update, context, *pressed)


# --- withdrawing ---------------------------------------------------------------------------------

REASONS = {"1": N_("It has been solved"), "2": N_("I reported it by mistake")}
REASON = Button("my.reason", int, ("0", *REASONS))  # the issue; 0: keep it open


async def _may_withdraw(context: NotebookContext, issue: Issue) -> bool:
    role = await role_in(
        context.session, person_id=context.person.id or 0, community_id=issue.community_id
    )
    return IssueStatus(issue.status) in OPEN and may(
        Action.WITHDRAW, role=role, person_id=context.person.id, issue=issue
    )


async def _ask_withdraw_reason(
    update: Update, context: NotebookContext, issue: Issue, chat_id: int
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    if not await _may_withdraw(context, issue):
        await query.answer(
            _("Only the person who reported it can withdraw an open issue."), show_alert=True
        )
        return
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=context.person.telegram_user_id or chat_id,
        flow=WITHDRAW_FLOW,
        step="reason",
        data={"issue_id": issue.id},
        now=context.now(),
    )
    await query.answer()
    buttons = [
        *(
            [
                InlineKeyboardButton(
                    context.tr.gettext(label), callback_data=REASON.data(issue.id or 0, key)
                )
            ]
            for key, label in REASONS.items()
        ),
        [InlineKeyboardButton(_("Keep it open"), callback_data=REASON.data(issue.id or 0, "0"))],
    ]
    await context.bot.send_message(
        chat_id,
        _("Why do you want to withdraw No. {number}? Choose, or write the reason.").format(
            number=issue.number
        ),
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def on_reason_button(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue_id, choice = REASON.values(update)
    issue = await _visible_issue(context, issue_id)
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    state = await get_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    pending = state is not None and state.flow == WITHDRAW_FLOW
    if issue is None or not pending or state is None or state.data.get("issue_id") != issue.id:
        await answer_stale(query, context)
        return
    message = query.message if isinstance(query.message, Message) else None
    if choice == "0":
        await clear_state(context.session, chat_id=chat_id, user_id=state.user_id)
        await query.answer()
        if message:
            await message.edit_text(_("Fine, No. {number} stays open.").format(number=issue.number))
        return
    await query.answer()
    await withdraw(
        context, issue, chat_id, reason=context.tr.gettext(REASONS[choice]), edit=message
    )


async def on_reason_text(update: Update, context: NotebookContext) -> None:
    state = current_state(context)
    assert state is not None  # the router calls a flow's answer only while it is open
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    issue = await _visible_issue(context, state.data.get("issue_id"))
    if issue is None:
        await clear_state(context.session, chat_id=state.chat_id, user_id=state.user_id)
        return
    if not message.text:
        await message.reply_text(_("Please write the reason in a few words, or press a button."))
        return
    await withdraw(context, issue, message.chat_id, reason=message.text.strip())


async def withdraw(
    context: NotebookContext,
    issue: Issue,
    chat_id: int,
    *,
    reason: str,
    edit: Message | None = None,
) -> None:
    _ = context.tr.gettext
    await clear_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    if not await _may_withdraw(context, issue):
        await context.bot.send_message(
            chat_id, _("No. {number} can no longer be withdrawn.").format(number=issue.number)
        )
        return
    assert context.person.id is not None
    try:
        event = await rules.withdraw(
            context.session,
            issue,
            reason=reason[:2000],
            actor_id=context.person.id,
            now=context.now(),
        )
    except IssueError:  # a worker changed it this very moment
        await context.bot.send_message(
            chat_id,
            _("No. {number} has just changed. Please try again.").format(number=issue.number),
        )
        return
    await notify_audience(
        context.session, issue, event, now=context.now(), skip_person_id=context.person.id
    )
    await issue_changed(context.session, issue, now=context.now())
    text = _("No. {number} has been withdrawn. Thank you for letting us know.").format(
        number=issue.number
    )
    if edit is not None:
        await edit.edit_text(text)
    else:
        await context.bot.send_message(chat_id, text)


# --- adding to an issue by replying to a bot message about it ----------------------------------


async def issue_replied_to(context: NotebookContext, message: Message) -> Issue | None:
    """The issue a reply is about (the replied-to bot message was about it), if any."""
    target = message.reply_to_message
    if target is None or target.from_user is None or target.from_user.id != context.bot.id:
        return None
    issue_id = await issue_of_message(
        context.session, chat_id=message.chat_id, message_id=target.message_id
    )
    return await context.session.get(Issue, issue_id) if issue_id else None


async def add_info(update: Update, context: NotebookContext, issue: Issue) -> None:
    """Append the reply's words, photos, voice or location to the issue; the staff see it."""
    message = update.effective_message
    assert message is not None and issue.id is not None
    _ = context.tr.gettext
    person_id = context.person.id
    assert person_id is not None
    role = await role_in(context.session, person_id=person_id, community_id=issue.community_id)
    if not await may_see(context.session, issue, person_id=person_id) and role is None:
        await message.reply_text(_("You can only see your own issues."))
        return
    if not may(Action.ADD_INFO, role=role, person_id=person_id, issue=issue):
        await message.reply_text(
            _(
                "Only the person who reported No. {number} can add to it. To report "
                "something new, just write to me without replying."
            ).format(number=issue.number)
        )
        return
    if IssueStatus(issue.status) is IssueStatus.RESOLVED:
        await message.reply_text(
            _(
                "No. {number} is marked as resolved. Please answer above whether it is solved."
            ).format(number=issue.number)
        )
        return
    if IssueStatus(issue.status) not in OPEN:
        await message.reply_text(
            _(
                "No. {number} is closed. If the problem is back, just write to me "
                "(without replying) to report it again."
            ).format(number=issue.number)
        )
        return
    attachments = attachments_of(message)
    text = message.text or message.caption
    point = message.location or (message.venue.location if message.venue else None)
    location = (point.latitude, point.longitude) if point is not None else None
    if not text and not attachments and location is None:
        await message.reply_text(_("Please reply with words, a photo or a voice message."))
        return
    try:
        event = await rules.append_info(
            context.session,
            issue,
            text=text,
            attachments=attachments,
            actor_id=person_id,
            now=context.now(),
            location=location,
        )
    except IssueError:
        await message.reply_text(
            _("No. {number} has just changed. Please try again.").format(number=issue.number)
        )
        return
    await info_added(context.session, issue, event, now=context.now())
    await react(context, message.chat_id, [message.message_id])
    named = ""
    if text and issue.reporter_id == person_id and needs_summary(issue):
        # the reporter's first words for a voice or photo report: they name it from now on
        named = await set_summary(context.session, issue, text, now=context.now(), replace=False)
        await issue_changed(context.session, issue, now=context.now())
    added = _("Added to No. {number}. The community will see it.").format(number=issue.number)
    if named:
        added += "\n" + _("Its title is now «{summary}».").format(summary=escape(named))
    await send_about_issue(context, message.chat_id, added, issue_id=issue.id)


def attachments_of(message: Message) -> list[NewAttachment]:
    found = []
    if message.photo:
        photo = message.photo[-1]
        found.append(NewAttachment("photo", photo.file_id, photo.file_unique_id, "image/jpeg"))
    if message.voice is not None:
        v = message.voice
        found.append(NewAttachment("voice", v.file_id, v.file_unique_id, v.mime_type))
    doc = message.document
    if doc is not None and (doc.mime_type or "").startswith("image/"):
        found.append(NewAttachment("document", doc.file_id, doc.file_unique_id, doc.mime_type))
    return found


HANDLERS = [
    CommandHandler("my", list_mine),
    SHOW.handler(on_show),
    FULL.handler(on_full_text),
    WITHDRAW.handler(on_withdraw),
    REASON.handler(on_reason_button),
]
