"""The digest's picture: new issues by category, and reported vs. resolved per week.

Drawn for a phone: Telegram shows a photo about 360 points wide in the chat, so the figure is a
narrow portrait (`FIGURE_INCHES`) and its smallest text is 10 pt of a 4.8-inch width (as big, on
the phone, as the chat's own text); at most `WEEK_LABELS` week labels, category names cut short.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend or rc
state), every text in the Chinese font loaded by path (runtime/fonts.py), so it renders the same on
a fresh server as on a desktop. CPU-bound: callers run `digest_chart` through runtime/offload.py.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from handlers.shared.formats import period_label, short_day
from handlers.shared.labels import category_label
from runtime.fonts import cjk_font_path
from runtime.i18n import Translator
from storage.digest import Digest

CHART_CATEGORIES = 8  # bars shown; the rest are summed as "other categories"
FIGURE_INCHES = (4.8, 7.2)  # a phone's portrait
DPI = 150  # 720 pixels wide: sharp at a phone's size, quick to draw
TEXT_PT, SMALL_PT, TITLE_PT = 12, 10, 13
CATEGORY_CHARS = 10  # a bar's name, cut: the bars keep the room
WEEK_LABELS = 6  # at most, evenly spread: a year's weeks would overlap
RED = "#c0392b"  # the red pen: what residents raised
INK = "#2c3e50"  # the black pen: what was done
# matplotlib shares its font cache between threads and is not thread-safe: one drawing at a time.
DRAWING = threading.Lock()


@dataclass(frozen=True)
class Chart:
    png: bytes
    texts: list[str]  # every label drawn, so tests can check the font has each glyph


def digest_chart(tr: Translator, digest: Digest, community: str) -> Chart:
    """The PNG sent with the digest."""
    with DRAWING:
        return _draw(tr, digest, community)


def _draw(tr: Translator, digest: Digest, community: str) -> Chart:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    _ = tr.gettext
    font = FontProperties(fname=str(cjk_font_path()), size=TEXT_PT)
    small = FontProperties(fname=str(cjk_font_path()), size=SMALL_PT)
    texts: list[str] = []

    def t(text: str) -> str:
        texts.append(text)
        return text

    figure = Figure(figsize=FIGURE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=[1, 1])
    figure.suptitle(
        t(
            _("{community}: the notebook, {period}").format(
                community=community, period=period_label(tr, digest.period)
            )
        ),
        fontproperties=FontProperties(fname=str(cjk_font_path()), size=TITLE_PT),
        wrap=True,
    )

    shown = digest.categories[:CHART_CATEGORIES]
    rest = sum(trend.count for trend in digest.categories[CHART_CATEGORIES:])
    names = [category_label(tr, trend.key) for trend in shown]
    counts = [trend.count for trend in shown]
    if rest:
        names.append(_("other categories"))
        counts.append(rest)
    top.set_title(t(_("New issues by category")), fontproperties=font)
    if counts:
        positions = list(range(len(counts)))
        bars = top.barh(positions, counts, color=RED)
        top.set_yticks(positions, labels=[t(_cut(name)) for name in names])
        top.invert_yaxis()  # the biggest first, as in the digest text
        labels = top.bar_label(bars, labels=[t(tr.number(c)) for c in counts], padding=3)
        for label in labels:
            label.set_fontproperties(small)
        top.set_xlim(0, max(counts) * 1.15 + 0.5)
    else:
        top.set_yticks([])
        top.text(
            0.5,
            0.5,
            t(_("No new issues in this period.")),
            ha="center",
            va="center",
            transform=top.transAxes,
            fontproperties=font,
        )
    top.set_xticks([])
    for label in top.get_yticklabels():
        label.set_fontproperties(small)

    weeks = digest.weeks
    bottom.set_title(t(_("Reported and resolved, week by week")), fontproperties=font)
    positions = list(range(len(weeks)))
    width = 0.4
    bottom.bar(
        [p - width / 2 for p in positions],
        [w.opened for w in weeks],
        width,
        color=RED,
        label=t(_("reported")),
    )
    bottom.bar(
        [p + width / 2 for p in positions],
        [w.resolved for w in weeks],
        width,
        color=INK,
        label=t(_("resolved")),
    )
    every = max(1, -(-len(weeks) // WEEK_LABELS))
    labelled = positions[::-1][::every][::-1]  # the latest week always named
    bottom.set_xticks(labelled, labels=[t(short_day(tr, weeks[p].start)) for p in labelled])
    peak = max([w.opened for w in weeks] + [w.resolved for w in weeks] + [1])
    step = max(1, round(peak / 5))
    ticks = list(range(0, peak + step, step))
    bottom.set_yticks(ticks, labels=[t(tr.number(tick)) for tick in ticks])
    bottom.set_xlabel(t(_("week beginning")), fontproperties=small)
    for label in [*bottom.get_xticklabels(), *bottom.get_yticklabels()]:
        label.set_fontproperties(small)
    bottom.legend(prop=small, loc="upper left")
    for axes in (top, bottom):
        axes.spines[["top", "right"]].set_visible(False)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Chart(buffer.getvalue(), texts)


def _cut(name: str) -> str:
    return name if len(name) <= CATEGORY_CHARS else name[: CATEGORY_CHARS - 1] + "…"
