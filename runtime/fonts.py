"""The Chinese font the bot draws posters and charts and prints PDFs with.

WenQuanYi Micro Hei (文泉驿微米黑, Apache License 2.0: free to embed and redistribute) ships in
the `paperang-p2-fonts-cjk` package from PyPI, a declared dependency, so a fresh machine with no
Chinese system fonts still renders 中文, and every poster, chart and PDF the bot hands out
carries a font it may carry. It is a TrueType collection with glyf outlines, which Pillow,
matplotlib and reportlab all embed; the face used is the proportional one, index 0. The file is
found by path, without importing the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CJK_FONT_PACKAGE = "paperang_p2_fonts_cjk"
CJK_FONT_FILE = "fonts/wqy-microhei.ttc"
CJK_FONT_INDEX = 0  # WenQuanYi Micro Hei; 1 is its monospaced twin
CJK_FONT_NAME = "WenQuanYiMicroHei"  # its PostScript name, as a PDF names the embedded subset


class FontMissing(RuntimeError):
    """The font package is not installed (a broken install, not a user error)."""


def cjk_font_path() -> Path:
    spec = importlib.util.find_spec(CJK_FONT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / CJK_FONT_FILE
        if path.is_file():
            return path
    raise FontMissing(f"{CJK_FONT_FILE} not found: install the {CJK_FONT_PACKAGE} package")
