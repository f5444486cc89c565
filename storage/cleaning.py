"""Updates made storable on both databases before they are kept: control characters out.

A resident's text can carry NUL (`\\x00`) and other C0 control characters (pasted from another
app, or sent by a misbehaving client). SQLite stores them, PostgreSQL refuses NUL in text
("invalid byte sequence for encoding UTF8: 0x00") and in JSON ("unsupported Unicode escape
sequence"), so such an update could never be filed there. `clean_json` is applied to every
update as it arrives (delivery/inbox.py), before the inbox stores it and before any handler sees it:

- C0 control characters other than tab, newline and carriage return become a space; a lone
  UTF-16 surrogate (which neither database can encode) becomes U+FFFD. Tab and newline are
  text; a carriage return is kept too (both databases store it, and some clients send a line
  break as CR LF: turning it into a newline would double the line).
- Each replaced character is one UTF-16 unit and so is its replacement, so the offsets and
  lengths of message entities (commands, links, bold…), which Telegram counts in UTF-16 units,
  still point at the same text. Removing the character instead would mean knowing which
  entity list belongs to which text in every kind of update.
- Every string is cleaned, dictionary keys included, at any depth. A getUpdates answer whose
  raw JSON has no escape that could stand for such a character (the usual case) is not walked
  at all (`clean_parsed`).
"""

from __future__ import annotations

import re
from typing import Any

# What neither database stores: C0 controls except \t \n \r, and lone surrogates (json.loads
# joins a valid pair into one character, so any surrogate left in a str is alone).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_REPLACEMENTS = {
    **{code: " " for code in range(0x20) if chr(code) not in "\t\n\r"},
    **{code: "\ufffd" for code in range(0xD800, 0xE000)},
}


# In JSON text a control character is always escaped (a raw one is invalid JSON and fails to
# parse): as \u0000 to \u001f, \b or \f (\t \n \r are kept anyway). A surrogate can only come
# from a \uD800 to \uDFFF escape. Anything else cannot decode to a character cleaning replaces;
# a match may still be harmless (an escaped backslash before "b", an emoji as a surrogate pair).
_ESCAPE_OF_UNSTORABLE = re.compile(rb"\\(?:u00[01]|u[dD][89a-fA-F]|[bf])")


def clean_text(text: str) -> str:
    """`text` with what cannot be stored replaced by characters of the same UTF-16 length;
    `text` itself when there is nothing to replace."""
    return text.translate(_REPLACEMENTS) if _UNSTORABLE.search(text) else text


def clean_json(value: Any) -> Any:
    """`value` (parsed JSON) with every string in it cleaned (`clean_text`), keys included.
    The very same object when nothing needed cleaning (the usual case copies nothing);
    otherwise a copy, the input left as it was."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        items = [(clean_json(k), clean_json(v)) for k, v in value.items()]
        if all(
            new_key is key and new is old
            for (new_key, new), (key, old) in zip(items, value.items(), strict=True)
        ):
            return value
        return dict(items)
    if isinstance(value, list):
        cleaned = [clean_json(v) for v in value]
        if all(new is old for new, old in zip(cleaned, value, strict=True)):
            return value
        return cleaned
    return value


def clean_parsed(raw: bytes, parsed: Any) -> Any:
    """`parsed`, the parse of the JSON text `raw`, cleaned (`clean_json`); `parsed` itself,
    without walking it, when `raw` has no escape that could decode to an unstorable character."""
    return clean_json(parsed) if _ESCAPE_OF_UNSTORABLE.search(raw) else parsed
