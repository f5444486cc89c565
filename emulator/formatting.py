"""A message's text as Telegram shows it: the parse mode (HTML, MarkdownV2, Markdown) or the
explicit entities applied, then trimmed (emulator/text.py holds the shared types)."""

from __future__ import annotations

from emulator.html import parse_html
from emulator.markdown import parse_markdown, parse_markdown_v2
from emulator.text import JSONDict, ParsedText, UnsupportedParseMode, sort_entities, trim


def parse_formatted(
    text: str, parse_mode: str | None, explicit_entities: list[JSONDict] | None = None
) -> ParsedText:
    """Apply ``parse_mode`` (or explicit entities) and trim; raises EntityParseError or
    UnsupportedParseMode."""
    mode = (parse_mode or "").strip().lower()
    if not mode:
        parsed = ParsedText(text, sort_entities(list(explicit_entities or [])))
    elif mode == "html":
        parsed = parse_html(text)
    elif mode == "markdownv2":
        parsed = parse_markdown_v2(text)
    elif mode == "markdown":
        parsed = parse_markdown(text)
    else:
        raise UnsupportedParseMode(parse_mode)
    return trim(parsed)
