"""Reporting a problem in one's own words: the resident's conversation, and the buttons every
report draft shares (/log's own are in handlers/staff/log_for_resident.py).

A resident who starts with "楼道灯坏了三天了" is asked only the category, photos (skippable),
urgency and to confirm: four taps to an issue number. The draft and its questions are in
report_draft.py; every press first finds the open draft there (`open_draft`), so a button of an
older draft answers with the stale-button alert and changes nothing.
"""

from __future__ import annotations

from sqlmodel import select
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import CommandHandler

from handlers.residents.report_content import absorb, react
from handlers.residents.report_draft import (
    CANCEL,
    CATEGORY,
    CATEGORY_LIST,
    CHANGE,
    DUPLICATE,
    EDIT,
    MEDIA_DONE,
    NOT_DUPLICATE,
    SEND,
    URGENT,
    Pressed,
    advance,
    answer_about_resident,
    answered,
    category_keyboard,
    clear,
    draft_button,
    duplicates_of,
    may_log,
    open_draft,
    reporter_name,
    save,
    summary_text,
)
from handlers.shared.common import acting_in, escape, send_about_issue
from handlers.shared.fallback import answer_stale
from handlers.shared.flows import current_state
from handlers.shared.issue_texts import cut, deadline_text, owner_text
from handlers.shared.labels import status_label
from handlers.shared.members import private_only
from runtime.context import NotebookContext
from storage import reports
from storage.followups import support_added
from storage.issue_lifecycle import TransitionNotAllowed
from storage.issue_support import add_support
from storage.issue_titles import needs_summary
from storage.issues import NewAttachment, back_with_words
from storage.models import Issue, Membership, Urgency
from storage.notifications import issue_changed
from storage.people import current_membership
from storage.reports import ReportDraft, Step, next_step
from storage.residents import remember_issue_message

# --- starting ------------------------------------------------------------------------------------


async def over_the_limit(context: NotebookContext) -> bool:
    person = context.person
    assert person.id is not None
    count = await reports.reports_in_last_hour(
        context.session, person_id=person.id, now=context.now()
    )
    return count >= context.notebook.settings.max_reports_per_hour


def limit_text(context: NotebookContext) -> str:
    _ = context.tr.gettext
    return _(
        "You have sent {count} reports within the last hour. Thank you! We are working on them. "
        "Please wait a little before sending a new one."
    ).format(count=context.notebook.settings.max_reports_per_hour)


async def new_draft(context: NotebookContext) -> ReportDraft | None:
    """A fresh draft for the person's community, their home preset; None when not joined."""
    current = await acting_in(context)
    if current is None:
        return None
    member, community = current
    return ReportDraft(
        community_id=community.id,
        reporter_id=context.person.id,
        building_id=member.building_id,
        unit_id=member.unit_id,
    )


async def start_from_message(update: Update, context: NotebookContext) -> None:
    """Anything sent outside another flow starts a report with it."""
    message = update.effective_message
    assert message is not None
    draft = await new_draft(context)
    if draft is None:  # not joined: keep what they wrote, tell them how to join
        draft = ReportDraft(community_id=None)
        absorb(draft, message)
        await advance(context, message.chat_id, draft)
        return
    if await over_the_limit(context):
        await message.reply_text(limit_text(context))
        return
    absorb(draft, message)
    await advance(context, message.chat_id, draft)


async def report_command(update: Update, context: NotebookContext) -> None:
    if not await private_only(update, context):
        return
    message = update.effective_message
    assert message is not None
    await ask_for_report(context, message)


async def ask_for_report(context: NotebookContext, message: Message) -> None:
    """/report or the menu's button: a new draft, asking what the problem is about."""
    _ = context.tr.gettext
    draft = await new_draft(context)
    if draft is None:
        await message.reply_text(_("Please send /start to join your community first."))
        return
    if await over_the_limit(context):
        await message.reply_text(limit_text(context))
        return
    await advance(context, message.chat_id, draft)


async def resume_after_join(
    context: NotebookContext, chat_id: int, data: dict[str, object], member: Membership
) -> None:
    """What someone wrote before joining: continue their report now that they have."""
    draft = ReportDraft.load(dict(data))
    draft.community_id = member.community_id
    draft.reporter_id = context.person.id
    draft.building_id, draft.unit_id = member.building_id, member.unit_id
    if not draft.description and not draft.attachments:
        await clear(context, chat_id)
        return
    _ = context.tr.gettext
    await advance(context, chat_id, draft, prefix=_("Now, about what you wrote before:"))


# --- answers typed or sent while the flow is open ------------------------------------------------


async def on_input(update: Update, context: NotebookContext) -> None:
    state = current_state(context)
    assert state is not None  # the router calls a flow's answer only while it is open
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    draft = ReportDraft.load(state.data)
    step = Step(state.step) if state.step in Step.__members__.values() else next_step(draft)
    chat_id = message.chat_id
    if step is Step.JOIN and await current_membership(context.session, context.person):
        joined = await new_draft(context)
        assert joined is not None
        draft.community_id, draft.reporter_id = joined.community_id, joined.reporter_id
        draft.building_id, draft.unit_id = joined.building_id, joined.unit_id
    elif draft.on_behalf and not await may_log(context, draft):
        await clear(context, chat_id)
        await message.reply_text(_("Only community staff can log issues for residents."))
        return
    if await answer_about_resident(context, message, draft, step):
        return
    answered = absorb(draft, message)
    if not answered:  # the rest of an album: taken quietly
        await save(context, chat_id, draft, step)
        return
    asked_for = step in (Step.DESCRIPTION, Step.MEDIA, Step.JOIN)
    await advance(context, chat_id, draft, prefix="" if asked_for else _("Noted."))


# --- presses on any report draft -----------------------------------------------------------------


async def on_cancel(update: Update, context: NotebookContext) -> None:
    pressed = await open_draft(update, context, *CANCEL.values(update))
    if pressed is None:
        return
    query = update.callback_query
    assert query is not None
    await clear(context, pressed.chat_id)
    await query.answer()
    if pressed.message:
        await pressed.message.edit_text(context.tr.gettext("Cancelled. Nothing was sent."))


async def on_send(update: Update, context: NotebookContext) -> None:
    # A confirmation with its draft gone may be a replay of one already filed (the draft is
    # cleared in the same commit as the issue is filed); with the draft there, it cannot be.
    (token,) = SEND.values(update)

    async def replayed(chat_id: int) -> bool:
        return await _confirm_again(update, context, chat_id)

    pressed = await open_draft(update, context, token, replayed=replayed)
    if pressed is not None:
        await _confirm(update, context, pressed.draft, pressed.chat_id)


async def on_duplicate(update: Update, context: NotebookContext) -> None:
    token, issue_id = DUPLICATE.values(update)
    pressed = await open_draft(update, context, token)
    if pressed is not None:
        await _join_duplicate(update, context, pressed, issue_id)


async def on_category_list(update: Update, context: NotebookContext) -> None:
    token, which = CATEGORY_LIST.values(update)
    pressed = await open_draft(update, context, token)
    if pressed is None:
        return
    query = update.callback_query
    assert query is not None
    if pressed.message is None:  # no message to show the list on
        await answer_stale(query, context)
        return
    await query.answer()
    await pressed.message.edit_reply_markup(
        reply_markup=category_keyboard(context, pressed.draft, desk=which == "desk")
    )


async def on_change(update: Update, context: NotebookContext) -> None:
    pressed = await open_draft(update, context, *CHANGE.values(update))
    if pressed is None:
        return
    query = update.callback_query
    assert query is not None
    if pressed.message is None:  # no message to show the summary on
        await answer_stale(query, context)
        return
    _ = context.tr.gettext
    await query.answer()
    await pressed.message.edit_text(
        await summary_text(context, pressed.draft) + "\n\n" + _("What would you like to change?"),
        reply_markup=_change_keyboard(context, pressed.draft),
    )


def _change_keyboard(context: NotebookContext, draft: ReportDraft) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    rows = [
        [
            draft_button(_("Category"), EDIT, draft, "cat"),
            draft_button(_("What is wrong"), EDIT, draft, "desc"),
        ],
        [
            draft_button(_("Photos and location"), EDIT, draft, "media"),
            draft_button(_("Urgency"), EDIT, draft, "urg"),
        ],
    ]
    if draft.on_behalf:
        rows.append([draft_button(_("Resident"), EDIT, draft, "who")])
    rows.append([draft_button(_("« Back"), EDIT, draft, "none")])
    return InlineKeyboardMarkup(rows)


async def on_edit(update: Update, context: NotebookContext) -> None:
    token, field = EDIT.values(update)
    pressed = await open_draft(update, context, token)
    if pressed is None:
        return
    if field == "who" and not pressed.draft.on_behalf:
        query = update.callback_query
        assert query is not None
        await answer_stale(query, context)
        return
    _reopen_question(pressed.draft, field)
    await answered(update, context, pressed)


def _reopen_question(draft: ReportDraft, field: str) -> None:
    if field == "cat":
        draft.category, draft.duplicates_checked = None, False
    elif field == "desc":
        draft.description = None
    elif field == "media":
        draft.attachments = [a for a in draft.attachments if a.get("kind") == "voice"]
        draft.latitude = draft.longitude = None
        draft.media_done = False
    elif field == "urg":
        draft.urgency = None
    elif field == "who":
        draft.who = draft.reporter_id = draft.reporter_name = draft.reporter_phone = None
        draft.phone_asked = draft.building_asked = False
        draft.building_id = draft.unit_id = None
        draft.duplicates_checked = False


async def on_category(update: Update, context: NotebookContext) -> None:
    token, category = CATEGORY.values(update)
    pressed = await open_draft(update, context, token)
    if pressed is None:
        return
    if pressed.draft.category != category:  # another category may have other neighbours' issues
        pressed.draft.duplicates_checked = False
    pressed.draft.category = category
    await answered(update, context, pressed)


async def on_urgent(update: Update, context: NotebookContext) -> None:
    token, urgent = URGENT.values(update)
    pressed = await open_draft(update, context, token)
    if pressed is None:
        return
    pressed.draft.urgency = Urgency.EMERGENCY if urgent == "y" else Urgency.NORMAL
    await answered(update, context, pressed)


async def on_media_done(update: Update, context: NotebookContext) -> None:
    pressed = await open_draft(update, context, *MEDIA_DONE.values(update))
    if pressed is None:
        return
    pressed.draft.media_done = True
    await answered(update, context, pressed)


async def on_not_duplicate(update: Update, context: NotebookContext) -> None:
    pressed = await open_draft(update, context, *NOT_DUPLICATE.values(update))
    if pressed is None:
        return
    pressed.draft.duplicates_checked = True
    await answered(update, context, pressed)


# --- the end of the flow: an issue number, or joining a neighbour's issue ------------------------


async def _confirm(
    update: Update, context: NotebookContext, draft: ReportDraft, chat_id: int
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    if next_step(draft) is not Step.CONFIRM:
        await query.answer()
        await advance(context, chat_id, draft)
        return
    if not draft.on_behalf and await over_the_limit(context):
        # the draft stays: they can send it in a little while
        await query.answer(limit_text(context), show_alert=True)
        return
    issue = await reports.file_report(
        context.session,
        draft,
        now=context.now(),
        limits=context.notebook.settings.time_limits,
        source_update_id=update.update_id,
    )
    await clear(context, chat_id)
    await query.answer()  # this and the number go out once the issue is committed
    text = await confirmation_text(context, issue, draft)
    await _show(context, query.message, chat_id, text, issue)
    await react(context, chat_id, draft.message_ids)


async def _confirm_again(update: Update, context: NotebookContext, chat_id: int) -> bool:
    """The same "confirm" press delivered again (a crash after the issue was saved, before the
    answer went out; durable intake replays it): the draft is gone, so answer from the issue."""
    query = update.callback_query
    assert query is not None
    issue = (
        await context.session.exec(select(Issue).where(Issue.source_update_id == update.update_id))
    ).first()
    if issue is None or context.person.id not in (issue.reporter_id, issue.logged_by_id):
        return False
    await query.answer()
    again = ReportDraft(
        community_id=issue.community_id,
        channel=issue.channel,
        reporter_id=issue.reporter_id,
        logged_by_id=issue.logged_by_id,
    )
    await _show(
        context, query.message, chat_id, await confirmation_text(context, issue, again), issue
    )
    return True


async def _show(
    context: NotebookContext, message: object, chat_id: int, text: str, issue: Issue
) -> None:
    """Edit the summary into the final answer (or send it), and note that the message speaks
    of the issue. Both go out after the update's commit (delivery/answers.py)."""
    assert issue.id is not None
    if isinstance(message, Message):
        await message.edit_text(text)  # a replayed press: "not modified", which is fine
        await remember_issue_message(
            context.session,
            chat_id=chat_id,
            message_id=message.message_id,
            issue_id=issue.id,
            now=context.now(),
        )
        return
    await send_about_issue(context, chat_id, text, issue_id=issue.id)


async def confirmation_text(context: NotebookContext, issue: Issue, draft: ReportDraft) -> str:
    tr = context.tr
    _ = tr.gettext
    if draft.on_behalf:
        text = _("Logged as No. {number} for {name}. The community answers {deadline}.").format(
            number=issue.number,
            name=await reporter_name(context, draft),
            deadline=deadline_text(tr, issue),
        )
    else:
        text = _(
            "Thank you! Your issue is No. {number}.\n"
            "The community will answer {deadline}.\n"
            "I will tell you every step here. To add something later, reply to this message."
        ).format(number=issue.number, deadline=deadline_text(tr, issue))
        if needs_summary(issue):  # a voice message or photos only
            text += "\n" + _("If you can, reply with a few words about it: they become its title.")
    if issue.urgency == Urgency.EMERGENCY:
        text += "\n" + _("If anyone is in danger right now, call 110, 119 or 120.")
    return text


async def _join_duplicate(
    update: Update, context: NotebookContext, pressed: Pressed, issue_id: int
) -> None:
    """ "This is my problem too": back the neighbour's issue and hear its updates."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    draft, chat_id = pressed.draft, pressed.chat_id
    offered = await duplicates_of(context, draft)
    issue = next((i for i in offered if i.id == issue_id), None)
    if issue is None:
        await query.answer(_("That issue is no longer open."), show_alert=True)
        return
    session = context.session
    person_id = await reports.ensure_reporter(session, draft)
    assert person_id is not None and issue.id is not None
    location = (
        (draft.latitude, draft.longitude)
        if draft.latitude is not None and draft.longitude is not None
        else None
    )
    try:
        if draft.description or draft.attachments or location:
            # what they wrote, sent and pinned for the report they drop goes with their "me
            # too", and the owner hears it
            event = await back_with_words(
                session,
                issue,
                person_id=person_id,
                now=context.now(),
                text=draft.description,
                attachments=[NewAttachment(**a) for a in draft.attachments],
                location=location,
            )
            await support_added(session, issue, event, now=context.now())
        else:
            await add_support(session, issue, person_id=person_id, now=context.now())
            await issue_changed(session, issue, now=context.now())
    except TransitionNotAllowed:
        await query.answer(_("That issue is no longer open."), show_alert=True)
        return
    await clear(context, chat_id)
    await query.answer()
    await react(context, chat_id, draft.message_ids)
    lines = [
        _(
            "Thank you. You now back No. {number} ({status}), and I will tell you every step."
        ).format(number=issue.number, status=status_label(context.tr, issue.status))
        if not draft.on_behalf
        else _("{name} now backs No. {number} ({status}).").format(
            name=await reporter_name(context, draft),
            number=issue.number,
            status=status_label(context.tr, issue.status),
        )
    ]
    owner = await owner_text(session, issue)
    if owner:
        lines.append(_("Responsible: {owner}").format(owner=owner))
    if issue.plan:
        lines.append(_("Plan: {plan}").format(plan=escape(cut(issue.plan, 1000))))
    await _show(context, query.message, chat_id, "\n".join(lines), issue)


HANDLERS = [
    CommandHandler("report", report_command),
    CANCEL.handler(on_cancel),
    SEND.handler(on_send),
    DUPLICATE.handler(on_duplicate),
    CATEGORY_LIST.handler(on_category_list),
    CHANGE.handler(on_change),
    EDIT.handler(on_edit),
    CATEGORY.handler(on_category),
    URGENT.handler(on_urgent),
    MEDIA_DONE.handler(on_media_done),
    NOT_DUPLICATE.handler(on_not_duplicate),
]
