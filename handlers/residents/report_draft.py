"""The report draft and its questions, shared by a resident's own report (report.py) and /log,
a worker logging an issue for a resident (handlers/staff/log_for_resident.py).

The draft (storage/reports.py) lives in `chat_state` (flow "report"); after every answer the bot
asks the first question the draft still lacks (`next_step`, `advance`). The buttons of every
question are declared here, since the questions are; each carries the draft's short token, and
`open_draft` answers a press on an older draft's button with the stale-button alert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.shared.common import escape, membership_in
from handlers.shared.fallback import answer_stale
from handlers.shared.issue_texts import cut, home_names, home_text
from handlers.shared.labels import category_label, channel_label, status_label
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage.categories import (
    CATEGORIES,
    COMMUNITY_CATEGORIES,
    DESK_CATEGORIES,
    suggest_category,
)
from storage.chat_state import clear_state, get_state, set_state
from storage.issue_support import backed_by, open_duplicates
from storage.masking import for_neighbours
from storage.models import STAFF_ROLES, Channel, Issue, Person, Role, Urgency
from storage.phones import last_four
from storage.reports import FLOW, ReportDraft, Step, next_step
from storage.residents import buildings_of, find_residents, normalise_phone

SUMMARY_DESCRIPTION_CHARS = 1500
DUPLICATE_TEXT_CHARS = 60  # of a neighbour's first line, in the "same problem?" offer
LOGGED_CHANNELS = (Channel.PHONE, Channel.DESK, Channel.VISIT, Channel.MEETING)

# --- the buttons: each carries the draft's token first ---------------------------------------

# the report's own questions (handled in report.py)
CANCEL = Button("rp.cancel", str)
SEND = Button("rp.send", str)
CHANGE = Button("rp.change", str)  # which answer to change?
EDIT = Button("rp.edit", str, ("cat", "desc", "media", "urg", "who", "none"))  # ask it again
CATEGORY = Button("rp.cat", str, tuple(CATEGORIES))
CATEGORY_LIST = Button("rp.list", str, ("desk", "back"))  # the desk's categories, or back
URGENT = Button("rp.urgent", str, ("y", "n"))
MEDIA_DONE = Button("rp.media", str)  # done with photos, or none
DUPLICATE = Button("rp.dup", str, int)  # the neighbour's issue is mine too
NOT_DUPLICATE = Button("rp.notdup", str)
# /log's questions about the resident (handled in handlers/staff/log_for_resident.py)
CHANNEL = Button("log.channel", str, tuple(c.value for c in LOGGED_CHANNELS))
RESIDENT = Button("log.who", str, int)  # a registered resident found by the search
SHOW_PHONE = Button("log.phone", str, int)  # reveal a found resident's phone (a logged look)
UNREGISTERED = Button("log.new", str)  # not registered: name and phone follow
NO_PHONE = Button("log.nophone", str)
BUILDING = Button("log.building", str, int)
NO_BUILDING = Button("log.nobuilding", str)


# --- the draft in chat_state ---------------------------------------------------------------------


async def save(context: NotebookContext, chat_id: int, draft: ReportDraft, step: Step) -> None:
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=context.person.telegram_user_id or chat_id,
        flow=FLOW,
        step=step,
        data=draft.dump(),
        now=context.now(),
    )


async def clear(context: NotebookContext, chat_id: int) -> None:
    await clear_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )


def draft_button(
    text: str, button: Button, draft: ReportDraft, *values: str | int
) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=button.data(draft.token, *values))


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


# --- questions -----------------------------------------------------------------------------------


async def duplicates_of(context: NotebookContext, draft: ReportDraft) -> list[Issue]:
    if draft.community_id is None or draft.category is None:
        return []
    found = await open_duplicates(
        context.session,
        community_id=draft.community_id,
        building_id=draft.building_id,
        category=draft.category,
    )
    if draft.reporter_id is None or not found:
        return found
    mine = await backed_by(context.session, person_id=draft.reporter_id)
    return [i for i in found if i.reporter_id != draft.reporter_id and i.id not in mine]


def category_keyboard(
    context: NotebookContext, draft: ReportDraft, *, desk: bool
) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    keys = list(DESK_CATEGORIES if desk else COMMUNITY_CATEGORIES)
    suggested = None if desk else suggest_category(draft.description)
    if suggested is not None:  # what the words point to, offered first
        keys.remove(suggested)
    buttons = [draft_button(category_label(context.tr, key), CATEGORY, draft, key) for key in keys]
    rows = _rows(buttons, 1 if desk else 2)
    if suggested is not None:  # alone on the first row (the question names it)
        label = category_label(context.tr, suggested)
        rows.insert(0, [draft_button(label, CATEGORY, draft, suggested)])
    if desk:
        rows.append([draft_button(_("« Back to community problems"), CATEGORY_LIST, draft, "back")])
    else:
        rows.append(
            [
                draft_button(
                    _("Service desk matters (social security, allowances…)"),
                    CATEGORY_LIST,
                    draft,
                    "desk",
                )
            ]
        )
    rows.append([draft_button(_("Cancel"), CANCEL, draft)])
    return InlineKeyboardMarkup(rows)


async def summary_text(context: NotebookContext, draft: ReportDraft) -> str:
    tr = context.tr
    _ = tr.gettext
    lines = [_("Please check your report:")]
    if draft.on_behalf:
        name = await reporter_name(context, draft)
        lines.append(
            _("For: {name} · via {channel}").format(
                name=name, channel=channel_label(tr, draft.channel or Channel.PHONE)
            )
        )
    lines.append(_("Problem: {category}").format(category=category_label(tr, draft.category or "")))
    lines.append(
        _("What is wrong: {text}").format(
            text=escape(cut(draft.description, SUMMARY_DESCRIPTION_CHARS))
        )
    )
    extras = []
    photos = draft.count("photo") + draft.count("document")
    if photos:
        extras.append(tr.ngettext("{n} photo", "{n} photos", photos).format(n=photos))
    if draft.count("voice"):
        extras.append(_("voice message"))
    if draft.latitude is not None:
        extras.append(_("location"))
    if extras:
        lines.append(_("Attached: {items}").format(items=_(", ").join(extras)))
    home = await home_text(context.session, draft.building_id, draft.unit_id)
    if home:
        lines.append(_("Building: {home}").format(home=home))
    urgent = draft.urgency == Urgency.EMERGENCY
    lines.append(_("Urgent: yes") if urgent else _("Urgent: no"))
    return "\n".join(lines)


async def reporter_name(context: NotebookContext, draft: ReportDraft) -> str:
    if draft.reporter_id is not None:
        person = await context.session.get(Person, draft.reporter_id)
        name = person.full_name if person else ""
        phone = last_four(person.phone) if person else None  # seen in full only by a logged look
    else:
        name, phone = draft.reporter_name or "", draft.reporter_phone
    return escape(f"{name} ({phone})" if phone else name)


async def question(
    context: NotebookContext, draft: ReportDraft, step: Step, duplicates: list[Issue]
) -> tuple[str, InlineKeyboardMarkup | None]:
    tr = context.tr
    _ = tr.gettext
    cancel = [draft_button(_("Cancel"), CANCEL, draft)]
    if step is Step.JOIN:
        return (
            _(
                "You have not joined your community yet. Please send /start to join: "
                "I will keep what you wrote and continue afterwards."
            ),
            None,
        )
    if step is Step.CHANNEL:
        buttons = [
            draft_button(channel_label(tr, c), CHANNEL, draft, c.value) for c in LOGGED_CHANNELS
        ]
        return (
            _("Logging an issue for a resident. How did they reach you?"),
            InlineKeyboardMarkup([*_rows(buttons, 2), cancel]),
        )
    if step is Step.WHO:
        return (
            _(
                "Who is it for? Write their name, building or phone number and I will look "
                "them up. If they are not registered, press the button."
            ),
            InlineKeyboardMarkup(
                [
                    [draft_button(_("Not registered: enter name and phone"), UNREGISTERED, draft)],
                    cancel,
                ]
            ),
        )
    if step is Step.WHO_NAME:
        return _("What is the resident's name?"), InlineKeyboardMarkup([cancel])
    if step is Step.WHO_PHONE:
        return (
            _("Their phone number, so the community can call back?"),
            InlineKeyboardMarkup([[draft_button(_("No phone number"), NO_PHONE, draft)], cancel]),
        )
    if step is Step.BUILDING:
        assert draft.community_id is not None
        buildings = await buildings_of(context.session, draft.community_id)
        buttons = [draft_button(b.name, BUILDING, draft, b.id or 0) for b in buildings[:60]]
        return (
            _("Which building is it about?"),
            InlineKeyboardMarkup(
                [*_rows(buttons, 3), [draft_button(_("Skip"), NO_BUILDING, draft)]]
            ),
        )
    if step is Step.CATEGORY:
        text = _("What is the problem about?")
        if draft.description:
            text += "\n«" + escape(cut(draft.description, 300)) + "»"
        suggested = suggest_category(draft.description)
        if suggested is not None:
            text += "\n" + _("👉 It sounds like «{category}»: the first button.").format(
                category=category_label(tr, suggested)
            )
        return text, category_keyboard(context, draft, desk=False)
    if step is Step.DUPLICATES:
        lines = [_("Your neighbours have already reported something like this:")]
        dup_rows: list[list[InlineKeyboardButton]] = []
        for issue in duplicates:
            # a neighbour's words (or the summary a voice report was given), without their
            # phone or room (storage/masking.py)
            said = issue.summary or issue.description or ""
            words = for_neighbours(said.strip().split("\n")[0])
            lines.append(
                _("No. {number} · {category} · {building}: «{text}» ({status})").format(
                    number=issue.number,
                    category=category_label(tr, issue.category),
                    building=await home_text(context.session, issue.building_id, None),
                    text=escape(cut(words, DUPLICATE_TEXT_CHARS)),
                    status=status_label(tr, issue.status),
                )
            )
            dup_rows.append(
                [
                    draft_button(
                        _("No. {number} is my problem too").format(number=issue.number),
                        DUPLICATE,
                        draft,
                        issue.id or 0,
                    )
                ]
            )
        lines.append(_("Is it the same problem?"))
        dup_rows.append([draft_button(_("No, mine is different"), NOT_DUPLICATE, draft)])
        return "\n".join(lines), InlineKeyboardMarkup(dup_rows)
    if step is Step.DESCRIPTION:
        return (
            _("Please tell me in a few words what is wrong. You can also send a voice message."),
            InlineKeyboardMarkup([cancel]),
        )
    if step is Step.MEDIA:
        photos = draft.count("photo") + draft.count("document")
        if photos or draft.latitude is not None:
            return (
                _("Got it. You can send more, or press Done."),
                InlineKeyboardMarkup([[draft_button(_("Done"), MEDIA_DONE, draft)], cancel]),
            )
        return (
            _(
                "Would you like to add a photo or your location? Send them now "
                "(several photos are fine), or press No photo."
            ),
            InlineKeyboardMarkup([[draft_button(_("No photo"), MEDIA_DONE, draft)], cancel]),
        )
    if step is Step.URGENCY:
        return (
            _("Is anyone in danger, or is property at risk?"),
            InlineKeyboardMarkup(
                [
                    [
                        draft_button(_("Yes, it is urgent"), URGENT, draft, "y"),
                        draft_button(_("No"), URGENT, draft, "n"),
                    ]
                ]
            ),
        )
    return (
        await summary_text(context, draft),
        InlineKeyboardMarkup(
            [
                [draft_button(_("✅ Send"), SEND, draft)],
                [
                    draft_button(_("Change"), CHANGE, draft),
                    draft_button(_("Cancel"), CANCEL, draft),
                ],
            ]
        ),
    )


async def advance(
    context: NotebookContext,
    chat_id: int,
    draft: ReportDraft,
    *,
    edit: Message | None = None,
    prefix: str = "",
) -> Step:
    """Save the draft and ask its next missing question (editing `edit` when a button led
    here, so the chat does not fill up with old questions)."""
    step = next_step(draft)
    no_buildings = step is Step.BUILDING and not await buildings_of(
        context.session, draft.community_id or 0
    )
    if no_buildings:
        draft.building_asked = True  # nothing to choose from
        step = next_step(draft)
    duplicates: list[Issue] = []
    if step is Step.DUPLICATES:
        duplicates = await duplicates_of(context, draft)
        if not duplicates:
            draft.duplicates_checked = True
            step = next_step(draft)
    await save(context, chat_id, draft, step)
    text, markup = await question(context, draft, step, duplicates)
    if prefix:
        text = f"{prefix}\n{text}"
    if edit is not None:
        await edit.edit_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(chat_id, text, reply_markup=markup)
    return step


# --- /log: typed answers about the resident ------------------------------------------------------


async def answer_about_resident(
    context: NotebookContext, message: Message, draft: ReportDraft, step: Step
) -> bool:
    """/log's typed answers: a name to look up, an unregistered resident's name or phone.
    False when `step` asks none of these (the message is then part of the report)."""
    _ = context.tr.gettext
    chat_id = message.chat_id
    if step is Step.WHO and message.text:
        await _search_resident(context, chat_id, draft, message.text)
        return True
    if step is Step.WHO_NAME and message.text:
        draft.reporter_name = message.text.strip()[:200]
        await advance(context, chat_id, draft)
        return True
    if step is Step.WHO_PHONE and message.text:
        phone = normalise_phone(message.text)
        if phone is None:
            await advance(
                context, chat_id, draft, prefix=_("That does not look like a phone number.")
            )
            return True
        draft.reporter_phone, draft.phone_asked = phone, True
        await advance(context, chat_id, draft)
        return True
    return False


async def _search_resident(
    context: NotebookContext, chat_id: int, draft: ReportDraft, query: str
) -> None:
    _ = context.tr.gettext
    assert draft.community_id is not None
    buttons = []
    async with context.notebook.db.reading() as reader:  # off the loop: every chat goes on
        found = await find_residents(reader, community_id=draft.community_id, query=query)
        for person, member in found:
            home = await home_names(reader, member.building_id, member.unit_id)
            phone = last_four(person.phone)
            label = " · ".join(x for x in (person.full_name, home, phone) if x)
            row = [draft_button(cut(label, 60), RESIDENT, draft, person.id or 0)]
            if phone:  # the whole number only on a press, which is logged
                row.append(draft_button(_("📞 Show"), SHOW_PHONE, draft, person.id or 0))
            buttons.append(row)
    buttons.append([draft_button(_("Not registered: enter name and phone"), UNREGISTERED, draft)])
    buttons.append([draft_button(_("Cancel"), CANCEL, draft)])
    if found:
        text = _("Is it one of these residents? Or write another name.")
    else:
        text = _("Nobody found for «{query}». Write another name, or press Not registered.").format(
            query=escape(cut(query, 100))
        )
    await save(context, chat_id, draft, Step.WHO)
    await context.bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(buttons))


# --- presses -------------------------------------------------------------------------------------


async def may_log(context: NotebookContext, draft: ReportDraft) -> bool:
    if draft.community_id is None or context.person.id is None:
        return False
    member = await membership_in(context, draft.community_id)
    return (
        member is not None
        and Role(member.role) in STAFF_ROLES
        and draft.logged_by_id == context.person.id
    )


async def may_report(context: NotebookContext, draft: ReportDraft) -> bool:
    if draft.on_behalf:
        return await may_log(context, draft)
    if draft.community_id is None or context.person.id is None:
        return False
    member = await membership_in(context, draft.community_id)
    return member is not None and draft.reporter_id == context.person.id


@dataclass
class Pressed:
    """A press on the open draft's button: the draft, its chat and the question's message."""

    draft: ReportDraft
    chat_id: int
    message: Message | None


async def open_draft(
    update: Update,
    context: NotebookContext,
    token: str,
    *,
    replayed: Callable[[int], Awaitable[bool]] | None = None,
) -> Pressed | None:
    """The draft a press answers, if it is still the open one and the presser's; otherwise the
    press is answered as stale (after `replayed`, given the chat, has had its say) and None."""
    query = update.callback_query
    assert query is not None
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    state = await get_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    draft = ReportDraft.load(state.data) if state and state.flow == FLOW else None
    if draft is None or draft.token != token:
        if replayed is None or not await replayed(chat_id):
            await answer_stale(query, context)
        return None
    if not await may_report(context, draft):
        await answer_stale(query, context)
        return None
    message = query.message if isinstance(query.message, Message) else None
    return Pressed(draft, chat_id, message)


async def answered(update: Update, context: NotebookContext, pressed: Pressed) -> None:
    """The press changed the draft: ask the next question in its place."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await advance(context, pressed.chat_id, pressed.draft, edit=pressed.message)
