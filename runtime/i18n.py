"""Translations and locale-aware formatting.

Catalogs live in `locales/<locale>/LC_MESSAGES/messages.po`, compiled to `.mo` by
`pybabel compile`. When a `.mo` is missing or older than its `.po` (a fresh clone), the catalog is
compiled in memory from the `.po`, so the bot never shows msgids for want of a build step. An
installed wheel carries them compiled as package data, in `runtime/locales/` (setup.py).

Each update gets its own `Translator` (chosen from the person's stored choice or Telegram's
language_code); there is no process-wide "current locale".
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from runtime.settings import SUPPORTED_LOCALES

_PACKAGED = Path(__file__).resolve().parent / "locales"  # in an installed wheel
_CHECKOUT = Path(__file__).resolve().parent.parent / "locales"  # in a clone or an editable install
LOCALES_DIR = _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is defined; translate it later where it is shown."""
    return message


def locale_for_language_code(code: str | None, default: str) -> str:
    """Map Telegram's client language_code to a supported locale.

    Every Chinese variant goes to zh_Hans: it is the only Chinese catalog, and readers of
    Traditional Chinese read Simplified far better than English. Anything unknown falls back to
    the community's default rather than to English.
    """
    if not code:
        return default
    primary = code.replace("_", "-").lower().split("-")[0]
    if primary == "zh":
        return "zh_Hans"
    if primary == "en":
        return "en"
    return default


def _load_catalog(locale: str, locales_dir: Path) -> gettext.NullTranslations:
    folder = locales_dir / locale / "LC_MESSAGES"
    po_path, mo_path = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo_path.exists() and (
        not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        with mo_path.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """Everything one reader needs: their language and the community's time zone."""

    locale: str
    tz: ZoneInfo
    catalog: gettext.NullTranslations

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.babel_locale)

    def percent(self, value: float) -> str:
        return format_percent(value, locale=self.babel_locale, format="#,##0.0%")

    def datetime(self, value: dt.datetime, format: str = "medium") -> str:
        return format_datetime(value, format=format, tzinfo=self.tz, locale=self.babel_locale)

    def date(self, value: dt.datetime, format: str = "medium") -> str:
        return format_date(
            value.astimezone(self.tz).date(), format=format, locale=self.babel_locale
        )

    def time(self, value: dt.datetime, format: str = "short") -> str:
        return format_time(value, format=format, tzinfo=self.tz, locale=self.babel_locale)

    def duration(self, value: dt.timedelta) -> str:
        return format_timedelta(value, threshold=1.1, locale=self.babel_locale)

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent to another process (runtime/offload.py) as its language and time zone: the
        catalog is loaded there."""
        return (_translator, (self.locale, self.tz))


@functools.cache
def _catalog(locale: str) -> gettext.NullTranslations:
    return _load_catalog(locale, LOCALES_DIR)


def _translator(locale: str, tz: ZoneInfo) -> Translator:
    return Translator(locale=locale, tz=tz, catalog=_catalog(locale))


class I18n:
    """All catalogs, loaded once at start."""

    def __init__(self, *, default_locale: str, locales_dir: Path = LOCALES_DIR) -> None:
        self.default_locale = default_locale
        self.catalogs = {loc: _load_catalog(loc, locales_dir) for loc in SUPPORTED_LOCALES}

    def translator(self, locale: str | None, tz: ZoneInfo) -> Translator:
        chosen = locale if locale in self.catalogs else self.default_locale
        return Translator(locale=chosen, tz=tz, catalog=self.catalogs[chosen])
