"""The Chinese font the bot draws charts and prints PDFs with.

SimHei (黑体) ships inside the `mplfonts` package from PyPI, a declared dependency, so a fresh
machine with no Chinese system fonts still renders 中文. The file is found by path, without
importing the package (which would import matplotlib's pyplot machinery for nothing).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

CJK_FONT_PACKAGE = "mplfonts"
CJK_FONT_FILE = "fonts/SimHei.ttf"  # TrueType outlines: both matplotlib and reportlab embed it


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
