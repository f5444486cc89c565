"""What one resident may read of a neighbour's words: the text with phone numbers and room
numbers masked (the "same problem?" offer of a new report shows a neighbour's issue this way).

Phones are found by the one recogniser (storage/phones.py). A room is a number said to be one:
1501室, 302房, 5户; the number after a building or unit (3单元1501, 12栋501, 5号楼302); a
building-unit-room triple or pair ending in three or four digits (3-2-1501, 5-301); "room
1501", "flat 12", "apt 3B". Dates (2026-12-08), floors (3楼), buildings (5号楼) and issue
numbers (No. 12) are left alone: they name no one's home.
"""

from __future__ import annotations

import re

from storage.phones import REDACTED, mask_phones, scan_text

_ROOMS = re.compile(
    r"(?<![\d])\d{1,5}(?=\s*(?:室|房间|房|户)(?!东|主|租|子|价))"  # 1501室, 302房 (not 房东, 房租)
    r"|(?<=单元)\s*\d{2,5}"  # 3单元1501
    r"|(?<=[栋幢座])\s*\d{3,5}"  # 12栋501
    r"|(?<=号楼)\s*\d{3,5}"  # 5号楼302
    r"|(?<![\d.\-/])\d{1,3}(?:-\d{1,3})?-\d{3,4}(?![\d.\-/])"  # 3-2-1501, 5-301
    r"|(?i:(?<=room )|(?<=rm )|(?<=flat )|(?<=apt )|(?<=apartment ))\s*\d{1,5}[A-Za-z]?",
)


def mask_rooms(text: str, replacement: str = REDACTED) -> str:
    """`text` with every room number replaced."""
    scan = scan_text(text)
    pieces, at = [], 0
    for found in _ROOMS.finditer(scan):
        start = found.start() + (len(found.group(0)) - len(found.group(0).lstrip()))
        pieces.append(text[at:start])
        pieces.append(replacement)
        at = found.end()
    pieces.append(text[at:])
    return "".join(pieces)


def for_neighbours(text: str) -> str:
    """`text` as a neighbour may read it: no phone number, no room number."""
    return mask_rooms(mask_phones(text))
