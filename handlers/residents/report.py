"""Reporting a problem in one's own words, and /log: a worker reporting one for a resident.

One flow for both. The draft (storage/reports.py) lives in `chat_state` (flow "report"); after
every answer the bot asks the first question the draft still lacks (`next_step`), so a resident
who starts with "楼道灯坏了三天了" is asked only the category, photos (skippable), urgency and
to confirm: four taps to an issue number. /log adds three questions in front (how the resident
reached the community, who they are, their building) and carries channel / reporter / logged_by.

Buttons carry the draft's short token: a button from an older draft answers with an alert.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.ext import CallbackQueryHandler, CommandHandler

from handlers.shared.common import acting_in, escape, is_private, membership_in, send_about_issue
from handlers.shared.issue_texts import (
    cut,
    deadline_text,
    home_names,
    home_text,
    owner_text,
    title,
)
from handlers.shared.labels import category_label, channel_label, status_label
from runtime.context import NotebookContext
from storage import reports
from storage.categories import CATEGORIES, COMMUNITY_CATEGORIES, DESK_CATEGORIES
from storage.chat_state import FlowState, clear_state, get_state, set_state
from storage.followups import support_added
from storage.issue_lifecycle import TransitionNotAllowed
from storage.issue_support import add_support, backed_by, open_duplicates
from storage.issues import NewAttachment, back_with_words
from storage.models import (
    STAFF_ROLES,
    Building,
    Channel,
    Issue,
    Membership,
    Person,
    Role,
    Urgency,
)
from storage.notifications import issue_changed
from storage.people import current_membership, membership
from storage.reports import FLOW, ReportDraft, Step, next_step, voice_description
from storage.residents import (
    buildings_of,
    find_residents,
    normalise_phone,
    remember_issue_message,
)

PREFIX = "rp:"
SUMMARY_DESCRIPTION_CHARS = 1500
IMAGE_MIME_PREFIX = "image/"


# --- the draft in chat_state ---------------------------------------------------------------------


async def _save(context: NotebookContext, chat_id: int, draft: ReportDraft, step: Step) -> None:
    await set_state(
        context.session,
        chat_id=chat_id,
        user_id=context.person.telegram_user_id or chat_id,
        flow=FLOW,
        step=step,
        data=draft.dump(),
        now=context.now(),
    )


async def _clear(context: NotebookContext, chat_id: int) -> None:
    await clear_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )


def _button(text: str, draft: ReportDraft, action: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{PREFIX}{draft.token}:{action}")


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


# --- what the person sent becomes part of the draft ----------------------------------------------


def absorb(draft: ReportDraft, message: Message) -> bool:
    """Take the words, voice, photos or location of `message` into the draft. Returns False for
    the later messages of an album already seen (they are taken silently, without a reply)."""
    first_of_album = True
    if message.media_group_id:
        first_of_album = message.media_group_id not in draft.media_groups
        if first_of_album:
            draft.media_groups.append(message.media_group_id)
    if message.voice is not None:
        voice = message.voice
        if draft.description is None:
            draft.description = voice_description(seconds(voice.duration))
        draft.add_attachment(
            NewAttachment(
                kind="voice",
                telegram_file_id=voice.file_id,
                file_unique_id=voice.file_unique_id,
                mime_type=voice.mime_type,
            )
        )
    if message.photo:
        photo = message.photo[-1]  # the largest size
        draft.add_attachment(
            NewAttachment(
                kind="photo",
                telegram_file_id=photo.file_id,
                file_unique_id=photo.file_unique_id,
                mime_type="image/jpeg",
                caption=message.caption,
            )
        )
    if message.document is not None and is_image_document(message):
        doc = message.document
        draft.add_attachment(
            NewAttachment(
                kind="document",
                telegram_file_id=doc.file_id,
                file_unique_id=doc.file_unique_id,
                mime_type=doc.mime_type,
                caption=message.caption,
            )
        )
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        draft.latitude, draft.longitude = location.latitude, location.longitude
    words = message.text or message.caption
    if words:
        draft.add_text(words)
    return first_of_album


def seconds(duration: int | timedelta) -> int:
    return int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)


def is_image_document(message: Message) -> bool:
    """A photo sent "as a file" (uncompressed) is still a photo of the problem."""
    doc = message.document
    return doc is not None and (doc.mime_type or "").startswith(IMAGE_MIME_PREFIX)


def has_report_content(message: Message) -> bool:
    return bool(
        message.text
        or message.voice
        or message.photo
        or message.location
        or message.venue
        or is_image_document(message)
    )


# --- questions -----------------------------------------------------------------------------------


async def _duplicates(context: NotebookContext, draft: ReportDraft) -> list[Issue]:
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


def _category_keyboard(
    context: NotebookContext, draft: ReportDraft, *, desk: bool
) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    keys = DESK_CATEGORIES if desk else COMMUNITY_CATEGORIES
    buttons = [_button(category_label(context.tr, key), draft, f"c:{key}") for key in keys]
    rows = _rows(buttons, 1 if desk else 2)
    if desk:
        rows.append([_button(_("« Back to community problems"), draft, "back")])
    else:
        rows.append(
            [_button(_("Service desk matters (social security, allowances…)"), draft, "desk")]
        )
    rows.append([_button(_("Cancel"), draft, "x")])
    return InlineKeyboardMarkup(rows)


async def summary_text(context: NotebookContext, draft: ReportDraft) -> str:
    tr = context.tr
    _ = tr.gettext
    lines = [_("Please check your report:")]
    if draft.on_behalf:
        name = await _reporter_name(context, draft)
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
        lines.append(_("Attached: {items}").format(items=", ".join(extras)))
    home = await home_text(context.session, draft.building_id, draft.unit_id)
    if home:
        lines.append(_("Building: {home}").format(home=home))
    urgent = draft.urgency == Urgency.EMERGENCY
    lines.append(_("Urgent: yes") if urgent else _("Urgent: no"))
    return "\n".join(lines)


async def _reporter_name(context: NotebookContext, draft: ReportDraft) -> str:
    if draft.reporter_id is not None:
        person = await context.session.get(Person, draft.reporter_id)
        name = person.full_name if person else ""
        phone = person.phone if person else None
    else:
        name, phone = draft.reporter_name or "", draft.reporter_phone
    return escape(f"{name} ({phone})" if phone else name)


async def question(
    context: NotebookContext, draft: ReportDraft, step: Step, duplicates: list[Issue]
) -> tuple[str, InlineKeyboardMarkup | None]:
    tr = context.tr
    _ = tr.gettext
    cancel = [_button(_("Cancel"), draft, "x")]
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
            _button(channel_label(tr, c), draft, f"ch:{c}")
            for c in (Channel.PHONE, Channel.DESK, Channel.VISIT, Channel.MEETING)
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
                [[_button(_("Not registered: enter name and phone"), draft, "wn")], cancel]
            ),
        )
    if step is Step.WHO_NAME:
        return _("What is the resident's name?"), InlineKeyboardMarkup([cancel])
    if step is Step.WHO_PHONE:
        return (
            _("Their phone number, so the community can call back?"),
            InlineKeyboardMarkup([[_button(_("No phone number"), draft, "np")], cancel]),
        )
    if step is Step.BUILDING:
        assert draft.community_id is not None
        buildings = await buildings_of(context.session, draft.community_id)
        buttons = [_button(b.name, draft, f"b:{b.id}") for b in buildings[:60]]
        return (
            _("Which building is it about?"),
            InlineKeyboardMarkup([*_rows(buttons, 3), [_button(_("Skip"), draft, "bs")]]),
        )
    if step is Step.CATEGORY:
        text = _("What is the problem about?")
        if draft.description:
            text += "\n«" + escape(cut(draft.description, 300)) + "»"
        return text, _category_keyboard(context, draft, desk=False)
    if step is Step.DUPLICATES:
        lines = [_("Your neighbours have already reported something like this:")]
        dup_rows: list[list[InlineKeyboardButton]] = []
        for issue in duplicates:
            lines.append(
                _("No. {number}: {title} ({status})").format(
                    number=issue.number, title=title(issue), status=status_label(tr, issue.status)
                )
            )
            dup_rows.append(
                [
                    _button(
                        _("No. {number} is my problem too").format(number=issue.number),
                        draft,
                        f"d:{issue.id}",
                    )
                ]
            )
        lines.append(_("Is it the same problem?"))
        dup_rows.append([_button(_("No, mine is different"), draft, "nd")])
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
                InlineKeyboardMarkup([[_button(_("Done"), draft, "m")], cancel]),
            )
        return (
            _(
                "Would you like to add a photo or your location? Send them now "
                "(several photos are fine), or press No photo."
            ),
            InlineKeyboardMarkup([[_button(_("No photo"), draft, "m")], cancel]),
        )
    if step is Step.URGENCY:
        return (
            _("Is anyone in danger, or is property at risk?"),
            InlineKeyboardMarkup(
                [[_button(_("Yes, it is urgent"), draft, "u:y"), _button(_("No"), draft, "u:n")]]
            ),
        )
    return (
        await summary_text(context, draft),
        InlineKeyboardMarkup(
            [
                [_button(_("✅ Send"), draft, "ok")],
                [_button(_("Change"), draft, "chg"), _button(_("Cancel"), draft, "x")],
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
        duplicates = await _duplicates(context, draft)
        if not duplicates:
            draft.duplicates_checked = True
            step = next_step(draft)
    await _save(context, chat_id, draft, step)
    text, markup = await question(context, draft, step, duplicates)
    if prefix:
        text = f"{prefix}\n{text}"
    if edit is not None:
        await edit.edit_text(text, reply_markup=markup)
    else:
        await context.bot.send_message(chat_id, text, reply_markup=markup)
    return step


# --- starting ------------------------------------------------------------------------------------


async def _over_the_limit(context: NotebookContext) -> bool:
    person = context.person
    assert person.id is not None
    count = await reports.reports_in_last_hour(
        context.session, person_id=person.id, now=context.now()
    )
    return count >= context.notebook.settings.max_reports_per_hour


def _limit_text(context: NotebookContext) -> str:
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
    if await _over_the_limit(context):
        await message.reply_text(_limit_text(context))
        return
    absorb(draft, message)
    await advance(context, message.chat_id, draft)


async def report_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    draft = await new_draft(context)
    if draft is None:
        await message.reply_text(_("Please send /start to join your community first."))
        return
    if await _over_the_limit(context):
        await message.reply_text(_limit_text(context))
        return
    await advance(context, message.chat_id, draft)


async def log_command(update: Update, context: NotebookContext) -> None:
    """/log: a worker notes an issue a resident raised by phone, at the desk or in person."""
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    if not is_private(update):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    current = await current_membership(context.session, context.person)
    if current is None or Role(current[0].role) not in STAFF_ROLES:
        await message.reply_text(_("Only community staff can log issues for residents."))
        return
    draft = ReportDraft(community_id=current[1].id, channel=None, logged_by_id=context.person.id)
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
        await _clear(context, chat_id)
        return
    _ = context.tr.gettext
    await advance(context, chat_id, draft, prefix=_("Now, about what you wrote before:"))


# --- answers typed or sent while the flow is open ------------------------------------------------


async def on_input(update: Update, context: NotebookContext, state: FlowState) -> None:
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
    elif draft.on_behalf and not await _may_log(context, draft):
        await _clear(context, chat_id)
        await message.reply_text(_("Only community staff can log issues for residents."))
        return
    if step is Step.WHO and message.text:
        await _search_resident(context, chat_id, draft, message.text)
        return
    if step is Step.WHO_NAME and message.text:
        draft.reporter_name = message.text.strip()[:200]
        await advance(context, chat_id, draft)
        return
    if step is Step.WHO_PHONE and message.text:
        phone = normalise_phone(message.text)
        if phone is None:
            await advance(
                context, chat_id, draft, prefix=_("That does not look like a phone number.")
            )
            return
        draft.reporter_phone, draft.phone_asked = phone, True
        await advance(context, chat_id, draft)
        return
    answered = absorb(draft, message)
    if not answered:  # the rest of an album: taken quietly
        await _save(context, chat_id, draft, step)
        return
    asked_for = step in (Step.DESCRIPTION, Step.MEDIA, Step.JOIN)
    await advance(context, chat_id, draft, prefix="" if asked_for else _("Noted."))


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
            label = " · ".join(x for x in (person.full_name, home, person.phone or "") if x)
            buttons.append([_button(cut(label, 60), draft, f"w:{person.id}")])
    buttons.append([_button(_("Not registered: enter name and phone"), draft, "wn")])
    buttons.append([_button(_("Cancel"), draft, "x")])
    if found:
        text = _("Is it one of these residents? Or write another name.")
    else:
        text = _("Nobody found for «{query}». Write another name, or press Not registered.").format(
            query=escape(cut(query, 100))
        )
    await _save(context, chat_id, draft, Step.WHO)
    await context.bot.send_message(chat_id, text, reply_markup=InlineKeyboardMarkup(buttons))


# --- buttons -------------------------------------------------------------------------------------


async def _may_log(context: NotebookContext, draft: ReportDraft) -> bool:
    if draft.community_id is None or context.person.id is None:
        return False
    member = await membership_in(context, draft.community_id)
    return (
        member is not None
        and Role(member.role) in STAFF_ROLES
        and draft.logged_by_id == context.person.id
    )


async def _may_report(context: NotebookContext, draft: ReportDraft) -> bool:
    if draft.on_behalf:
        return await _may_log(context, draft)
    if draft.community_id is None or context.person.id is None:
        return False
    member = await membership_in(context, draft.community_id)
    return member is not None and draft.reporter_id == context.person.id


async def on_button(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _ = context.tr.gettext
    token, _sep, action = query.data.removeprefix(PREFIX).partition(":")
    chat_id = query.message.chat.id if query.message else context.person.telegram_user_id
    assert chat_id is not None
    state = await get_state(
        context.session, chat_id=chat_id, user_id=context.person.telegram_user_id or chat_id
    )
    draft = ReportDraft.load(state.data) if state and state.flow == FLOW else None
    verb, _sep, arg = action.partition(":")
    stale = draft is None or draft.token != token
    # A confirmation with its draft gone may be a replay of one already filed (the draft is
    # cleared in the same commit as the issue is filed); with the draft there, it cannot be.
    if verb == "ok" and stale and await _confirm_again(update, context, chat_id):
        return
    if draft is None or stale or not await _may_report(context, draft):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    message = query.message if isinstance(query.message, Message) else None
    if verb == "x":
        await _clear(context, chat_id)
        await query.answer()
        if message:
            await message.edit_text(_("Cancelled. Nothing was sent."))
        return
    if verb == "ok":
        await _confirm(update, context, draft, chat_id)
        return
    if verb == "d":
        await _join_duplicate(update, context, draft, chat_id, arg)
        return
    if verb in ("desk", "back") and message:
        await query.answer()
        await message.edit_reply_markup(
            reply_markup=_category_keyboard(context, draft, desk=verb == "desk")
        )
        return
    if verb == "chg" and message:
        await query.answer()
        await message.edit_text(
            await summary_text(context, draft) + "\n\n" + _("What would you like to change?"),
            reply_markup=_change_keyboard(context, draft),
        )
        return
    if not await _apply(context, draft, verb, arg):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    await advance(context, chat_id, draft, edit=message)


def _change_keyboard(context: NotebookContext, draft: ReportDraft) -> InlineKeyboardMarkup:
    _ = context.tr.gettext
    rows = [
        [_button(_("Category"), draft, "e:cat"), _button(_("What is wrong"), draft, "e:desc")],
        [
            _button(_("Photos and location"), draft, "e:media"),
            _button(_("Urgency"), draft, "e:urg"),
        ],
    ]
    if draft.on_behalf:
        rows.append([_button(_("Resident"), draft, "e:who")])
    rows.append([_button(_("« Back"), draft, "e:none")])
    return InlineKeyboardMarkup(rows)


async def _apply(context: NotebookContext, draft: ReportDraft, verb: str, arg: str) -> bool:
    """Write one button's answer into the draft; False when the answer is not a valid one."""
    if verb == "c" and arg in CATEGORIES:
        if draft.category != arg:  # another category may have other neighbours' issues
            draft.duplicates_checked = False
        draft.category = arg
        return True
    if verb == "u" and arg in ("y", "n"):
        draft.urgency = Urgency.EMERGENCY if arg == "y" else Urgency.NORMAL
        return True
    if verb == "m":
        draft.media_done = True
        return True
    if verb == "nd":
        draft.duplicates_checked = True
        return True
    if verb == "e":
        return _reopen_question(draft, arg)
    if not draft.on_behalf:
        return False
    return await _apply_log(context, draft, verb, arg)


def _reopen_question(draft: ReportDraft, field: str) -> bool:
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
    elif field == "who" and draft.on_behalf:
        draft.who = draft.reporter_id = draft.reporter_name = draft.reporter_phone = None
        draft.phone_asked = draft.building_asked = False
        draft.building_id = draft.unit_id = None
        draft.duplicates_checked = False
    elif field != "none":
        return False
    return True


async def _apply_log(context: NotebookContext, draft: ReportDraft, verb: str, arg: str) -> bool:
    session = context.session
    if verb == "ch" and arg in {c.value for c in Channel} - {Channel.TELEGRAM}:
        draft.channel = arg
        return True
    if verb == "wn":
        draft.who, draft.reporter_id = "offline", None
        return True
    if verb == "np":
        draft.phone_asked = True
        return True
    if verb == "bs":
        draft.building_asked = True
        return True
    if verb == "b" and arg.isdigit():
        building = await session.get(Building, int(arg))
        if building is None or building.community_id != draft.community_id:
            return False
        draft.building_id, draft.building_asked = building.id, True
        return True
    if verb == "w" and arg.isdigit():
        assert draft.community_id is not None
        member = await membership(session, person_id=int(arg), community_id=draft.community_id)
        if member is None or Role(member.role) in STAFF_ROLES:
            return False
        draft.who, draft.reporter_id = "registered", member.person_id
        draft.building_id, draft.unit_id = member.building_id, member.unit_id
        return True
    return False


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
    if not draft.on_behalf and await _over_the_limit(context):
        # the draft stays: they can send it in a little while
        await query.answer(_limit_text(context), show_alert=True)
        return
    issue = await reports.file_report(
        context.session,
        draft,
        now=context.now(),
        limits=context.notebook.settings.time_limits,
        source_update_id=update.update_id,
    )
    await _clear(context, chat_id)
    await query.answer()  # this and the number go out once the issue is committed
    text = await confirmation_text(context, issue, draft)
    await _show(context, query.message, chat_id, text, issue)


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
            name=await _reporter_name(context, draft),
            deadline=deadline_text(tr, issue),
        )
    else:
        text = _(
            "Thank you! Your issue is No. {number}.\n"
            "The community will answer {deadline}.\n"
            "I will tell you every step here. To add something later, reply to this message."
        ).format(number=issue.number, deadline=deadline_text(tr, issue))
    if issue.urgency == Urgency.EMERGENCY:
        text += "\n" + _("If anyone is in danger right now, call 110, 119 or 120.")
    return text


async def _join_duplicate(
    update: Update, context: NotebookContext, draft: ReportDraft, chat_id: int, arg: str
) -> None:
    """ "This is my problem too": back the neighbour's issue and hear its updates."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    offered = await _duplicates(context, draft)
    issue = next((i for i in offered if str(i.id) == arg), None)
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
    await _clear(context, chat_id)
    await query.answer()
    lines = [
        _(
            "Thank you. You now back No. {number} ({status}), and I will tell you every step."
        ).format(number=issue.number, status=status_label(context.tr, issue.status))
        if not draft.on_behalf
        else _("{name} now backs No. {number} ({status}).").format(
            name=await _reporter_name(context, draft),
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
    CommandHandler("log", log_command),
    CallbackQueryHandler(on_button, pattern=f"^{PREFIX}"),
]
