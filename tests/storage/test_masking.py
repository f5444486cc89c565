"""What a neighbour may read of another resident's words (storage/masking.py): phone numbers and
room numbers masked, everything else as written."""

from __future__ import annotations

import pytest

from storage.masking import for_neighbours


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("我家1501室漏水，电话13812345678", "我家***室漏水，电话***"),
        ("３单元１５０１楼上噪音", "３单元***楼上噪音"),
        ("12栋501门口堆了杂物", "12栋***门口堆了杂物"),
        ("5号楼302的狗一直叫", "5号楼***的狗一直叫"),
        ("3-2-1501 楼上漏水", "*** 楼上漏水"),
        ("302房的空调滴水", "***房的空调滴水"),
        ("room 1501 leaks, call 138.1234.5678", "room *** leaks, call ***"),
        ("Flat 12B is noisy", "Flat *** is noisy"),
        ("幺三八幺二三四五六七八", "***"),
    ],
)
def test_phones_and_rooms_are_masked(written: str, shown: str) -> None:
    assert for_neighbours(written) == shown


@pytest.mark.parametrize(
    "written",
    [
        "楼道灯坏了三天了",
        "3楼走廊灯坏",
        "5号楼门口的路灯",
        "2026-12-08 修好了",
        "No. 12 还没人管",
        "房东不管，房租照收",
        "第3单元的电梯",
    ],
)
def test_floors_buildings_dates_and_issue_numbers_stay(written: str) -> None:
    assert for_neighbours(written) == written
