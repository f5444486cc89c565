"""/notebook: the notebook page for a day or a week, for the community's staff.

Red entries (every issue open in the day or week: new, reopened or carried over, with its
status and clocks as they stood at its end) and black entries (owner, plan, replies and
internal notes, each labelled), like the secretary's paper notebook. Buttons move a day or a
week, switch between day and week, narrow the page to one building or one owner, and turn
pages. Every page is one message within Telegram's limit, user text escaped. The view (day,
day or week, filters, page) travels in the buttons' callback data; every press is checked
again on the server. How each entry reads is handlers/secretary/notebook_entries.py.

`/notebook` = today, `/notebook week` = this week, `/notebook 2026-11-05` = that day,
`/notebook 2026-11-05 week` = that day's week (Monday to Sunday).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.secretary.notebook_entries import NAME_LIMIT, black_line, red_line
from handlers.shared.common import escape, is_private
from handlers.shared.fallback import answer_stale
from handlers.shared.fitting import clip, fits
from handlers.shared.formats import period_label
from handlers.shared.offices import community_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage.dates import parse_day
from storage.models import STAFF_ROLES, Building, Community, Membership, Person
from storage.notebook import NotebookPage, PageFilter, notebook_page
from storage.people import is_staff
from storage.periods import Period, day_code, local_day, parse_day_code
from storage.residents import buildings_of

# What a press shows (v: the page, b: the buildings to filter by, o: the people), then the view:
# its day, day or week, the building (0: all), the person (0: everyone) and the page.
VIEW = Button("nb.view", ("v", "b", "o"), str, ("d", "w"), int, int, int)
NOOP = Button("nb.noop")  # the page counter: nothing to do
PER_PAGE = 8  # entries on one page
CUTS = (120, 60, 30, 15)  # characters of user text per entry, tried until the page fits
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


def parse_args(args: list[str], today: date, locale: str) -> View | None:
    """[] → today; ["week"] → this week; ["2026-11-05"] (or "昨天", "11月5日"…) → that day;
    with "week": its week."""
    week = any(arg.lower() in WEEK_WORDS for arg in args)
    days = [arg for arg in args if arg.lower() not in WEEK_WORDS]
    if len(days) > 1:
        return None
    if not days:
        return View(today, week)
    day = parse_day(days[0], today=today, locale=locale, past=True)
    if day is None or not 2000 <= day.year <= 2100:
        return None
    return View(day, week)


# --- writing a page (each entry's words: notebook_entries.py) -------------------------------


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
    view = parse_args(list(context.args or []), local_day(context.now(), tz), context.tr.locale)
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
