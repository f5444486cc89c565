"""The support-rate chart of a consent campaign: a PNG drawn with matplotlib from the vote log.

Chinese labels need a CJK font; it comes from a declared package (runtime/fonts.py), loaded by
its file path so no system font is ever assumed and matplotlib's global settings are left alone.
matplotlib is imported on first use only (it is slow to import and most updates never draw).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from runtime.fonts import cjk_font_path
from storage.consent_rules import SupportPoint


@dataclass(frozen=True)
class ChartLabels:
    """Every word on the chart, already translated."""

    title: str
    heads: str
    area: str
    y_axis: str


@dataclass(frozen=True)
class SupportChart:
    png: bytes
    x_labels: list[str]  # the time axis as drawn (tests check no label repeats)


def support_chart_png(points: list[SupportPoint], labels: ChartLabels, tz: ZoneInfo) -> bytes:
    return support_chart(points, labels, tz).png


def support_chart(points: list[SupportPoint], labels: ChartLabels, tz: ZoneInfo) -> SupportChart:
    """Support by headcount and by floor area after each vote, as a step line over time. Drawn
    for a phone (a 4.8-inch width, 10 pt and more); the time axis names each day once and the
    hours within a day (a campaign's votes often come on one or two days)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter, DayLocator, date2num
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import PercentFormatter

    font = FontProperties(fname=str(cjk_font_path()), size=10)
    figure = Figure(figsize=(4.8, 3.6), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    when = [date2num(p.at.astimezone(tz).replace(tzinfo=None)) for p in points]
    heads = [float(p.heads) * 100 for p in points]
    axes.step(when, heads, where="post", marker="o", linewidth=2, label=labels.heads)
    if all(p.area is not None for p in points):
        area = [float(p.area or 0) * 100 for p in points]
        axes.step(when, area, where="post", marker="s", linestyle="--", label=labels.area)
    axes.set_ylim(0, 100)
    axes.yaxis.set_major_formatter(PercentFormatter())
    axes.xaxis_date()
    local = [p.at.astimezone(tz) for p in points]
    days = {moment.date() for moment in local}
    span = max(local) - min(local)
    if span >= timedelta(days=1, hours=12):  # days apart: a tick a day (or every few days)
        axes.xaxis.set_major_locator(DayLocator(interval=max(1, -(-span.days // 4))))
        axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    else:  # within a day or two: hours, with the day when there are two
        axes.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=4))
        axes.xaxis.set_major_formatter(DateFormatter("%H:%M" if len(days) == 1 else "%m-%d %H:%M"))
        if len(days) == 1:
            axes.set_xlabel(min(local).strftime("%Y-%m-%d"), fontsize=10)
    axes.tick_params(labelsize=10)
    axes.grid(True, alpha=0.3)
    axes.set_title(labels.title, fontproperties=font, fontsize=12)
    axes.set_ylabel(labels.y_axis, fontproperties=font)
    axes.legend(prop=font, loc="lower right")
    figure.tight_layout()
    figure.canvas.draw()
    x_labels = [label.get_text() for label in axes.get_xticklabels() if label.get_text()]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return SupportChart(buffer.getvalue(), x_labels)
