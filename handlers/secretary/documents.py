"""The files /export sends: the issues as CSV and XLSX, and the printable notebook as PDF.

Spreadsheets hold what people typed verbatim (no HTML escaping), but a cell that starts with
=, +, - or @ (or a tab or carriage return) gets a leading apostrophe, so a spreadsheet program
never runs it as a formula (formula injection). Dates are local times in the community's zone,
as real date cells in XLSX. The PDF prints each day's red entries in red ink and black entries
in black ink (an internal note labelled as one, apart from replies to residents), then every
issue open in the period with its status and clocks at the period's end, in WenQuanYi Micro Hei
embedded from its package (runtime/fonts.py); user text is escaped for reportlab's paragraph
markup. The wall's PDF leaves out internal notes, residents' names and phone numbers. Builders
are plain functions: callers run them in a thread.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from handlers.secretary.notebook_entries import black_line, red_line
from handlers.shared.formats import period_label, weekday_label
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import (
    category_label,
    channel_label,
    difficulty_label,
    satisfaction_label,
    status_label,
    urgency_label,
)
from runtime.fonts import CJK_FONT_INDEX, CJK_FONT_NAME, cjk_font_path
from runtime.i18n import N_, Translator
from storage.export import ExportRow
from storage.notebook import BlackEntry, RedEntry
from storage.period_issues import ResponseClock, Standing
from storage.periods import Period

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PDF_FONT = CJK_FONT_NAME
RED_INK = "#c0392b"
BLACK_INK = "#1a1a1a"
PRINT_TEXT_LIMIT = 2000  # characters of one entry's user text on paper
# reportlab keeps a process-wide font registry and per-font subset state: one PDF at a time.
PRINTING = threading.Lock()

COLUMNS = (
    N_("No."),
    N_("Reported"),
    N_("New, reopened or carried over"),
    N_("Channel"),
    N_("Category"),
    N_("Problem"),
    N_("Building"),
    N_("Unit"),
    N_("Urgency"),
    N_("Difficulty"),
    N_("Status at the period's end"),
    N_("Owner"),
    N_("Plan"),
    N_("Response deadline"),
    N_("Response at the period's end"),
    N_("Completion due"),
    N_("Completion at the period's end"),
    N_("Transferred body's answer due"),
    N_("Accepted"),
    N_("First response"),
    N_("Resolved"),
    N_("Closed"),
    N_("Satisfaction"),
    N_("Supporters"),
    N_("Reopened"),
)


def defuse(value: str | None) -> str:
    """User text for a spreadsheet cell: verbatim, unless it could start a formula."""
    text = value or ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def headers(tr: Translator) -> list[str]:
    return [tr.gettext(name) for name in COLUMNS]


def _local(tr: Translator, moment: datetime | None) -> datetime | None:
    return moment.astimezone(tr.tz).replace(tzinfo=None) if moment else None


STANDING_CELLS = {
    Standing.NEW: N_("new in the period"),
    Standing.REOPENED: N_("reopened in the period"),
    Standing.CARRIED_OVER: N_("carried over"),
}
RESPONSE_CELLS = {
    ResponseClock.RUNNING: N_("awaiting a reply, in time"),
    ResponseClock.OVERDUE: N_("awaiting a reply, overdue"),
    ResponseClock.MET: N_("replied in time"),
    ResponseClock.MISSED: N_("replied late"),
    ResponseClock.STOPPED: N_("no reply needed any more"),
}


def _completion(tr: Translator, row: ExportRow) -> str:
    if row.due_at is None:
        return ""
    return tr.gettext("overdue") if row.overdue else tr.gettext("not overdue")


def row_values(tr: Translator, row: ExportRow) -> list[Any]:
    """One issue as cells: numbers as numbers, times as local datetimes, text defused."""
    return [
        row.number,
        _local(tr, row.created_at),
        tr.gettext(STANDING_CELLS[row.standing]),
        channel_label(tr, row.channel),
        category_label(tr, row.category),
        defuse(title_text(tr, row.description, row.summary, row.reporter)),
        defuse(row.building),
        defuse(row.unit),
        urgency_label(tr, row.urgency),
        difficulty_label(tr, row.difficulty) if row.difficulty else "",
        status_label(tr, row.status),
        defuse(row.owner),
        defuse(row.plan),
        _local(tr, row.respond_by),
        tr.gettext(RESPONSE_CELLS[row.response]) if row.response else "",
        _local(tr, row.due_at),
        _completion(tr, row),
        _local(tr, row.transfer_answer_by),
        _local(tr, row.accepted_at),
        _local(tr, row.first_response_at),
        _local(tr, row.resolved_at),
        _local(tr, row.closed_at),
        satisfaction_label(tr, row.satisfaction),
        row.supporters,
        row.reopened,
    ]


# --- CSV ---------------------------------------------------------------------------------------


class CsvFile:
    """A CSV written batch by batch; UTF-8 with a byte-order mark so Excel reads 中文."""

    def __init__(self, tr: Translator) -> None:
        self.tr = tr
        self.buffer = io.StringIO(newline="")
        self.writer = csv.writer(self.buffer)
        self.writer.writerow(headers(tr))

    def add(self, rows: Iterable[ExportRow]) -> None:
        for row in rows:
            self.writer.writerow(
                [
                    value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value
                    for value in row_values(self.tr, row)
                ]
            )

    def finish(self) -> bytes:
        return self.buffer.getvalue().encode("utf-8-sig")


# --- XLSX --------------------------------------------------------------------------------------


def spreadsheet_file(tr: Translator, title: str, kind: str, rows: list[ExportRow]) -> bytes:
    """The spreadsheet of these rows: XLSX (`kind` "xlsx") or CSV; pure CPU work, made in a
    process of its own (runtime/offload.py)."""
    document = XlsxFile(tr, title) if kind == "xlsx" else CsvFile(tr)
    document.add(rows)
    return document.finish()


class XlsxFile:
    """An XLSX written batch by batch (openpyxl's write-only mode keeps memory flat)."""

    WIDTHS = (
        7,
        17,
        12,
        10,
        18,
        40,
        10,
        8,
        9,
        12,
        10,
        12,
        30,
        17,
        14,
        17,
        12,
        17,
        17,
        17,
        17,
        10,
        8,
        8,
    )

    def __init__(self, tr: Translator, title: str) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.tr = tr
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title=_sheet_title(title))
        for index, width in enumerate(self.WIDTHS, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for name in headers(tr):
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)

    def add(self, rows: Iterable[ExportRow]) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        for row in rows:
            cells = []
            for value in row_values(self.tr, row):
                if isinstance(value, str):
                    # XML cannot hold most control characters; everything else stays verbatim.
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell = WriteOnlyCell(self.sheet, value=value)
                if isinstance(value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                cells.append(cell)
            self.sheet.append(cells)

    def finish(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()


def _sheet_title(title: str) -> str:
    """Excel refuses []:*?/\\ in sheet names and more than 31 characters."""
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return cleaned[:31] or "Sheet"


# --- PDF ---------------------------------------------------------------------------------------


@dataclass
class PrintedDay:
    """One day of the notebook on paper."""

    day: Period
    red: list[RedEntry] = field(default_factory=list)
    black: list[BlackEntry] = field(default_factory=list)


@dataclass
class PrintedNotebook:
    community: str
    period: Period
    days: list[PrintedDay]
    open_in_period: list[RedEntry]  # every issue open at any time in the period
    left_out: int = 0  # entries beyond the printing limit
    wall: bool = False  # for the notice board: no internal notes, residents' names or phones


# What stands for a sign the font cannot draw (an emoji's box would print as an empty square)
IN_WORDS = {"🎤": "", "📍": "", "📞": "", "⚠️": "!", "⚠": "!", "✅": "✓", "🚨": "!"}


def drawable(text: str, font: str) -> str:
    """`text` with every character the PDF's font has no glyph for replaced or left out."""
    from reportlab.pdfbase import pdfmetrics

    glyphs = pdfmetrics.getFont(font).face.charToGlyph
    for sign, words in IN_WORDS.items():
        text = text.replace(sign, words)
    return "".join(c for c in text if ord(c) in glyphs or c in "\n\t ")


def _register_font() -> str:
    """Register the Chinese font with reportlab once per process (reportlab keeps a registry)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(cjk_font_path()), subfontIndex=CJK_FONT_INDEX))
    return PDF_FONT


def notebook_pdf(tr: Translator, notebook: PrintedNotebook) -> bytes:
    """The notebook pages, red ink for problems and black ink for owners, plans and progress."""
    with PRINTING:
        return _print(tr, notebook)


def _print(tr: Translator, notebook: PrintedNotebook) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _ = tr.gettext
    font = _register_font()

    def style(name: str, size: float, color: str, space: float = 2) -> ParagraphStyle:
        return ParagraphStyle(
            name,
            fontName=font,
            fontSize=size,
            leading=size * 1.45,
            textColor=colors.HexColor(color),
            wordWrap="CJK",  # Chinese breaks between any two characters
            spaceAfter=space,
        )

    title = style("title", 20, BLACK_INK, 4)
    heading = style("heading", 14, BLACK_INK, 4)
    red = style("red", 11, RED_INK)
    black = style("black", 11, BLACK_INK)
    note = style("note", 10, BLACK_INK)

    def para(text: str, ink: ParagraphStyle) -> Paragraph:
        return Paragraph(xml_escape(drawable(text, font)), ink)

    story: list[Any] = [
        para(_("{community}: the notebook").format(community=notebook.community), title),
        para(period_label(tr, notebook.period), note),
        Spacer(1, 6 * mm),
    ]
    wall = notebook.wall
    if wall:
        story.insert(
            2,
            para(
                _(
                    "For the wall: without internal notes, residents' names or phone numbers "
                    "(phone numbers in what residents wrote are hidden)."
                ),
                note,
            ),
        )
    if not notebook.days and not notebook.open_in_period:
        story.append(para(_("Nothing was written in the notebook for this time."), note))
    for day in notebook.days:
        story.append(para(weekday_label(tr, day.day.start), heading))
        if day.red:
            story.append(para(_("Red pen: problems that came in or were reopened"), red))
        for entry in day.red:
            line = red_line(tr, entry, week=False, cut=PRINT_TEXT_LIMIT, wall=wall)
            story.append(para("● " + line, red))
        if day.black:
            story.append(para(_("Black pen: owners, plans and progress"), black))
        for item in day.black:
            line = black_line(tr, item, week=False, cut=PRINT_TEXT_LIMIT, wall=wall)
            story.append(para("● " + line, black))
        story.append(Spacer(1, 4 * mm))
    if notebook.open_in_period:
        story.append(para(_("The to-do list: every issue open in this time"), heading))
        as_of = notebook.open_in_period[0].as_of
        if as_of is not None:
            story.append(
                para(
                    _("Status and deadlines as they stood at {when}.").format(
                        when=tr.datetime(as_of, "short")
                    ),
                    note,
                )
            )
        for entry in notebook.open_in_period:
            line = red_line(tr, entry, week=True, cut=PRINT_TEXT_LIMIT, wall=wall)
            story.append(para("● " + line, red))
    if notebook.left_out:
        story.append(Spacer(1, 4 * mm))
        story.append(
            para(
                _(
                    "{count} more entries are not printed: choose a shorter period, "
                    "or use the spreadsheet."
                ).format(count=tr.number(notebook.left_out)),
                note,
            )
        )

    footer = _("{community} · page {page}")

    def number_page(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(
            A4[0] / 2,
            10 * mm,
            footer.format(community=notebook.community, page=tr.number(document.page)),
        )
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=_("{community}: the notebook").format(community=notebook.community),
        author=notebook.community,
    )
    document.build(story, onFirstPage=number_page, onLaterPages=number_page)
    return buffer.getvalue()
