"""/export for the secretary: a period's issues as a spreadsheet for the street office (XLSX or
CSV), or the notebook pages as a printable PDF, sent as documents.

`/export` = the last 7 days, `/export 2026-11` (or `上个月`) = a month,
`/export 2026-11-01 2026-11-15` (or `下周一到周五`; storage/dates.py reads them) = those days.
Every file holds every issue open at any time in the period (new, reopened or
carried over), with its status and clocks at the period's end; "for the wall" is the PDF without
internal notes, residents' names or phone numbers. The command answers with one button per
file; the period travels in the button (`FILE`), and the secretary's rights are checked again
on every press.
Files are written in a worker thread, batch by batch, from rows streamed out of the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.ext import CommandHandler

from handlers.secretary.documents import (
    PrintedDay,
    PrintedNotebook,
    notebook_pdf,
    spreadsheet_file,
)
from handlers.shared.common import escape
from handlers.shared.fallback import answer_stale
from handlers.shared.fitting import clip
from handlers.shared.formats import period_label
from handlers.shared.offices import SECRETARY, community_as, private_command_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.effects import afterwards
from runtime.i18n import Translator
from runtime.offload import Offload
from storage.db import Database
from storage.export import ExportRow, issue_batches
from storage.models import Community
from storage.notebook import black_entries, count_black, count_red, red_entries
from storage.period_issues import Scope
from storage.periods import MAX_DAYS, Period, day_code, parse_day_code, parse_period

FORMATS = ("xlsx", "csv", "pdf", "wall")  # wall: the PDF for the notice board
FILE = Button("ex.file", FORMATS, str, str)  # the format, the first and the last day
PDF_ENTRY_LIMIT = 3000  # entries on paper; beyond that the PDF says how many were left out


def _file_name(period: Period, kind: str) -> str:
    first, last = period.first_day.isoformat(), period.last_day.isoformat()
    days = f"{first}-{last}" if first != last else first
    return f"notebook-{days}-wall.pdf" if kind == "wall" else f"notebook-{days}.{kind}"


async def spreadsheet(
    session: AsyncSession,
    tr: Translator,
    community: Community,
    period: Period,
    kind: str,
    *,
    now: datetime | None = None,
    offload: Offload | None = None,
) -> bytes:
    """Every issue open in the period, with its status and clocks at the period's end (or at
    `now`, for a period still running); the file is written by `offload` (on a worker thread
    without one)."""
    assert community.id is not None
    rows: list[ExportRow] = []
    async for batch in issue_batches(
        session, community_id=community.id, period=period, now=now or period.end
    ):
        rows.extend(batch)
    offload = offload or Offload(in_process=False)
    return await offload.run(spreadsheet_file, tr, community.name, kind, rows)


async def printed_notebook(
    session: AsyncSession,
    community: Community,
    period: Period,
    limit: int = PDF_ENTRY_LIMIT,
    *,
    now: datetime | None = None,
    wall: bool = False,
) -> PrintedNotebook:
    """Each day's new and reopened problems and staff steps, then every issue open in the
    period with its status and clocks at its end (or at `now`), up to `limit` entries.
    `wall`: for the notice board, without internal notes (names and phones are left out when
    it is printed)."""
    assert community.id is not None
    cid = community.id
    now = now or period.end
    room = limit
    days = []
    for day in period.day_by_day():
        printed = PrintedDay(day)
        if room > 0:
            printed.red = await red_entries(
                session, community_id=cid, period=day, now=now, scope=Scope.ARRIVED, limit=room
            )
            room -= len(printed.red)
        if room > 0:
            printed.black = await black_entries(
                session, community_id=cid, period=day, public_only=wall, limit=room
            )
            room -= len(printed.black)
        if printed.red or printed.black:
            days.append(printed)
    open_in_period = []
    if room > 0:
        open_in_period = await red_entries(
            session, community_id=cid, period=period, now=now, limit=room
        )
        room -= len(open_in_period)
    left_out = 0
    if room <= 0:  # the limit was reached: count what did not fit
        total = (
            await count_red(session, community_id=cid, period=period, scope=Scope.ARRIVED)
            + await count_black(session, community_id=cid, period=period, public_only=wall)
            + await count_red(session, community_id=cid, period=period)
        )
        left_out = max(total - limit, 0)
    return PrintedNotebook(community.name, period, days, open_in_period, left_out, wall=wall)


async def export_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, SECRETARY, _("Only the community secretary can export the notebook.")
    )
    if asked is None:
        return
    message, community = asked
    period = parse_period(
        " ".join(context.args or []),
        now=context.now(),
        tz=ZoneInfo(community.timezone),
        locale=context.tr.locale,
    )
    if period is None:
        await message.reply_text(
            _(
                "I could not read “{text}” as days. Send /export for the last 7 days, or name "
                "them as you would say them: /export 上个月, /export last week, /export 2026-11, "
                "/export 11-01 到 11-15."
            ).format(text=escape(" ".join(context.args or [])[:50]))
        )
        return
    days = (day_code(period.first_day), day_code(period.last_day))
    # the worker process that will make the file gets ready while the secretary chooses
    context.notebook.offload.start((spreadsheet_file.__module__,))
    await message.reply_text(
        _("{community}, {period}: which file would you like?").format(
            community=escape(community.name), period=period_label(context.tr, period)
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Spreadsheet (Excel)"), callback_data=FILE.data("xlsx", *days)
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Spreadsheet (CSV)"), callback_data=FILE.data("csv", *days)
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Notebook pages to print (PDF)"), callback_data=FILE.data("pdf", *days)
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("For the wall (PDF, no internal notes, names or phones)"),
                        callback_data=FILE.data("wall", *days),
                    )
                ],
            ]
        ),
    )


def _period(first_code: str, last_code: str, tz: ZoneInfo) -> Period | None:
    first, last = parse_day_code(first_code), parse_day_code(last_code)
    if first is None or last is None or not first <= last < first + timedelta(days=MAX_DAYS):
        return None
    if not 2000 <= first.year <= last.year <= 2100:
        return None
    return Period.days(first, last, tz)


async def on_press(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    _ = context.tr.gettext
    community = await community_as(context, SECRETARY)
    if community is None:
        await query.answer(
            _("Only the community secretary can export the notebook."), show_alert=True
        )
        return
    kind, first_code, last_code = FILE.values(update)
    period = _period(first_code, last_code, ZoneInfo(community.timezone))
    if period is None:
        await answer_stale(query, context)
        return
    await query.answer(_("Preparing the file…"))
    chat_id = query.message.chat.id
    await context.bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    # made and sent after this update: the press is answered at once, and the chat goes on
    notebook = context.notebook
    file = _File(
        context.bot, notebook.db, context.tr, community, period, kind, chat_id, notebook.offload
    )
    afterwards(partial(_send_file, file, now=context.now()))


@dataclass(frozen=True)
class _File:
    """A file asked for, to be made and sent after the update that asked (`afterwards`)."""

    bot: Bot
    db: Database
    tr: Translator
    community: Community
    period: Period
    kind: str
    chat_id: int
    offload: Offload


async def _send_file(file: _File, *, now: datetime) -> None:
    bot, tr, community, period, kind = file.bot, file.tr, file.community, file.period, file.kind
    _ = tr.gettext
    label = period_label(tr, period)
    name = escape(clip(community.name, 100))  # the caption stays far below 1024 characters
    async with file.db.reading() as reader:  # off the loop: every chat goes on
        if kind in ("pdf", "wall"):
            printed = await printed_notebook(
                reader, community, period, now=now, wall=kind == "wall"
            )
        else:
            data = await spreadsheet(
                reader, tr, community, period, kind, now=now, offload=file.offload
            )
    if kind == "wall":
        data = await file.offload.run(notebook_pdf, tr, printed)
        caption = _("{community}: the notebook for the wall, {period}").format(
            community=name, period=label
        )
    elif kind == "pdf":
        data = await file.offload.run(notebook_pdf, tr, printed)
        caption = _("{community}: the notebook, {period}").format(community=name, period=label)
    else:
        caption = _("{community}: every issue open in {period}").format(
            community=name, period=label
        )
    await bot.send_document(
        file.chat_id, document=data, filename=_file_name(period, kind), caption=caption
    )


HANDLERS = [
    CommandHandler("export", export_command),
    FILE.handler(on_press),
]
