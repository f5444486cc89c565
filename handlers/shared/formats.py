"""How periods, moments and durations read, in the reader's language (Babel)."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_skeleton, format_timedelta

from runtime.i18n import Translator
from storage.periods import Period


def day_label(tr: Translator, moment: datetime) -> str:
    """ "2026年11月5日" / "Nov 5, 2026", in the reader's time zone."""
    return format_skeleton("yMMMd", moment.astimezone(tr.tz), locale=tr.babel_locale)


def short_day(tr: Translator, moment: datetime) -> str:
    """ "11月5日" / "Nov 5"."""
    return format_skeleton("MMMd", moment.astimezone(tr.tz), locale=tr.babel_locale)


def weekday_label(tr: Translator, moment: datetime) -> str:
    """ "2026年11月5日星期四" / "Thursday, November 5, 2026"."""
    return tr.date(moment, "full")


def period_label(tr: Translator, period: Period) -> str:
    first, last = period.start, period.end - timedelta(microseconds=1)
    if period.first_day == period.last_day:
        return weekday_label(tr, first)
    return tr.gettext("{first} – {last}").format(
        first=day_label(tr, first), last=day_label(tr, last)
    )


def span(tr: Translator, value: timedelta | None) -> str:
    """A duration; hours up to two days ("36 hours", not "2 days"); "—" for none."""
    if value is None:
        return "—"
    return format_timedelta(value, threshold=2, locale=tr.babel_locale)
