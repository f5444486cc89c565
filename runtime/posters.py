"""Printable posters for a building's stairwell: a QR code of the building's deep link and a
few words in Chinese, as PNG (Pillow) and A4 PDF (reportlab).

The Chinese font is WenQuanYi Micro Hei from a declared package (runtime/fonts.py), never
from the system, so the poster looks the same on every machine. The PNG carries its link and
the QR code's position in text chunks, so a test (or an operator) can check which link a poster
holds without a decoder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from runtime.fonts import CJK_FONT_INDEX, CJK_FONT_NAME, cjk_font_path

FONT_NAME = CJK_FONT_NAME
PNG_SIZE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 60  # pixels left free at each side of the PNG
PDF_MARGIN = 40  # points, the PDF's
QR_BORDER = 4  # modules of white around the code, as the QR standard asks


@dataclass(frozen=True)
class PosterText:
    """The words on the poster (already translated to Chinese by the caller)."""

    community: str
    building: str
    call_to_action: str  # "scan to join"
    lines: tuple[str, ...]  # what the bot is for, and whom to call without it: four short lines
    link: str


def qr_matrix(link: str) -> list[list[bool]]:
    """The QR code's modules (True = dark), quiet zone included."""
    code = qrcode.QRCode(
        border=QR_BORDER, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1
    )
    code.add_data(link)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


@lru_cache(maxsize=8)
def _pil_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(cjk_font_path()), size, index=CJK_FONT_INDEX)


def render_png(text: PosterText) -> bytes:
    width, height = PNG_SIZE
    image = Image.new("RGB", PNG_SIZE, "white")
    draw = ImageDraw.Draw(image)

    def centred(y: int, words: str, size: int, fill: str = "black") -> None:
        font = _pil_font(size)
        left, _top, right, _bottom = draw.textbbox((0, 0), words, font=font)
        while right - left > width - 2 * MARGIN and size > 20:  # a long line: smaller, not cut
            size -= 2
            font = _pil_font(size)
            left, _top, right, _bottom = draw.textbbox((0, 0), words, font=font)
        draw.text(((width - (right - left)) // 2, y), words, font=font, fill=fill)

    centred(90, text.community, 72)
    centred(200, text.building, 120, fill="#b22222")  # the red pen
    centred(380, text.call_to_action, 64)
    matrix = qr_matrix(text.link)
    box = 800 // len(matrix)
    side = box * len(matrix)
    left, top = (width - side) // 2, 490
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                x0, y0 = left + x * box, top + y * box
                draw.rectangle((x0, y0, x0 + box - 1, y0 + box - 1), fill="black")
    y = top + side + 40
    for line in text.lines:
        centred(y, line, 44)
        y += 64
    centred(height - 90, text.link, 28, fill="#555555")
    info = PngInfo()
    info.add_text("link", text.link)
    info.add_text("qr", f"{left},{top},{box},{len(matrix)}")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, optimize=True)
    return out.getvalue()


@lru_cache(maxsize=1)
def _register_pdf_font() -> str:
    pdfmetrics.registerFont(TTFont(FONT_NAME, str(cjk_font_path()), subfontIndex=CJK_FONT_INDEX))
    return FONT_NAME


def render_pdf(text: PosterText) -> bytes:
    font = _register_pdf_font()
    width, height = A4
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"{text.community} {text.building}")
    pdf.setFont(font, 34)
    pdf.drawCentredString(width / 2, height - 90, text.community)
    pdf.setFillColorRGB(0.7, 0.13, 0.13)
    pdf.setFont(font, 60)
    pdf.drawCentredString(width / 2, height - 170, text.building)
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 30)
    pdf.drawCentredString(width / 2, height - 240, text.call_to_action)
    matrix = qr_matrix(text.link)
    box = 340 / len(matrix)
    side = box * len(matrix)
    left, top = (width - side) / 2, height - 270
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:  # vector squares: sharp at any print size
                pdf.rect(left + x * box, top - (y + 1) * box, box, box, stroke=0, fill=1)
    line_y = top - side - 40
    for line in text.lines:
        size = 22.0
        while pdfmetrics.stringWidth(line, font, size) > width - 2 * PDF_MARGIN and size > 10:
            size -= 1  # a long line: smaller, not cut
        pdf.setFont(font, size)
        pdf.drawCentredString(width / 2, line_y, line)
        line_y -= 34
    pdf.setFont(font, 11)
    pdf.drawCentredString(width / 2, 40, text.link)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# --- household code slips ----------------------------------------------------------------------


@dataclass(frozen=True)
class Slip:
    """One household's slip: where it goes and its single-use code with the code's link."""

    place: str  # building (and unit), as printed
    room: str
    code: str
    link: str


@dataclass(frozen=True)
class SlipText:
    """The words every slip carries (already translated by the caller)."""

    community: str
    title: str  # "household verification code"
    room_label: str  # "Room {room}" with {room}
    lines: tuple[str, ...]  # how to use it, two or three short lines


SLIP_COLUMNS, SLIP_ROWS = 2, 4  # eight slips to an A4 page, cut along the dashed lines


def spaced_code(code: str) -> str:
    """ "K7QM3XPA9B" -> "K7QM-3XP-A9B": easier to read off paper and to type."""
    return "-".join(part for part in (code[:4], code[4:7], code[7:]) if part)


def render_slips_pdf(text: SlipText, slips: list[Slip]) -> bytes:
    """Household code slips, eight to an A4 page: the community, the room, the code in large
    letters and its QR code (the link `/start home-<code>`), and how to use it."""
    font = _register_pdf_font()
    width, height = A4
    cell_w, cell_h = width / SLIP_COLUMNS, height / SLIP_ROWS
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"{text.community} {text.title}")
    per_page = SLIP_COLUMNS * SLIP_ROWS
    for start in range(0, max(len(slips), 1), per_page):
        pdf.setDash(3, 3)
        pdf.setStrokeColorRGB(0.6, 0.6, 0.6)
        for column in range(1, SLIP_COLUMNS):
            pdf.line(column * cell_w, 0, column * cell_w, height)
        for row in range(1, SLIP_ROWS):
            pdf.line(0, row * cell_h, width, row * cell_h)
        pdf.setDash()
        for index, slip in enumerate(slips[start : start + per_page]):
            column, row = index % SLIP_COLUMNS, index // SLIP_COLUMNS
            _draw_slip(pdf, font, text, slip, column * cell_w, height - row * cell_h, cell_w)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def _draw_slip(
    pdf: canvas.Canvas, font: str, text: SlipText, slip: Slip, left: float, top: float, w: float
) -> None:
    pad = 16
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 11)
    pdf.drawString(left + pad, top - pad - 10, f"{text.community} · {text.title}"[:40])
    pdf.setFillColorRGB(0.7, 0.13, 0.13)  # the red pen
    pdf.setFont(font, 18)
    pdf.drawString(
        left + pad, top - pad - 36, f"{slip.place} {text.room_label.format(room=slip.room)}"[:24]
    )
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setFont(font, 24)
    pdf.drawString(left + pad, top - pad - 72, spaced_code(slip.code))
    pdf.setFont(font, 9)
    y = top - pad - 122  # under the QR code
    for line in text.lines:
        pdf.drawString(left + pad, y, line[:28])
        y -= 13
    matrix = qr_matrix(slip.link)
    box = 84 / len(matrix)
    qr_left, qr_top = left + w - pad - 84, top - pad - 20
    for qy, qrow in enumerate(matrix):
        for qx, dark in enumerate(qrow):
            if dark:
                pdf.rect(qr_left + qx * box, qr_top - (qy + 1) * box, box, box, stroke=0, fill=1)
