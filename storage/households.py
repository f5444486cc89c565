"""A campaign's households as staff give them: typed lines (room, owner, floor area in m², own
space occupied) or a CSV file saved from Excel, checked line by line; and floor areas as stored
(in dm², exact). Used by storage/consent.py."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

MAX_ROOM = 50
MAX_OWNER = 200
MAX_AREA = Decimal(10_000)
YES = {"1", "y", "yes", "true", "x", "是", "有", "占用", "√", "✓"}
NO = {"", "0", "n", "no", "false", "否", "无", "不"}
HEADER_WORDS = {"room", "房号", "室号", "房间", "户号", "门牌"}


@dataclass(frozen=True)
class HouseholdRow:
    room: str
    owner_name: str | None
    area: Decimal | None
    flagged: bool | None  # None: the column was left out (an existing flag is kept)


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str  # a msgid, translated where shown


@dataclass
class ParsedRows:
    rows: list[HouseholdRow] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)


# Reasons (msgids, marked with N_ in handlers/council/campaigns.py where they are translated).
BAD_NO_ROOM = "no room number"
BAD_ROOM_TOO_LONG = "room number too long"
BAD_AREA = "floor area is not a number of m² (up to two decimals)"
BAD_FLAG = "the last column must be yes or no (own space occupied)"
BAD_COLUMNS = "too many columns"
BAD_DUPLICATE = "this room appears twice"


def parse_area(raw: str) -> Decimal | None:
    """ "85.5", "85.5㎡", "85.5 m2", "85.5平米" -> Decimal("85.5"); "" -> None; else ValueError."""
    text = raw.strip().lower()
    for unit in ("平方米", "平米", "㎡", "m²", "m2", "sqm"):
        text = text.removesuffix(unit).strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite() or value <= 0 or value > MAX_AREA:
        raise ValueError(raw)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(raw)
    return value


def _split(line: str) -> list[str]:
    if any(sep in line for sep in (",", "，", "\t", ";", "；")):
        return [cell.strip() for cell in re.split(r"[,，\t;；]", line)]
    return line.split()


def _row(cells: list[str]) -> HouseholdRow | str:
    cells = [c.strip() for c in cells]
    while cells and not cells[-1]:
        cells.pop()
    if not cells or not cells[0]:
        return BAD_NO_ROOM
    if len(cells) > 4:
        return BAD_COLUMNS
    room = cells[0]
    if len(room) > MAX_ROOM:
        return BAD_ROOM_TOO_LONG
    owner = cells[1][:MAX_OWNER] if len(cells) > 1 and cells[1] else None
    try:
        area = parse_area(cells[2]) if len(cells) > 2 else None
    except ValueError:
        return BAD_AREA
    flag = cells[3].lower() if len(cells) > 3 else None
    if flag is not None and flag not in YES and flag not in NO:
        return BAD_FLAG
    flagged = None if flag is None else flag in YES
    return HouseholdRow(room=room, owner_name=owner, area=area, flagged=flagged)


def _collect(numbered: Iterable[tuple[int, str, list[str]]]) -> ParsedRows:
    result = ParsedRows()
    seen: dict[str, int] = {}
    for number, text, cells in numbered:
        if not any(c.strip() for c in cells) or text.lstrip().startswith("#"):
            continue
        if not result.rows and not result.bad and cells[0].strip().lower() in HEADER_WORDS:
            continue  # a header line
        parsed = _row(cells)
        if isinstance(parsed, str):
            result.bad.append(BadLine(number, text.strip(), parsed))
        elif parsed.room in seen:
            result.bad.append(BadLine(number, text.strip(), BAD_DUPLICATE))
        else:
            seen[parsed.room] = number
            result.rows.append(parsed)
    return result


def parse_household_lines(text: str) -> ParsedRows:
    """Households typed one per line: "room, owner, area, occupied" (commas, Chinese commas,
    tabs or spaces); only the room is required. Bad lines are reported, good ones kept."""
    return _collect((n, line, _split(line)) for n, line in enumerate(text.splitlines(), start=1))


def decode_csv(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GB18030 (Excel on Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def parse_household_csv(data: bytes) -> ParsedRows:
    """A CSV file of households (same columns as typed lines; a header line is skipped)."""
    text = decode_csv(data)
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t，")
    except csv.Error:
        dialect = csv.excel
    lines = text.splitlines()
    reader = csv.reader(lines, dialect)
    return _collect((n, lines[n - 1], cells) for n, cells in enumerate(reader, start=1))


def to_dm2(area: Decimal | None) -> int | None:
    return None if area is None else int(area * 100)


def from_dm2(value: int | None) -> Decimal | None:
    return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))
