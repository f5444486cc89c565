"""Every user-visible string is translated in both catalogs, and language codes map on purpose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from runtime.i18n import LOCALES_DIR, I18n, locale_for_language_code
from runtime.settings import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
TAG = re.compile(r"</?[a-z]+")


def _source_msgids() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "handlers", "storage"):
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package, keywords=KEYWORDS, comment_tags=()
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_msgid_in_the_code_is_translated(locale: str) -> None:
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    translated = {}
    plural_of = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if not isinstance(message.id, str):
            plural_of[key] = message.id[1]
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if all(strings):
            translated[key] = strings
    source = _source_msgids()
    assert len(source) > 20
    missing = sorted(source - set(translated))
    assert not missing, f"{locale} lacks translations for: {missing}"
    for msgid in source:
        singular = PLACEHOLDER.findall(msgid)
        plural = PLACEHOLDER.findall(plural_of.get(msgid, msgid))
        for string in translated[msgid]:
            found = PLACEHOLDER.findall(string)
            if msgid not in plural_of:
                assert sorted(found) == sorted(singular), (
                    f"{locale}: placeholders differ in {msgid!r}"
                )
            else:  # a form may leave out what only the plural says ("the problem" / "the {count}
                # problems"): what both say, every form says, and nothing neither says
                assert set(singular) & set(plural) <= set(found) <= set(singular) | set(plural), (
                    f"{locale}: placeholders differ in {msgid!r}"
                )
            assert TAG.findall(string) == TAG.findall(msgid), f"{locale}: tags differ in {msgid!r}"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-TW", "zh_Hans"),  # only Chinese catalog; closer than English for a Chinese reader
        ("zh-hant-HK", "zh_Hans"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("ru", "zh_Hans"),  # unknown: the community default
        (None, "zh_Hans"),
        ("", "zh_Hans"),
    ],
)
def test_language_codes_map_deliberately(code: str | None, expected: str) -> None:
    assert locale_for_language_code(code, "zh_Hans") == expected


def test_unknown_language_falls_back_to_the_community_default() -> None:
    assert locale_for_language_code("de", "en") == "en"


def test_dates_and_numbers_are_formatted_for_the_reader() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    i18n = I18n(default_locale="zh_Hans")
    moment = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)  # 09:30 in Chongqing
    zh = i18n.translator("zh_Hans", ZoneInfo("Asia/Shanghai"))
    en = i18n.translator("en", ZoneInfo("Asia/Shanghai"))
    assert zh.date(moment) == "2026年12月5日"
    assert en.date(moment) == "Dec 5, 2026"
    assert "9:30" in en.datetime(moment, "short")
    assert en.number(12345) == "12,345"
    assert zh.percent(0.875) == "87.5%"
