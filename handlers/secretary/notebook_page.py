"""/notebook: the notebook page for a day or a week, for the community's staff.

Red entries (every issue open in the day or week: new, reopened or carried over, with its
status and clocks as they stood at its end) and black entries (owner, plan, replies and
internal notes, each labelled), like the secretary's paper notebook. Buttons move a day or a
week, switch between day and week, narrow the page to one building or one owner, and turn
pages. Every page is one message within Telegram's limit, user text escaped. The view (day,
day or week, filters, page) travels in the buttons' callback data; every press is checked
again on the server.

`/notebook` = today, `/notebook week` = this week, `/notebook 2026-11-05` = that day,
`/notebook 2026-11-05 week` = that day's week (Monday to Sunday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.common import escape, is_private
from handlers.shared.fallback import answer_stale
from handlers.shared.fitting import clip, fits
from handlers.shared.formats import period_label, short_day
from handlers.shared.labels import (
    category_label,
    followup_result_label,
    satisfaction_label,
    status_label,
)
from handlers.shared.offices import community_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage.issue_lifecycle import Action
from storage.models import STAFF_ROLES, Building, Community, Membership, Person
from storage.notebook import (
    BlackEntry,
    NotebookPage,
    PageFilter,
    RedEntry,
    ResponseClock,
    Standing,
    notebook_page,
)
from storage.people import is_staff
from storage.periods import Period, day_code, local_day, parse_day, parse_day_code
from storage.residents import buildings_of

# What a press shows (v: the page, b: the buildings to filter by, o: the people), then the view:
# its day, day or week, the building (0: all), the person (0: everyone) and the page.
VIEW = Button("nb.view", ("v", "b", "o"), str, ("d", "w"), int, int, int)
NOOP = Button("nb.noop")  # the page counter: nothing to do
PER_PAGE = 8  # entries on one page
CUTS = (120, 60, 30, 15)  # characters of user text per entry, tried until the page fits
NAME_LIMIT = 30
MENU_LIMIT = 60  # buildings or people offered as filter buttons (Telegram allows 100)


@dataclass(frozen=True)
class View:
    """What one notebook message shows; encoded in its buttons (≤ 64 bytes)."""

    day: date
    week: bool = False
    building_id: int = 0  # 0: every building
    owner_id: int = 0  # 0: everyone
    page: int = 0

    def period(self, tz: ZoneInfo) -> Period:
        if not self.week:
            return Period.days(self.day, self.day, tz)
        monday = self.day - timedelta(days=self.day.weekday())
        return Period.days(monday, monday + timedelta(days=6), tz)

    def data(self, action: str = "v") -> str:
        span = "w" if self.week else "d"
        return VIEW.data(
            action, day_code(self.day), span, self.building_id, self.owner_id, self.page
        )

    @classmethod
    def pressed(cls, update: Update) -> tuple[str, View] | None:
        """What a press of `VIEW` asks for, and its view; None for a day that cannot be."""
        action, code, span, building, owner, page = VIEW.values(update)
        day = parse_day_code(code)
        if day is None or not 2000 <= day.year <= 2100:
            return None
        return action, cls(day, span == "w", building, owner, page)


WEEK_WORDS = ("week", "周", "本周")


def parse_args(args: list[str], today: date) -> View | None:
    """[] → today; ["week"] → this week; ["2026-11-05"] → that day; with "week": its week."""
    week = any(arg.lower() in WEEK_WORDS for arg in args)
    days = [arg for arg in args if arg.lower() not in WEEK_WORDS]
    if len(days) > 1:
        return None
    if not days:
        return View(today, week)
    day = parse_day(days[0])
    if day is None or not 2000 <= day.year <= 2100:
        return None
    return View(day, week)


# --- writing a page --------------------------------------------------------------------------


def _moment(tr: Translator, at: datetime, week: bool) -> str:
    if not week:
        return tr.time(at)
    return tr.gettext("{day} {time}").format(day=short_day(tr, at), time=tr.time(at))


# A run of 7 or more digits, spaces or dashes between them allowed: a phone number, perhaps
# (but not a date written 2026-11-05).
PHONE = re.compile(r"(?<!\d)\+?\d(?:[ \-]?\d){6,}(?!\d)")
DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def hide_phones(text: str | None) -> str:
    """For the wall: every number long enough to be a phone shown as its first three and last
    two digits (138****78), so nobody's phone is printed for the building to read."""

    def masked(found: re.Match[str]) -> str:
        if DATE.fullmatch(found.group(0)):
            return found.group(0)
        digits = "".join(ch for ch in found.group(0) if ch.isdigit())
        return digits[:3] + "****" + digits[-2:]

    return PHONE.sub(masked, text or "")


def standing_tag(tr: Translator, entry: RedEntry) -> str:
    """New, reopened or carried over: how the issue came onto this period's page."""
    _ = tr.gettext
    if entry.standing is Standing.NEW:
        if entry.reopened_at is not None:
            reopened = short_day(tr, entry.reopened_at)
            return _("newly reported, reopened {date}").format(date=reopened)
        return _("newly reported")
    if entry.standing is Standing.REOPENED and entry.reopened_at is not None:
        return _("reopened {date}").format(date=short_day(tr, entry.reopened_at))
    return _("carried over, open since {date}").format(date=short_day(tr, entry.created_at))


def clock_tags(tr: Translator, entry: RedEntry) -> list[str]:
    """The response deadline while it runs (or once missed) and the completion due date, as
    they stood at the page's moment."""
    _ = tr.gettext
    tags = []
    if entry.respond_by is not None:
        if entry.response is ResponseClock.RUNNING:
            tags.append(_("reply due {when}").format(when=_moment(tr, entry.respond_by, True)))
        elif entry.response is ResponseClock.OVERDUE:
            tags.append(
                _("reply overdue since {when}").format(when=_moment(tr, entry.respond_by, True))
            )
        elif entry.response is ResponseClock.MISSED:
            tags.append(
                _("first reply late (due {when})").format(when=_moment(tr, entry.respond_by, True))
            )
    if entry.due_at is not None:
        if entry.overdue:
            tags.append(
                _("completion overdue since {date}").format(date=short_day(tr, entry.due_at))
            )
        else:
            tags.append(_("completion due {date}").format(date=short_day(tr, entry.due_at)))
    return tags


def red_line(tr: Translator, entry: RedEntry, *, week: bool, cut: int, wall: bool = False) -> str:
    """One red-pen entry, as plain text (escape it for where it goes): the problem, then how it
    came onto the page, its status and its clocks. `wall`: phone numbers hidden."""
    _ = tr.gettext
    names = min(cut, NAME_LIMIT)
    state = status_label(tr, entry.status)
    if entry.owner:
        state = _("{status}, {owner}").format(status=state, owner=clip(entry.owner, names))
    description = hide_phones(entry.description) if wall else entry.description
    values = {
        "number": entry.number,
        "building": clip(entry.building, names) or _("no building given"),
        "category": category_label(tr, entry.category),
        "text": clip(description, cut),
        "tags": _("; ").join([standing_tag(tr, entry), state, *clock_tags(tr, entry)]),
    }
    if entry.standing is Standing.NEW:
        return _("{time} No. {number} · {building} · {category}: {text} [{tags}]").format(
            time=_moment(tr, entry.created_at, week), **values
        )
    return _("No. {number} · {building} · {category}: {text} [{tags}]").format(**values)


def _due(tr: Translator, raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        return short_day(tr, datetime.fromisoformat(raw))
    except ValueError:
        return None


def black_line(
    tr: Translator, entry: BlackEntry, *, week: bool, cut: int, wall: bool = False
) -> str:
    """One black-pen entry, as plain text (escape it for where it goes). An internal note says
    so, in words distinct from a reply to the resident. `wall`: phone numbers hidden and a
    resident named as "a resident"."""
    line = _black_words(tr, entry, week=week, cut=cut, wall=wall)
    if not entry.public and Action(entry.kind) is not Action.PROGRESS:
        line = tr.gettext("{entry} (internal)").format(entry=line)
    return line


def _black_words(tr: Translator, entry: BlackEntry, *, week: bool, cut: int, wall: bool) -> str:
    _ = tr.gettext
    names = min(cut, NAME_LIMIT)
    data = entry.data
    text = clip(hide_phones(entry.text) if wall else entry.text, cut)
    actor = entry.actor if entry.actor_is_staff or not wall or not entry.actor else _("a resident")
    values: dict[str, object] = {
        "time": _moment(tr, entry.at, week),
        "number": entry.number,
        "actor": clip(actor, names) or _("the notebook"),
        "text": text,
    }
    kind = Action(entry.kind)
    if kind is Action.CLAIM:
        return _("{time} No. {number}: {actor} took it on").format(**values)
    if kind is Action.ASSIGN:
        owner_id = data.get("owner_id")
        owner = entry.named.get(owner_id) if isinstance(owner_id, int) else data.get("owner_group")
        values["owner"] = clip(str(owner or ""), names) or "—"
        if text:  # a reassignment says why
            return _("{time} No. {number}: {actor} gave it to {owner}: {text}").format(**values)
        return _("{time} No. {number}: {actor} gave it to {owner}").format(**values)
    if kind is Action.PLAN:
        due = _due(tr, data.get("due_at"))
        if due:
            return _("{time} No. {number}: plan by {actor}: {text} (by {due})").format(
                due=due, **values
            )
        return _("{time} No. {number}: plan by {actor}: {text}").format(**values)
    if kind is Action.PROGRESS:
        if entry.public:
            return _("{time} No. {number}: reply to the resident from {actor}: {text}").format(
                **values
            )
        return _("{time} No. {number}: internal note from {actor}: {text}").format(**values)
    if kind is Action.RETURN:
        return _("{time} No. {number}: {actor} handed it back: {text}").format(**values)
    if kind is Action.TRANSFER:
        return _("{time} No. {number}: {actor} passed it on to {body}: {text}").format(
            body=clip(str(data.get("to") or ""), names), **values
        )
    if kind is Action.MERGE:
        return _("{time} No. {number}: {actor} merged it into No. {other}").format(
            other=data.get("into_number", "?"), **values
        )
    if kind is Action.RESOLVE:
        return _("{time} No. {number}: resolved by {actor}: {text}").format(**values)
    if kind is Action.REOPEN:
        if text:
            return _("{time} No. {number}: reopened: {text}").format(**values)
        return _("{time} No. {number}: reopened, no reason given").format(**values)
    result = str(data.get("result") or "")
    if kind is Action.FOLLOW_UP and result:
        return _("{time} No. {number}: follow-up: {result}, {satisfaction}").format(
            result=followup_result_label(tr, result),
            satisfaction=satisfaction_label(tr, data.get("satisfaction")) or "—",
            **values,
        )
    return _("{time} No. {number}: {text}").format(**values)


@dataclass(frozen=True)
class Filters:
    building: str | None
    owner: str | None


def page_text(
    tr: Translator,
    community: str,
    period: Period,
    view: View,
    page: NotebookPage,
    filters: Filters,
    cut: int,
) -> str:
    _ = tr.gettext
    lines = [
        _("<b>The notebook: {community}</b>").format(community=escape(community)),
        escape(period_label(tr, period)),
    ]
    if filters.building or filters.owner:
        lines.append(
            _("Building: {building} · Owner: {owner}").format(
                building=escape(clip(filters.building, NAME_LIMIT)) or _("all"),
                owner=escape(clip(filters.owner, NAME_LIMIT)) or _("everyone"),
            )
        )
    if not page.red_total and not page.black_total:
        lines += ["", _("Nothing was written in the notebook for this time.")]
        return "\n".join(lines)
    if page.red:
        lines += [
            "",
            _("🔴 <b>Red pen</b>: every issue open in this time ({count})").format(
                count=tr.number(page.red_total)
            ),
        ]
        as_of = page.red[0].as_of
        if as_of is not None and as_of >= period.end:
            lines.append(_("Status and deadlines as they stood at the end of this time."))
        lines += ["• " + escape(red_line(tr, entry, week=view.week, cut=cut)) for entry in page.red]
    if page.black:
        lines += [
            "",
            _("⚫ <b>Black pen</b>: owners, plans and progress ({count})").format(
                count=tr.number(page.black_total)
            ),
        ]
        lines += [
            "• " + escape(black_line(tr, entry, week=view.week, cut=cut)) for entry in page.black
        ]
    if page.pages > 1:
        lines += [
            "",
            _("Page {page} of {pages}").format(
                page=tr.number(page.page + 1), pages=tr.number(page.pages)
            ),
        ]
    return "\n".join(lines)


def page_keyboard(
    tr: Translator, view: View, page: NotebookPage, filters: Filters
) -> InlineKeyboardMarkup:
    _ = tr.gettext
    step = timedelta(days=7 if view.week else 1)
    earlier = replace(view, day=view.day - step, page=0)
    later = replace(view, day=view.day + step, page=0)
    rows = [
        [
            InlineKeyboardButton(
                _("◀ Week before") if view.week else _("◀ Day before"),
                callback_data=earlier.data(),
            ),
            InlineKeyboardButton(
                _("One day") if view.week else _("Whole week"),
                callback_data=replace(view, week=not view.week, page=0).data(),
            ),
            InlineKeyboardButton(
                _("Week after ▶") if view.week else _("Day after ▶"), callback_data=later.data()
            ),
        ],
        [
            InlineKeyboardButton(
                _("Building: {building}").format(
                    building=clip(filters.building, NAME_LIMIT) or _("all")
                ),
                callback_data=view.data("b"),
            ),
            InlineKeyboardButton(
                _("Owner: {owner}").format(owner=clip(filters.owner, NAME_LIMIT) or _("everyone")),
                callback_data=view.data("o"),
            ),
        ],
    ]
    if page.pages > 1:
        paging = []
        if page.page > 0:
            paging.append(
                InlineKeyboardButton(
                    _("◀ Previous page"), callback_data=replace(view, page=page.page - 1).data()
                )
            )
        paging.append(
            InlineKeyboardButton(f"{page.page + 1}/{page.pages}", callback_data=NOOP.data())
        )
        if page.page < page.pages - 1:
            paging.append(
                InlineKeyboardButton(
                    _("Next page ▶"), callback_data=replace(view, page=page.page + 1).data()
                )
            )
        rows.append(paging)
    return InlineKeyboardMarkup(rows)


async def render_view(
    session: AsyncSession,
    tr: Translator,
    community: Community,
    view: View,
    now: datetime | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The page of `view`, its status and clocks as at `now` (the period's end if it is over,
    or not given)."""
    assert community.id is not None
    period = view.period(ZoneInfo(community.timezone))
    where = PageFilter(building_id=view.building_id or None, owner_id=view.owner_id or None)
    page = await notebook_page(
        session,
        community_id=community.id,
        period=period,
        now=now or period.end,
        where=where,
        page=view.page,
        per_page=PER_PAGE,
    )
    view = replace(view, page=page.page)
    building = await session.get(Building, view.building_id) if view.building_id else None
    owner = await session.get(Person, view.owner_id) if view.owner_id else None
    filters = Filters(building.name if building else None, owner.full_name if owner else None)
    for cut in CUTS:
        text = page_text(tr, community.name, period, view, page, filters, cut)
        if fits(text):
            break
    return text, page_keyboard(tr, view, page, filters)


# --- the filter menus ------------------------------------------------------------------------


def _two_per_row(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def _render_view(
    context: NotebookContext, community: Community, view: View
) -> tuple[str, InlineKeyboardMarkup]:
    """The page, read off the loop (storage/db.py: reading): every chat goes on meanwhile."""
    async with context.notebook.db.reading() as reader:
        return await render_view(reader, context.tr, community, view, context.now())


async def building_menu(
    session: AsyncSession, tr: Translator, community: Community, view: View
) -> tuple[str, InlineKeyboardMarkup]:
    _ = tr.gettext
    assert community.id is not None
    buildings = (await buildings_of(session, community.id))[:MENU_LIMIT]
    choices = [
        InlineKeyboardButton(
            clip(b.name, NAME_LIMIT),
            callback_data=replace(view, building_id=b.id or 0, page=0).data(),
        )
        for b in buildings
    ]
    every = InlineKeyboardButton(
        _("All buildings"), callback_data=replace(view, building_id=0, page=0).data()
    )
    return _("Show the notebook for which building?"), _filter_menu(tr, view, every, choices)


async def owner_menu(
    session: AsyncSession, tr: Translator, community: Community, view: View
) -> tuple[str, InlineKeyboardMarkup]:
    _ = tr.gettext
    staff = (
        await session.exec(
            select(Person)
            .join(Membership, col(Membership.person_id) == Person.id)
            .where(
                Membership.community_id == community.id,
                col(Membership.active).is_(True),
                col(Membership.role).in_([str(r) for r in STAFF_ROLES]),
            )
            .order_by(col(Person.full_name), col(Person.id))
            .limit(MENU_LIMIT)
        )
    ).all()
    choices = [
        InlineKeyboardButton(
            clip(p.full_name, NAME_LIMIT) or "—",
            callback_data=replace(view, owner_id=p.id or 0, page=0).data(),
        )
        for p in staff
    ]
    every = InlineKeyboardButton(
        _("Everyone"), callback_data=replace(view, owner_id=0, page=0).data()
    )
    return _("Show whose issues?"), _filter_menu(tr, view, every, choices)


def _filter_menu(
    tr: Translator,
    view: View,
    every: InlineKeyboardButton,
    choices: list[InlineKeyboardButton],
) -> InlineKeyboardMarkup:
    """A filter's menu: no filter first, then the choices two per row, then back to the view."""
    rows = [[every], *_two_per_row(choices)]
    rows.append([InlineKeyboardButton(tr.gettext("Back"), callback_data=view.data())])
    return InlineKeyboardMarkup(rows)


# --- the handlers ----------------------------------------------------------------------------


def _allowed_here(update: Update, community: Community) -> bool:
    """A private chat, or the community's own staff group."""
    chat = update.effective_chat
    return is_private(update) or (chat is not None and chat.id == community.staff_chat_id)


async def notebook_command(update: Update, context: NotebookContext) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    community = await community_as(context, STAFF_ROLES)
    if community is None:
        await message.reply_text(_("The notebook page is for the community's staff."))
        return
    if not _allowed_here(update, community):
        await message.reply_text(_("Please talk to me in a private chat."))
        return
    tz = ZoneInfo(community.timezone)
    view = parse_args(list(context.args or []), local_day(context.now(), tz))
    if view is None:
        await message.reply_text(
            _(
                "Send /notebook for today, /notebook week for this week, "
                "/notebook 2026-11-05 for a day, or /notebook 2026-11-05 week for its week."
            )
        )
        return
    text, markup = await _render_view(context, community, view)
    await message.reply_text(text, reply_markup=markup)


async def _valid_filters(session: AsyncSession, community: Community, view: View) -> bool:
    assert community.id is not None
    if view.building_id:
        building = await session.get(Building, view.building_id)
        if building is None or building.community_id != community.id:
            return False
    if view.owner_id:
        return await is_staff(session, person_id=view.owner_id, community_id=community.id)
    return True


async def _pressing_staff(update: Update, context: NotebookContext) -> Community | None:
    community = await community_as(context, STAFF_ROLES)
    if community is None:
        query = update.callback_query
        assert query is not None
        await query.answer(
            context.tr.gettext("The notebook page is for the community's staff."), show_alert=True
        )
    return community


async def on_noop(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    if await _pressing_staff(update, context) is not None:
        await query.answer()


async def on_press(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    community = await _pressing_staff(update, context)
    if community is None:
        return
    parsed = View.pressed(update)
    if parsed is None or not await _valid_filters(context.session, community, parsed[1]):
        await answer_stale(query, context)
        return
    action, view = parsed
    if action == "b":
        text, markup = await building_menu(context.session, context.tr, community, view)
    elif action == "o":
        text, markup = await owner_menu(context.session, context.tr, community, view)
    else:
        text, markup = await _render_view(context, community, view)
    await query.answer()
    # after the commit (delivery/answers.py); a repeated press is "not modified", which is fine
    await query.edit_message_text(text, reply_markup=markup)


HANDLERS = [
    CommandHandler("notebook", notebook_command),
    VIEW.handler(on_press),
    NOOP.handler(on_noop),
]
