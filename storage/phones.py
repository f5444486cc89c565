"""The one phone-number recogniser: finding, masking and reading phone numbers in text.

Masking (the wall, the neighbours' duplicate offer, /log's search), retention and /forget
(storage/privacy.py) and the log filter (bot/logs.py) all use it, and the blind index that finds
a resident by phone (storage/crypto.py) keys the number it reads (`parse_phone`).

Text is normalised first, one character for one so that what is found maps back onto the
original: NFKC (full-width digits and signs, ideographic spaces), Chinese numerals (一二三…, 幺
for one, 两, 零 and 〇) as digits, every kind of dash as "-", and dots, spaces, dashes and
brackets as separators between groups of digits. Then a run of digit groups is searched for the
shortest span of whole groups that reads as a number:

- a mainland mobile: 11 digits, 1[3-9]…, maybe after +86, 0086 or 86;
- a landline with its area code: 0 and 9 to 11 more digits (010-6512 3456, +86 23 6388 1234);
- any other international number: + (or 00) and 7 to 15 digits;
- a local number of 7 or 8 digits (6388 1234) only right after a word that says it is one
  (电话, 手机, 座机, tel, phone…).

Dates (2026-12-08, 2026.12.08, 20261208), money (¥13812345678, 13812345678元), issue and room
numbers (No. 12, 3-2-1501) are never read as phones. The canonical number (`Phone.number`) is the
national number for mainland China (13812345678, 01065123456) and + and the digits otherwise.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

REDACTED = "***"

CHINESE_DIGITS = {
    "零": "0",
    "〇": "0",
    "○": "0",
    "一": "1",
    "幺": "1",
    "壹": "1",
    "二": "2",
    "两": "2",
    "贰": "2",
    "三": "3",
    "叁": "3",
    "四": "4",
    "肆": "4",
    "五": "5",
    "伍": "5",
    "六": "6",
    "陆": "6",
    "七": "7",
    "柒": "7",
    "八": "8",
    "捌": "8",
    "九": "9",
    "玖": "9",
}
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u30fc\u2500"
SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u3000"


@functools.lru_cache(maxsize=8192)
def _scan_char(char: str) -> str:
    if char in CHINESE_DIGITS:
        return CHINESE_DIGITS[char]
    if char in DASHES:
        return "-"
    if char in SPACES or char == "\t":
        return " "
    if char == "·" or char == "•":
        return "."
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) == 1:
        if folded.isdecimal() and not folded.isascii():
            return str(unicodedata.decimal(folded))
        return folded
    return char


def scan_text(text: str) -> str:
    """`text` normalised character by character (the same length, so positions carry over)."""
    if text.isascii():  # the usual log line: NFKC changes nothing there
        return text.replace("\t", " ")
    return "".join(_scan_char(c) for c in text)


# Groups of digits and what may stand between them (a space, a dot, a dash, brackets).
_RUN = re.compile(r"\(?\+?\(?\d+(?:(?:[ .\-]{1,3}|\)[ \-]?|[ \-]?\()\d+)*\)?")
_GROUP = re.compile(r"\d+")
_ANY_DIGIT = re.compile("[\\d" + "".join(CHINESE_DIGITS) + "]")
_LOCAL_WORDS = re.compile(
    r"(?:电话|手机|座机|号码|联系|致电|拨打|热线|tel|phone|call|mobile)[^0-9\n]{0,4}$",
    re.IGNORECASE,
)
_MONEY_BEFORE = "¥￥$€£"
_MONEY_AFTER = ("元", "块", "万", "圆", "rmb", "yuan", "cny")


@dataclass(frozen=True)
class Phone:
    """A phone number found in text: where (`start`, `end` in the original text) and what
    (`number`, canonical)."""

    start: int
    end: int
    number: str

    @property
    def last_four(self) -> str:
        return self.number[-4:]


def _mainland(national: str) -> str | None:
    if re.fullmatch(r"1[3-9]\d{9}", national):
        return national
    if re.fullmatch(r"0(?:10|[2-9]\d)\d{7,9}", national):
        return national
    return None


def read_number(digits: str, *, international: bool, local: bool = False) -> str | None:
    """The canonical number the digits spell, or None. `international`: written after + or
    00; `local`: a short local number is acceptable here."""
    if digits.startswith("00"):
        digits, international = digits[2:], True
    if international:
        if digits.startswith("86"):
            national = digits[2:]
            if re.fullmatch(r"1[3-9]\d{9}", national):
                return national
            if re.fullmatch(r"(?:10|[2-9]\d)\d{7,9}", national):
                return "0" + national  # +86 10 6512 3456: the trunk 0 is dropped abroad
            return None
        if 7 <= len(digits) <= 15 and not digits.startswith("0"):
            return "+" + digits
        return None
    if len(digits) == 13 and digits.startswith("861"):
        return _mainland(digits[2:])
    found = _mainland(digits)
    if found is not None:
        return found
    if local and re.fullmatch(r"[2-9]\d{6,7}", digits):
        return digits
    return None


_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")


def _local_shape(groups: list[int], digits: str) -> bool:
    """How a local number is written (63881234, 6388 1234, 638-1234), unlike a date."""
    return groups in ([7], [8], [3, 4], [4, 4]) and not _DATE.fullmatch(digits)


def _money_around(scan: str, start: int, end: int) -> bool:
    before = scan[max(start - 2, 0) : start].rstrip()
    after = scan[end : end + 4].lstrip().lower()
    return bool(before and before[-1] in _MONEY_BEFORE) or after.startswith(_MONEY_AFTER)


def _in_run(scan: str, run: re.Match[str]) -> list[Phone]:
    groups = list(_GROUP.finditer(scan, run.start(), run.end()))
    found: list[Phone] = []
    first = 0
    while first < len(groups):
        start = groups[first].start()
        prefix = scan[run.start() : start]
        international = first == 0 and "+" in prefix
        local = first == 0 and bool(_LOCAL_WORDS.search(scan[max(run.start() - 12, 0) : start]))
        digits = ""
        match: Phone | None = None
        match_last = first
        for last in range(first, len(groups)):
            digits += groups[last].group(0)
            if len(digits) > 17:
                break
            end = groups[last].end()
            shape = [len(g.group(0)) for g in groups[first : last + 1]]
            number = read_number(
                digits, international=international, local=local and _local_shape(shape, digits)
            )
            if number is None:
                continue
            match, match_last = Phone(run.start() if first == 0 else start, end, number), last
            if not number.startswith("+"):
                break  # a Chinese number has its length; another country's may run on
        if match is not None and not _money_around(scan, match.start, match.end):
            found.append(match)
            first = match_last + 1
        else:
            first += 1
    return found


def find_phones(text: str) -> list[Phone]:
    """Every phone number in `text`, in order."""
    if not _ANY_DIGIT.search(text):  # most texts: nothing to read
        return []
    scan = scan_text(text)
    found: list[Phone] = []
    for run in _RUN.finditer(scan):
        # digits glued to the run's ends (a longer number: an ID card, a bank card) are not phones
        if run.start() > 0 and scan[run.start() - 1].isdigit():
            continue
        found.extend(_in_run(scan, run))
    return found


def mask_phones(text: str, replacement: str | Callable[[Phone], str] = REDACTED) -> str:
    """`text` with every phone number replaced by `replacement` (a string, or a function of
    the phone found)."""
    phones = find_phones(text)
    if not phones:
        return text
    pieces, at = [], 0
    for phone in phones:
        pieces.append(text[at : phone.start])
        pieces.append(replacement(phone) if callable(replacement) else replacement)
        at = phone.end
    pieces.append(text[at:])
    return "".join(pieces)


def last_four(number: str | None) -> str:
    """A stored number as staff see it before asking for it: ****5678."""
    digits = re.sub(r"\D", "", scan_text(number or ""))
    return "****" + digits[-4:] if digits else ""


def parse_phone(raw: str, *, shared: bool = False) -> str | None:
    """The canonical number of a phone number typed on its own (+86 138-1234-5678,
    １３８１２３４５６７８, 一三八…); None when the text is not one phone number. A local number
    of 7 or 8 digits is read as it is. `shared`: a number Telegram shared (a contact), always
    international, with or without its +."""
    scan = scan_text(raw).strip()
    if not scan or not re.fullmatch(r"[+()\d .\-]+", scan):
        return None
    digits = re.sub(r"\D", "", scan)
    international = scan.startswith("+")
    if shared and not international and not digits.startswith("0"):
        found = read_number(digits, international=False)
        return found if found is not None else read_number(digits, international=True)
    shape = [len(group) for group in _GROUP.findall(scan)]
    return read_number(digits, international=international, local=_local_shape(shape, digits))


def index_form(stored: str) -> str:
    """What the blind index keys for a stored phone: its canonical number, or its digits (and +)
    when it reads as none."""
    number = parse_phone(stored) or parse_phone(stored, shared=True)
    if number is not None:
        return number
    scan = scan_text(stored).strip()
    return ("+" if scan.startswith("+") else "") + re.sub(r"\D", "", scan)
