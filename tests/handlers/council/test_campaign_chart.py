"""The support chart drawn for a phone: a narrow picture whose time axis names each moment once,
whether the votes came over weeks, over two days, or within one afternoon."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from handlers.council.campaign_chart import ChartLabels, support_chart
from storage.consent_rules import SupportPoint

CQ = ZoneInfo("Asia/Shanghai")
LABELS = ChartLabels(title="第1号表决的支持率", heads="按户数", area="按面积", y_axis="同意")
T0 = datetime(2026, 12, 9, 1, 0, tzinfo=UTC)  # 09:00 in Chongqing


@pytest.mark.parametrize(
    "step",
    [
        timedelta(minutes=7),
        timedelta(hours=1),
        timedelta(hours=9),
        timedelta(days=1),
        timedelta(days=6),
    ],
)
def test_the_time_axis_never_repeats_a_label(step: timedelta) -> None:
    points = [
        SupportPoint(T0 + step * n, Fraction(agree, 13), Fraction(agree * 80, 1040))
        for n, agree in enumerate([3, 5, 9, 12])
    ]
    chart = support_chart(points, LABELS, CQ)
    assert chart.x_labels and len(chart.x_labels) == len(set(chart.x_labels)), chart.x_labels
    assert len(chart.x_labels) <= 6  # room for each on a phone's width


def test_the_chart_is_drawn_for_a_phone() -> None:
    points = [SupportPoint(T0 + timedelta(hours=n), Fraction(n, 13), None) for n in range(1, 4)]
    png = support_chart(points, LABELS, CQ).png
    width, height = Image.open(io.BytesIO(png)).size
    # 4.8 inches (720 pixels) wide: shown at ~360 points, its 10-pt text is still ~10 points tall
    assert 700 <= width <= 760 and height < width
