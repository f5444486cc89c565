"""The consent rule as plain functions: exact thresholds, area against headcount, flagged
households, unknown areas, what is still missing, the support rate over time, and the household
lists staff type or send as CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from storage.consent_rules import (
    RULES,
    Ballot,
    LoggedVote,
    evaluate,
    more_area_needed,
    more_heads_needed,
    reaches,
    support_series,
)
from storage.households import (
    BAD_AREA,
    BAD_DUPLICATE,
    BAD_FLAG,
    BAD_NO_ROOM,
    normalise_room,
    parse_area,
    parse_household_csv,
    parse_household_lines,
)
from storage.models import ConsentRule, VoteChoice

A, D, X = VoteChoice.AGREE, VoteChoice.DISAGREE, VoteChoice.ABSTAIN
ART278, MAJORITY, UNANIMITY = ConsentRule.ART278, ConsentRule.MAJORITY, ConsentRule.UNANIMITY


def homes(*spec: tuple[str | None, VoteChoice | None] | tuple[str | None, VoteChoice | None, bool]):
    """Ballots from (area, choice[, flagged]) tuples; rooms are numbered 101, 102, …"""
    result = []
    for index, item in enumerate(spec):
        area, choice = item[0], item[1]
        flagged = bool(item[2]) if len(item) > 2 else False  # type: ignore[misc]
        result.append(
            Ballot(
                room=str(101 + index),
                area=Decimal(area) if area is not None else None,
                choice=choice,
                flagged=flagged,
            )
        )
    return result


def equal(n_agree: int, n_against: int, n_silent: int, area: str = "80") -> list[Ballot]:
    return homes(
        *([(area, A)] * n_agree + [(area, D)] * n_against + [(area, None)] * n_silent)  # type: ignore[list-item]
    )


# --- thresholds are exact ------------------------------------------------------------------------


def test_reaches_is_exact_and_strict_when_asked() -> None:
    assert reaches(Fraction(2), Fraction(3), Fraction(2, 3), strict=False)
    assert not reaches(Fraction(2), Fraction(3), Fraction(2, 3), strict=True)
    assert not reaches(Fraction(0), Fraction(0), Fraction(1, 2), strict=False)  # nothing of nothing


def test_exactly_two_thirds_taking_part_meets_the_quorum() -> None:
    # 6 households, 4 take part and all agree: exactly 2/3 by headcount and by area
    verdict = evaluate(ART278, equal(4, 0, 2))
    assert verdict.quorum_heads and verdict.quorum_area
    assert verdict.heads.participation == Fraction(2, 3)
    assert verdict.passed
    # one household fewer: 3/6 < 2/3
    assert not evaluate(ART278, equal(3, 0, 3)).quorum_heads


def test_exactly_three_quarters_agreeing_passes_and_one_less_does_not() -> None:
    assert evaluate(ART278, equal(6, 2, 0)).passed  # 6/8 = 3/4 exactly
    verdict = evaluate(ART278, equal(5, 2, 0))  # 5/7 < 3/4
    assert verdict.quorum_heads and not verdict.approval_heads and not verdict.passed


def test_exactly_three_quarters_of_area_is_decided_without_rounding() -> None:
    # 75.3 / 100.4 is exactly 3/4; in floating point 0.75 * 100.4 = 75.30000000000001
    ballots = homes(("75.3", A), ("25.1", D))
    verdict = evaluate(ART278, ballots)
    assert verdict.area.approval == Fraction(3, 4)
    assert verdict.approval_area is True
    assert not verdict.approval_heads  # 1 of 2 households
    # two thirds of area exactly: 66.6 of 99.9 take part
    quorum = evaluate(ART278, homes(("33.3", A), ("33.3", A), ("33.3", None)))
    assert quorum.area.participation == Fraction(2, 3) and quorum.quorum_area is True


def test_area_and_headcount_disagreeing_fails_either_way() -> None:
    # headcount passes (6 of 8 agree) but the two big flats against hold most of the area
    big_against = homes(*([("50", A)] * 6), ("200", D), ("200", D))
    verdict = evaluate(ART278, big_against)
    assert verdict.quorum_heads and verdict.approval_heads
    assert verdict.quorum_area and verdict.approval_area is False  # 300 of 700 m²
    assert not verdict.passed
    # area passes (the two big flats agree) but most households are against
    big_for = homes(("400", A), ("400", A), *([("50", D)] * 4))
    verdict = evaluate(ART278, big_for)
    assert verdict.approval_area is True and not verdict.approval_heads
    assert not verdict.passed


def test_an_abstention_takes_part_but_does_not_agree() -> None:
    verdict = evaluate(ART278, homes(("80", A), ("80", A), ("80", A), ("80", X)))
    assert verdict.heads.participating == 4
    assert verdict.heads.approval == Fraction(3, 4) and verdict.passed
    assert not evaluate(ART278, homes(("80", A), ("80", A), ("80", X), ("80", X))).passed


# --- flagged households --------------------------------------------------------------------------


def test_a_flagged_household_refusing_blocks_an_otherwise_clear_pass() -> None:
    ballots = homes(("60", D, True), *([("80", A)] * 9))
    verdict = evaluate(ART278, ballots)
    assert verdict.quorum_heads and verdict.approval_heads and verdict.approval_area
    assert verdict.blocking_rooms == ("101",)
    assert not verdict.passed
    assert verdict.more_households == 1  # that household itself
    assert verdict.more_area == Decimal("60.00")


@pytest.mark.parametrize("choice", [None, X])
def test_a_flagged_household_not_voting_or_abstaining_blocks_too(choice: VoteChoice | None) -> None:
    verdict = evaluate(ART278, homes(("60", choice, True), *([("80", A)] * 9)))
    assert verdict.blocking_rooms == ("101",) and not verdict.passed


def test_a_flagged_household_agreeing_unblocks() -> None:
    verdict = evaluate(ART278, homes(("60", A, True), *([("80", A)] * 9)))
    assert verdict.blocking_rooms == () and verdict.passed


def test_flagged_households_block_under_every_rule() -> None:
    for rule in ConsentRule:
        verdict = evaluate(rule, homes(("60", D, True), *([("80", A)] * 9)))
        assert not verdict.passed, rule


# --- the other rules -----------------------------------------------------------------------------


def test_unanimity_needs_every_household_of_the_scope() -> None:
    assert evaluate(UNANIMITY, equal(5, 0, 0)).passed
    missing_one = evaluate(UNANIMITY, equal(4, 0, 1))
    assert not missing_one.passed and missing_one.more_households == 1
    assert not evaluate(UNANIMITY, homes(*([("80", A)] * 4), ("80", X))).passed
    # area plays no part: unknown areas do not hold it up
    verdict = evaluate(UNANIMITY, homes((None, A), (None, A)))
    assert verdict.passed and verdict.more_area is None


def test_majority_needs_more_than_half_exactly_half_is_not_enough() -> None:
    half = evaluate(MAJORITY, equal(5, 5, 0))
    assert half.quorum_heads and not half.approval_heads and not half.passed
    assert half.more_households == 1
    assert evaluate(MAJORITY, equal(6, 4, 0)).passed
    # the 2/3 quorum of Art. 278 applies to majority decisions too
    assert not evaluate(MAJORITY, equal(6, 0, 4)).passed  # 6 of 10 took part


def test_rules_table_holds_the_published_thresholds() -> None:
    assert RULES[ART278].quorum == Fraction(2, 3) and RULES[ART278].approval == Fraction(3, 4)
    assert not RULES[ART278].strict and RULES[ART278].uses_area
    assert RULES[MAJORITY].approval == Fraction(1, 2) and RULES[MAJORITY].strict
    assert RULES[UNANIMITY].quorum == 1 and RULES[UNANIMITY].approval == 1


# --- unknown areas -------------------------------------------------------------------------------


def test_unknown_area_counts_by_headcount_but_the_area_part_stays_undecided() -> None:
    ballots = homes(*([("80", A)] * 8), (None, A), (None, D))
    verdict = evaluate(ART278, ballots)
    assert verdict.unknown_area_rooms == ("109", "110")
    assert verdict.heads.total == 10 and verdict.approval_heads  # 9 of 10
    assert verdict.area.total == 640  # known areas only, and shown as such
    assert verdict.quorum_area is None and verdict.approval_area is None
    assert verdict.area_undecided and not verdict.passed
    assert verdict.more_households == 0  # nothing more to collect by headcount: enter the areas
    complete = homes(*([("80", A)] * 8), ("90", A), ("70", D))
    assert evaluate(ART278, complete).passed


# --- what is still missing -----------------------------------------------------------------------


def test_the_23_percent_start_needs_six_more_households_and_the_area_to_match() -> None:
    verdict = evaluate(ART278, equal(3, 0, 10))  # 3 of 13 agree: 23%
    assert round(float(verdict.heads.support or 0) * 100) == 23
    assert not verdict.quorum_heads
    assert verdict.more_households == 6  # 9 of 13 take part (>= 2/3), all agreeing
    # area: 2/3 of 1040 m² = 693.33…, 240 m² take part: 453.33… more, rounded up
    assert verdict.more_area == Decimal("453.34")


def test_opponents_coming_round_count_once_each() -> None:
    verdict = evaluate(ART278, equal(6, 6, 0))  # everyone voted, half agree
    assert verdict.more_households == 3  # 9 of 12
    assert verdict.more_area == Decimal("240.00")  # 720 of 960 m²: 3 flats of 80 m²


def test_missing_area_uses_exact_shares() -> None:
    ballots = homes(("120.5", None), ("100", A), ("100", A), ("100", A))
    verdict = evaluate(ART278, ballots)
    # 300 of 420.5 m² take part (71% >= 2/3) and all of it agrees: passes
    assert verdict.quorum_area and verdict.approval_area and verdict.passed
    ballots = homes(("120.5", D), ("100", A), ("100", A), ("100", A))
    verdict = evaluate(ART278, ballots)
    assert verdict.approval_heads  # 3 of 4 households: exactly 3/4
    assert verdict.approval_area is False  # 300 of 420.5 m² = 71.3%
    assert not verdict.passed
    # 3/4 of 420.5 = 315.375 m²: 15.375 more, shown rounded up to the hundredth
    assert more_area_needed(ballots, RULES[ART278]) == Fraction("15.375")
    assert verdict.more_area == Decimal("15.38")
    assert verdict.more_households == 0  # by headcount nothing is missing


def test_nothing_is_missing_once_passed_and_nothing_can_pass_an_empty_scope() -> None:
    verdict = evaluate(ART278, equal(9, 1, 0))
    assert verdict.passed and verdict.more_households == 0 and verdict.more_area == 0
    empty = evaluate(ART278, [])
    assert not empty.passed and empty.more_households is None


def test_more_heads_needed_counts_everyone_still_missing_and_none_for_an_empty_scope() -> None:
    assert more_heads_needed([], RULES[ART278]) is None
    assert more_heads_needed(equal(0, 0, 4), RULES[UNANIMITY]) == 4


# --- support over time ---------------------------------------------------------------------------


def test_support_series_replays_the_log_including_changed_votes() -> None:
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    areas = {1: Decimal("60"), 2: Decimal("80"), 3: Decimal("80"), 4: None}
    log = [
        LoggedVote(t0, 1, D),
        LoggedVote(t0 + timedelta(days=1), 2, A),
        LoggedVote(t0 + timedelta(days=2), 3, A),
        LoggedVote(t0 + timedelta(days=3), 1, A),  # changed after mediation
        LoggedVote(t0 + timedelta(days=9), 4, A),  # after `until`: not counted
    ]
    points = support_series(areas, log, until=t0 + timedelta(days=5))
    assert [p.heads for p in points] == [0, Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]
    assert points[-1].area == 1  # all known area agrees
    assert points[1].area == Fraction(80, 220)


# --- household lists -----------------------------------------------------------------------------


def test_typed_lines_keep_the_good_ones_and_report_the_bad() -> None:
    parsed = parse_household_lines(
        "房号,业主,面积,占用\n101，老许，60.5，是\n102 李阿姨 80\n\n103, , 85.555\n"
        ",王五,70\n104,赵六,abc\n105,钱七,70,maybe\n102,重复,80\n106"
    )
    assert [r.room for r in parsed.rows] == ["101", "102", "106"]
    assert parsed.rows[0].area == Decimal("60.5") and parsed.rows[0].flagged is True
    assert parsed.rows[1].owner_name == "李阿姨" and parsed.rows[1].flagged is None
    assert parsed.rows[2].area is None
    assert [(b.line, b.reason) for b in parsed.bad] == [
        (5, BAD_AREA),  # three decimals
        (6, BAD_NO_ROOM),
        (7, BAD_AREA),
        (8, BAD_FLAG),
        (9, BAD_DUPLICATE),
    ]


def test_csv_in_gbk_with_quotes_and_header() -> None:
    data = 'room,owner,area,occupied\n101,"许, 老",60.00,yes\n102,李阿姨,80㎡,\n'.encode("gb18030")
    parsed = parse_household_csv(data)
    assert parsed.bad == []
    assert parsed.rows[0].owner_name == "许, 老" and parsed.rows[0].flagged is True
    assert parsed.rows[1].area == Decimal("80")
    assert parsed.rows[1].flagged is None  # left empty: an existing flag is kept


def test_area_parsing_and_room_names() -> None:
    assert parse_area("85.5 m2") == Decimal("85.5")
    assert parse_area("90平米") == Decimal("90")
    assert parse_area("") is None
    for bad in ("-3", "0", "1e9", "NaN", "12.345"):
        with pytest.raises(ValueError):
            parse_area(bad)
    assert normalise_room("３０１室") == normalise_room(" 301 ") == "301"


def test_the_chart_is_a_png_with_chinese_labels_from_the_bundled_font() -> None:
    import warnings
    from zoneinfo import ZoneInfo

    from handlers.council.campaign_chart import ChartLabels, support_chart_png
    from runtime.fonts import cjk_font_path
    from storage.consent_rules import SupportPoint

    assert cjk_font_path().name == "wqy-microhei.ttc" and cjk_font_path().is_file()
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    points = [
        SupportPoint(t0 + timedelta(days=day), Fraction(agree, 13), Fraction(agree * 80, 1040))
        for day, agree in enumerate([3, 5, 9, 12])
    ]
    labels = ChartLabels(title="第1号表决的支持率", heads="按户数", area="按面积", y_axis="同意")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = support_chart_png(points, labels, ZoneInfo("Asia/Shanghai"))
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not [w for w in caught if "missing from" in str(w.message)]  # every glyph found
