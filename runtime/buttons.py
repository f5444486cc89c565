"""The callback-data codec: every inline button of the notebook is a `Button`.

A `Button` names one kind of press and the typed values it carries:

    CLAIM = Button("card.claim", int)               # declared once, next to its handler
    InlineKeyboardButton(_("Claim"), callback_data=CLAIM.data(issue.id))
    CLAIM.handler(on_claim)                         # in the module's HANDLERS
    (issue_id,) = CLAIM.values(update)              # inside on_claim

The rules, kept here and checked by tests/runtime/test_buttons.py:
- Data is short and versioned: `<VERSION><name>:<value>:<value>…`, at most 64 bytes (Telegram's
  limit); `data()` refuses values that would break it, so a bad button never reaches Telegram.
- A handler only sees data of its exact shape: the version, the name, and every value of its
  type (an int of at most 11 digits, a word of letters, digits, `_` or `-`, or one of a fixed
  set). Anything else (a forged press, a truncated value, a button from before a change of
  format) matches no handler and gets handlers/shared/fallback.py's friendly answer instead.
- Names are unique across the notebook: a second `Button` with a name already taken is an
  error at import, so two features can never read each other's presses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler

# Bump when the format of existing buttons changes: presses on older messages then get the
# "no longer valid" answer instead of being read with the wrong meaning.
VERSION = "1"
LIMIT = 64  # bytes, Telegram's limit on callback data
_NAME = re.compile(r"[a-z][a-z0-9.]{0,15}")
_WORD = r"[A-Za-z0-9_-]{1,40}"
_INT = r"\d{1,11}"

# One value's type: int, str (a word), an Enum of str values, or a tuple of allowed words.
Field = type[int] | type[str] | type[Enum] | tuple[str, ...]
Value = int | str | Enum

_TAKEN: dict[str, Button] = {}


def _pattern_of(field: Field) -> str:
    if field is int:
        return _INT
    if field is str:
        return _WORD
    if isinstance(field, tuple):
        return "|".join(re.escape(choice) for choice in field)
    if isinstance(field, type) and issubclass(field, Enum):
        return "|".join(re.escape(str(member.value)) for member in field)
    raise TypeError(f"a button value must be int, str, an Enum or a tuple of words: {field!r}")


def _encode(field: Field, value: Value) -> str:
    if field is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"not a button id: {value!r}")
        return str(value)
    if isinstance(field, type) and issubclass(field, Enum):
        return str(field(value).value)
    text = str(value)
    if not re.fullmatch(_pattern_of(field), text):
        raise ValueError(f"{text!r} cannot be carried by a button")
    return text


def _decode(field: Field, raw: str) -> Value:
    if field is int:
        return int(raw)
    if isinstance(field, type) and issubclass(field, Enum):
        return field(raw)
    return raw


class Button:
    """One kind of button: its name and the types of the values it carries."""

    def __init__(self, name: str, *fields: Field) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"a button name is a short lowercase word: {name!r}")
        if name in _TAKEN:
            raise ValueError(f"two buttons are named {name!r}")
        _TAKEN[name] = self
        self.name = name
        self.fields = fields
        head = re.escape(VERSION + name)
        parts = "".join(f":({_pattern_of(field)})" for field in fields)
        self.pattern = re.compile(f"^{head}{parts}$")

    def data(self, *values: Value) -> str:
        """The callback data for a button carrying `values`."""
        if len(values) != len(self.fields):
            raise ValueError(f"{self.name} carries {len(self.fields)} values, not {len(values)}")
        text = (
            VERSION
            + self.name
            + "".join(
                ":" + _encode(field, value)
                for field, value in zip(self.fields, values, strict=True)
            )
        )
        if len(text.encode()) > LIMIT:
            raise ValueError(f"callback data over {LIMIT} bytes: {text!r}")
        return text

    def parse(self, data: str | None) -> tuple[Any, ...] | None:
        """The typed values of `data`, or None when it is not this button's."""
        found = self.pattern.match(data or "")
        if found is None:
            return None
        return tuple(
            _decode(field, raw) for field, raw in zip(self.fields, found.groups(), strict=True)
        )

    def values(self, update: Update) -> tuple[Any, ...]:
        """The values of the press being handled (its handler matched this button's pattern)."""
        query = update.callback_query
        parsed = self.parse(query.data if query else None)
        if parsed is None:
            raise LookupError(f"not a press of {self.name}")
        return parsed

    def handler(
        self, callback: Callable[[Update, Any], Coroutine[Any, Any, None]]
    ) -> CallbackQueryHandler[Any, None]:
        return CallbackQueryHandler(callback, pattern=self.pattern)

    def __repr__(self) -> str:
        return f"Button({self.name!r})"
