"""Keeping long messages within Telegram's limits (4096 characters, captions 1024).

Telegram counts UTF-16 code units of the text after HTML parsing; measuring the HTML itself is
an upper bound, so a text that fits here always fits there. User text is cut *before* it is
escaped, so a cut never splits an entity like `&amp;`.
"""

from __future__ import annotations

from handlers.shared.common import escape

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


def telegram_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits(text: str, limit: int = MESSAGE_LIMIT) -> bool:
    return telegram_length(text) <= limit


def clip(text: str | None, limit: int, *, lines: bool = False) -> str:
    """User text at most `limit` characters (with … when cut), not escaped: on one line, or
    keeping its line breaks (`lines`)."""
    flat = (text or "").strip() if lines else " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"


def short(text: str | None, limit: int) -> str:
    """User text clipped, then escaped for HTML, to show in a message: a passage of more than
    120 characters keeps its line breaks, a shorter one is put on one line."""
    return escape(clip(text, limit, lines=limit > 120))
