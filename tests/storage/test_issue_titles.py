"""An issue's title (storage/issue_titles.py) and the category its words suggest."""

from __future__ import annotations

import pytest

from storage.categories import CATEGORIES, LimitClass, TimeLimits, suggest_category
from storage.categories import time_limit_hours as hours
from storage.issue_titles import (
    SUMMARY_CHARS,
    SummaryRefused,
    Title,
    needs_summary,
    one_line,
    set_summary,
    title_of,
    voice_seconds,
)
from storage.models import Issue
from tests.factories import FakeClock


def test_a_voice_message_alone_has_no_words_but_its_length() -> None:
    assert title_of("🎤 0:12", None) == Title(None, 12)
    assert title_of("🎤 1:05", None) == Title(None, 65)
    assert voice_seconds("楼道灯\n🎤 0:03") == 3


def test_words_win_over_the_voice_mark_and_a_summary_over_both() -> None:
    assert title_of("🎤 0:12\n楼道灯坏了", None) == Title("楼道灯坏了")
    assert title_of("🎤 0:12", "3栋楼道灯不亮") == Title("3栋楼道灯不亮")
    assert title_of("楼道灯坏了", "楼道灯") == Title("楼道灯")
    assert title_of("", None) == Title(None, None)  # photos only


def test_one_line_is_the_first_line_trimmed_and_bounded() -> None:
    assert one_line("  楼道灯  不亮 \n第二行") == "楼道灯 不亮"
    assert len(one_line("灯" * 500)) == SUMMARY_CHARS
    assert one_line(" \n ") == ""


async def test_a_summary_names_a_wordless_report_once_for_the_resident(
    clock: FakeClock,
) -> None:
    class Session:  # set_summary only adds the issue to the session
        def add(self, _row: object) -> None:
            pass

    issue = Issue(community_id=1, number=1, category="facilities", description="🎤 0:12")
    assert needs_summary(issue)
    with pytest.raises(SummaryRefused):
        await set_summary(Session(), issue, "  \n", now=clock())  # type: ignore[arg-type]
    assert await set_summary(Session(), issue, "楼道灯\n坏了", now=clock()) == "楼道灯"  # type: ignore[arg-type]
    assert issue.summary == "楼道灯" and not needs_summary(issue) and issue.version == 2
    # the resident's later words never overwrite it; a worker may correct it
    with pytest.raises(SummaryRefused):
        await set_summary(Session(), issue, "别的", now=clock(), replace=False)  # type: ignore[arg-type]
    await set_summary(Session(), issue, "3栋楼道灯", now=clock())  # type: ignore[arg-type]
    assert issue.summary == "3栋楼道灯"
    worded = Issue(community_id=1, number=2, category="noise", description="楼上吵")
    assert not needs_summary(worded)


@pytest.mark.parametrize(
    ("words", "category"),
    [
        ("电瓶车在楼道里充电，飞线", "ebike_charging"),
        ("Someone charges an e-bike in the stairwell", "ebike_charging"),
        ("下水道堵了", "drains"),
        ("楼上天天吵", "noise"),
        ("楼道灯坏了", "facilities"),
        ("Rubbish piled up by the gate", "sanitation"),
        ("我想问问", None),
        (None, None),
    ],
)
def test_the_words_suggest_a_category(words: str | None, category: str | None) -> None:
    assert suggest_category(words) == category


def test_e_bike_charging_is_a_fire_hazard_with_its_own_limit() -> None:
    assert CATEGORIES["ebike_charging"] is LimitClass.FIRE_HAZARD
    assert hours("ebike_charging", emergency=False, limits=TimeLimits()) == 24
    assert hours("ebike_charging", emergency=False, limits=TimeLimits(fire_hazard=12)) == 12
    assert hours("ebike_charging", emergency=True, limits=TimeLimits()) == 2
