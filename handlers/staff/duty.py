"""The service desk (百通岗): /duty shows who is on duty now and this week (anyone); the secretary
sets each worker's weekly half-day shifts; the evening before a shift the worker is reminded
(outbox, planned by storage/roster.py). Logging a visit at the desk (/desk) is desk_visit.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from babel.dates import format_date
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.fitting import short
from handlers.shared.members import me, refuse, staff_press_here
from handlers.staff.desk_visit import VISIT
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import N_, Translator
from runtime.rendering import Rendered, Renderers
from storage import roster
from storage.council import community_staff
from storage.models import Outbox, Person
from storage.roster import DeskHours, Half, RosterError

HALF_LABELS = {Half.AM: N_("morning"), Half.PM: N_("afternoon")}

# The buttons (runtime/buttons.py): the roster's, then the desk's.
EDIT = Button("duty.edit")  # the secretary sets the shifts: whose?
PERSON = Button("duty.person", int)  # that worker's grid of half-days
SHIFT = Button("duty.toggle", int, int, Half)  # worker, weekday (0 = Monday), half
DONE = Button("duty.done")


def weekday_name(tr: Translator, day: date) -> str:
    return format_date(day, "EEEE", locale=tr.babel_locale)


def hours_text(hours: DeskHours, half: Half) -> str:
    start, end = hours.window(half)
    return f"{start:%H:%M}–{end:%H:%M}"


async def roster_text(
    session: AsyncSession, community_id: int, tr: Translator, now: datetime, hours: DeskHours
) -> str:
    _ = tr.gettext
    shifts = await roster.roster(session, community_id)
    names = {shift.id: short(person.full_name, 30) for shift, person in shifts}
    lines = [
        _("Service desk (百通岗): mornings {am}, afternoons {pm}.").format(
            am=hours_text(hours, Half.AM), pm=hours_text(hours, Half.PM)
        )
    ]
    on_duty = roster.on_duty([s for s, _p in shifts], now, hours, tr.tz)
    if on_duty:
        lines.append(
            _("On duty now: {names}").format(names=_(", ").join(names[s.id] for s in on_duty))
        )
    else:
        lines.append(_("Nobody is at the desk right now."))
    lines += ["", _("This week:")]
    today = now.astimezone(tr.tz).date()
    monday = today - timedelta(days=today.weekday())
    for offset in range(7):
        day = monday + timedelta(days=offset)
        parts = []
        for half in Half:
            who = [names[s.id] for s, _p in shifts if s.weekday == offset and s.half == half]
            if who:
                parts.append(
                    _("{half}: {names}").format(
                        half=tr.gettext(HALF_LABELS[half]), names=_(", ").join(who)
                    )
                )
        if parts or offset < 5:  # weekdays always; the weekend only when someone is there
            lines.append(
                _("{weekday} {date}: {shifts}").format(
                    weekday=weekday_name(tr, day),
                    date=tr.date(datetime.combine(day, datetime.min.time(), tzinfo=tr.tz), "short"),
                    shifts=" · ".join(parts) or "—",
                )
            )
    if not shifts:
        lines += ["", _("No shifts are set yet.")]
    return "\n".join(lines)


# --- /duty --------------------------------------------------------------------------------------


async def duty(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    member = await me(context)
    if member is None:
        await message.reply_text(_("Please join your community first: send /start."))
        return
    settings = context.notebook.settings
    text = await roster_text(
        context.session, member.community_id, context.tr, context.now(), settings.desk_hours
    )
    rows = []
    if member.is_staff:
        rows.append([InlineKeyboardButton(_("Log a desk visit"), callback_data=VISIT.data())])
    if member.is_secretary:
        rows.append([InlineKeyboardButton(_("Set the shifts"), callback_data=EDIT.data())])
    await message.reply_text(text, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


async def on_edit(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    pressed = await staff_press_here(
        update, context, _("Only the community secretary sets the shifts."), secretary=True
    )
    if pressed is None:
        return
    query, chat_id, member = pressed
    staff = await community_staff(context.session, member.community_id)
    rows = [
        [InlineKeyboardButton(p.full_name[:40], callback_data=PERSON.data(p.id))]
        for p in staff[:40]
        if p.id is not None
    ]
    await query.answer()
    await context.bot.send_message(
        chat_id,
        _("Whose shifts?"),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def _grid(
    context: NotebookContext, community_id: int, person: Person
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    taken = {
        (s.weekday, s.half)
        for s, p in await roster.roster(context.session, community_id)
        if p.id == person.id
    }
    assert person.id is not None
    person_id = person.id
    monday = date(2026, 1, 5)  # any Monday: only the weekday names are used
    rows = []
    for weekday in range(7):
        day_name = weekday_name(context.tr, monday + timedelta(days=weekday))
        rows.append(
            [
                InlineKeyboardButton(
                    ("✅ " if (weekday, half.value) in taken else "▫️ ")
                    + _("{weekday} {half}").format(
                        weekday=day_name, half=context.tr.gettext(HALF_LABELS[half])
                    ),
                    callback_data=SHIFT.data(person_id, weekday, half),
                )
                for half in Half
            ]
        )
    rows.append([InlineKeyboardButton(_("Done"), callback_data=DONE.data())])
    text = _("Desk shifts of {name}: press a half-day to give it or take it away.").format(
        name=short(person.full_name, 40)
    )
    return text, InlineKeyboardMarkup(rows)


async def _secretary_and_worker(
    update: Update, context: NotebookContext, person_id: int
) -> tuple[int, Person] | None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    member = await me(context)
    if member is None or not member.is_secretary:
        await refuse(query, context, _("Only the community secretary sets the shifts."))
        return None
    staff = {p.id: p for p in await community_staff(context.session, member.community_id)}
    if person_id not in staff:
        await refuse(query, context, _("Only community workers take desk shifts."))
        return None
    return member.community_id, staff[person_id]


async def on_person(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    (person_id,) = PERSON.values(update)
    found = await _secretary_and_worker(update, context, person_id)
    if found is None:
        return
    text, markup = await _grid(context, *found)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_toggle(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    person_id, weekday, half = SHIFT.values(update)
    found = await _secretary_and_worker(update, context, person_id)
    if found is None:
        return
    community_id, person = found
    if weekday > 6:
        await refuse(query, context)
        return
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            await roster.toggle_shift(
                context.session,
                community_id=community_id,
                person_id=person.id or 0,
                weekday=weekday,
                half=half,
                now=context.now(),
            )
    except RosterError:
        await refuse(query, context)
        return
    text, markup = await _grid(context, community_id, person)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_done(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    member = await me(context)
    if member is None or not member.is_secretary:
        await refuse(
            query, context, context.tr.gettext("Only the community secretary sets the shifts.")
        )
        return
    await query.answer()
    await query.edit_message_text(
        await roster_text(
            context.session,
            member.community_id,
            context.tr,
            context.now(),
            context.notebook.settings.desk_hours,
        )
    )


# --- the evening-before reminder -----------------------------------------------------------------


async def render_duty_reminder(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    person_id = row.payload.get("person_id")
    day = date.fromisoformat(str(row.payload.get("date")))
    if row.community_id is None or not isinstance(person_id, int):
        return None
    shifts = await roster.shifts_on(
        session, community_id=row.community_id, person_id=person_id, weekday=day.weekday()
    )
    if not shifts:
        return None  # taken off the roster meanwhile
    _ = tr.gettext
    halves = tr.gettext(", ").join(tr.gettext(HALF_LABELS[Half(s.half)]) for s in shifts)
    today = row.due_at.astimezone(tr.tz).date()
    when = _("today") if day == today else _("tomorrow")
    return Rendered(
        _(
            "Reminder: {when}, {weekday} {date}, you are on duty at the service desk (百通岗): "
            "{halves}. Send /desk there to log each visit."
        ).format(
            when=when,
            weekday=weekday_name(tr, day),
            date=tr.date(datetime.combine(day, datetime.min.time(), tzinfo=tr.tz), "short"),
            halves=halves,
        )
    )


def register(renderers: Renderers) -> None:
    renderers.register(roster.DUTY_REMINDER, render_duty_reminder)


HANDLERS = [
    CommandHandler("duty", duty),
    EDIT.handler(on_edit),
    PERSON.handler(on_person),
    SHIFT.handler(on_toggle),
    DONE.handler(on_done),
]
