"""Text helpers shared by the emulator: UTF-16 lengths, parsed text + entities, trimming,
dispatch on ``parse_mode``, and the entities Telegram clients attach to what users type.

Telegram measures every offset, length and limit in UTF-16 code units, so all arithmetic on
entities here is done in those units, never in Python characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


class EntityParseError(ValueError):
    """Raised by the formatting parsers; the message is the detail Telegram puts after
    "Bad Request: can't parse entities: "."""


class UnsupportedParseMode(ValueError):
    """Raised for a parse_mode the emulator does not know."""


@dataclass
class ParsedText:
    """Plain text as the recipient sees it, with entities in UTF-16 units."""

    text: str
    entities: list[JSONDict] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The substring at a UTF-16 offset/length, as Python characters."""
    units = text.encode("utf-16-le")
    return units[offset * 2 : (offset + length) * 2].decode("utf-16-le", errors="replace")


def byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of a Python index; Telegram reports parse errors in bytes."""
    return len(text[:index].encode("utf-8"))


def sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    """Telegram orders entities by offset, enclosing ones first, and drops empty ones."""
    kept = [e for e in entities if e.get("length", 0) > 0]
    return sorted(kept, key=lambda e: (e["offset"], -e["length"]))


def trim(parsed: ParsedText) -> ParsedText:
    """Strip leading/trailing whitespace like Telegram does, shifting/clipping entities."""
    text = parsed.text
    stripped_left = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    entities: list[JSONDict] = []
    for entity in parsed.entities:
        start = max(0, entity["offset"] - shift)
        end = min(total, entity["offset"] + entity["length"] - shift)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(result, sort_entities(entities))


# --- entities a Telegram client computes for text a user types -----------------------------

# A command is "/" + up to 64 word characters, optionally "@botname", starting a word.
_COMMAND_RE = re.compile(r"(?<![\w/@])/([A-Za-z0-9_]{1,64})(@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{3,31})(?![\w@])")
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w*[^\W\d]\w*)")
_URL_RE = re.compile(r"(?<![\w@/])(?:https?://)?(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?:/[^\s]*)?")
_EMAIL_RE = re.compile(r"(?<![\w.])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _units_before(text: str, index: int) -> int:
    return utf16_len(text[:index])


def user_entities(text: str) -> list[JSONDict]:
    """Entities the official clients attach: bot_command, mention, hashtag, url, email."""
    found: list[JSONDict] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        found.append(
            {
                "type": kind,
                "offset": _units_before(text, start),
                "length": utf16_len(text[start:end]),
            }
        )

    for match in _COMMAND_RE.finditer(text):
        add("bot_command", match.start(), match.end())
    for match in _EMAIL_RE.finditer(text):
        add("email", match.start(), match.end())
    for match in _MENTION_RE.finditer(text):
        add("mention", match.start(), match.end())
    for match in _HASHTAG_RE.finditer(text):
        add("hashtag", match.start(), match.end())
    for match in _URL_RE.finditer(text):
        add("url", match.start(), match.end())
    return sort_entities(found)
