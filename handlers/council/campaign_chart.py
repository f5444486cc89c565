"""The support-rate chart of a consent campaign: a PNG drawn with matplotlib from the vote log.

Chinese labels need a CJK font; it comes from a declared package (runtime/fonts.py), loaded by
its file path so no system font is ever assumed and matplotlib's global settings are left alone.
matplotlib is imported on first use only (it is slow to import and most updates never draw).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
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


def support_chart_png(points: list[SupportPoint], labels: ChartLabels, tz: ZoneInfo) -> bytes:
    """Support by headcount and by floor area after each vote, as a step line over time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import PercentFormatter

    font = FontProperties(fname=str(cjk_font_path()))
    figure = Figure(figsize=(8, 4.5), dpi=100)
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
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis_date()
    axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    axes.grid(True, alpha=0.3)
    axes.set_title(labels.title, fontproperties=font, fontsize=13)
    axes.set_ylabel(labels.y_axis, fontproperties=font)
    axes.legend(prop=font, loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
