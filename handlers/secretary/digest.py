"""The digest: what the secretary reads every Monday, and /digest for any period.

One message (at most 4096 characters: long lists are cut and say how many more there are) and
one picture (handlers/secretary/charts.py). The weekly one goes through the outbox
(storage/reminders.py queues a `digest` row per secretary; `render_weekly` writes it at send time
and sends the chart after the text through `Rendered.after_send`). `/digest` answers staff directly:
`/digest` = the last 7 days, `/digest 2026-11` (or `上个月`) = a month,
`/digest 2026-11-01 2026-11-15` (or `上周`; storage/dates.py reads them) = those days. Every
figure comes from storage/digest.py; numbers, percentages, dates and durations are formatted
with Babel in the reader's language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, Message, Update
from telegram.ext import CommandHandler

from handlers.council.digest_section import digest_section
from handlers.secretary.charts import digest_chart
from handlers.shared.common import escape
from handlers.shared.fitting import CAPTION_LIMIT, clip, fits
from handlers.shared.formats import period_label, span
from handlers.shared.labels import category_label
from handlers.shared.offices import private_command_as
from runtime import metrics
from runtime.context import NotebookContext
from runtime.effects import afterwards
from runtime.i18n import Translator
from runtime.offload import Offload
from runtime.rendering import Rendered, Renderer, Renderers, Sent
from storage import reminders
from storage.db import Database
from storage.digest import Digest, DigestPolicy, Trend, build_digest
from storage.models import STAFF_ROLES, Community, Outbox
from storage.periods import Period, parse_period

log = logging.getLogger(__name__)

NAME_LIMIT = 30  # characters of a building's or person's name in a list line


@dataclass(frozen=True)
class ListCaps:
    """How many lines each list may show; halved until the message fits."""

    overdue: int = 10
    reply_late: int = 10
    categories: int = 5
    buildings: int = 5
    repeats: int = 5
    owners: int = 10

    def smaller(self) -> ListCaps | None:
        fields = ("overdue", "reply_late", "owners", "categories", "buildings", "repeats")
        largest = max(fields, key=lambda name: getattr(self, name))
        value = getattr(self, largest)
        return None if value <= 1 else replace(self, **{largest: value // 2})


def _change(tr: Translator, change: int) -> str:
    if change > 0:
        return "+" + tr.number(change)
    return tr.number(change) if change < 0 else "±0"


def _percent(tr: Translator, value: float | None) -> str:
    return "—" if value is None else tr.percent(value)


def _more(tr: Translator, shown: int, total: int) -> list[str]:
    if total <= shown:
        return []
    return [tr.gettext("…and {count} more").format(count=tr.number(total - shown))]


def _trend_lines(
    tr: Translator, trends: list[Trend], cap: int, name: Callable[[str], str]
) -> list[str]:
    """The first `cap` of `trends`, one line each with its change, then how many more."""
    shown = trends[:cap]
    lines = [
        tr.gettext("• {name}: {count} ({change})").format(
            name=name(trend.key), count=tr.number(trend.count), change=_change(tr, trend.change)
        )
        for trend in shown
    ]
    return lines + _more(tr, len(shown), len(trends))


def _name(text: str | None) -> str:
    return escape(clip(text, NAME_LIMIT)) or "—"


def _days_overdue(tr: Translator, due_at: datetime, now: datetime) -> str:
    days = max((now - due_at) // timedelta(days=1), 0)
    if days == 0:
        return tr.gettext("overdue since today")
    return tr.ngettext("{days} day overdue", "{days} days overdue", days).format(
        days=tr.number(days)
    )


def _days_reply_late(tr: Translator, respond_by: datetime, now: datetime) -> str:
    """How long ago the response deadline (答复时限) passed, worded as the card words it."""
    days = max((now - respond_by) // timedelta(days=1), 0)
    if days == 0:
        return tr.gettext("reply overdue since today")
    return tr.ngettext("reply {days} day overdue", "reply {days} days overdue", days).format(
        days=tr.number(days)
    )


def _sections(
    tr: Translator, digest: Digest, community: str, caps: ListCaps, *, weekly: bool
) -> list[str]:
    _ = tr.gettext
    title = (
        _("<b>Weekly notebook: {community}</b>") if weekly else _("<b>Notebook: {community}</b>")
    )
    lines = [title.format(community=escape(community)), period_label(tr, digest.period), ""]
    lines.append(
        _(
            "New {new} · accepted {accepted} · resolved {resolved} · closed {closed} · "
            "reopened {reopened}"
        ).format(
            new=tr.number(digest.new),
            accepted=tr.number(digest.accepted),
            resolved=tr.number(digest.resolved),
            closed=tr.number(digest.closed),
            reopened=tr.number(digest.reopened),
        )
    )
    rates = digest.rates
    lines.append("")
    if rates.followed_up:
        lines.append(
            _("<b>The three rates</b> ({count} follow-up answers)").format(
                count=tr.number(rates.followed_up)
            )
        )
        lines.append(
            _("response {response} · resolution {resolution} · satisfaction {satisfaction}").format(
                response=_percent(tr, rates.response),
                resolution=_percent(tr, rates.resolution),
                satisfaction=_percent(tr, rates.satisfaction),
            )
        )
        lines.append(_("composite {composite}").format(composite=_percent(tr, rates.composite)))
    else:
        lines.append(_("<b>The three rates</b>: no follow-up answers in this period."))
    lines.append(
        _("Median time to a first response: {first} · to resolution: {resolved}").format(
            first=span(tr, digest.median_first_response),
            resolved=span(tr, digest.median_resolution),
        )
    )

    lines.append("")
    # The two clocks, named as the card names them: 完成期限 ("Due") and 答复时限 ("Reply by").
    if digest.overdue_total:
        lines.append(
            _("<b>Overdue: Due date passed</b> ({count})").format(
                count=tr.number(digest.overdue_total)
            )
        )
        shown = digest.overdue[: caps.overdue]
        for item in shown:
            lines.append(
                _("• No. {number} · {building} · {owner} · {late}").format(
                    number=item.number,
                    building=_name(item.building),
                    owner=_name(item.owner),
                    late=_days_overdue(tr, item.due_at, digest.now),
                )
            )
        lines += _more(tr, len(shown), digest.overdue_total)
    if digest.reply_late_total:
        lines.append(
            _("<b>Reply-by passed, not yet answered</b> ({count})").format(
                count=tr.number(digest.reply_late_total)
            )
        )
        shown_replies = digest.reply_late[: caps.reply_late]
        for reply in shown_replies:
            lines.append(
                _("• No. {number} · {building} · {owner} · {late}").format(
                    number=reply.number,
                    building=_name(reply.building),
                    owner=_name(reply.owner) if reply.owner else _("nobody yet"),
                    late=_days_reply_late(tr, reply.respond_by, digest.now),
                )
            )
        lines += _more(tr, len(shown_replies), digest.reply_late_total)
    if not digest.overdue_total and not digest.reply_late_total:
        lines.append(_("<b>Overdue</b>: nothing. Well done."))
    if digest.escalated:  # 上报: what needs the secretary
        lines.append(
            _("<b>Escalated to the secretary</b> ({count}): {numbers}").format(
                count=tr.number(len(digest.escalated)),
                numbers=_("No. {numbers}").format(
                    numbers=", ".join(str(n) for n in digest.escalated[: caps.overdue])
                )
                + ("…" if len(digest.escalated) > caps.overdue else ""),
            )
        )

    if digest.categories:
        lines += ["", _("<b>Most reported</b> (change from the period before)")]
        lines += _trend_lines(
            tr,
            digest.categories,
            caps.categories,
            lambda key: escape(category_label(tr, key)),
        )
    if digest.buildings:
        lines += ["", _("<b>Buildings</b> (change from the period before)")]
        lines += _trend_lines(tr, digest.buildings, caps.buildings, _name)

    if digest.repeats_total:
        lines += ["", _("<b>Repeat problems</b>: solve them before more complaints come in")]
        shown_repeats = digest.repeats[: caps.repeats]
        for repeat in shown_repeats:
            lines.append(
                _("• {building} · {category}: {count} reports").format(
                    building=_name(repeat.building),
                    category=escape(category_label(tr, repeat.category)),
                    count=tr.number(repeat.count),
                )
            )
        lines += _more(tr, len(shown_repeats), digest.repeats_total)

    if digest.owners_total or digest.unassigned_open:
        lines += ["", _("<b>Open work by owner</b>")]
        shown_owners = digest.owners[: caps.owners]
        for owner in shown_owners:
            lines.append(
                _("• {name}: {open} open, {overdue} overdue").format(
                    name=_name(owner.name),
                    open=tr.number(owner.open),
                    overdue=tr.number(owner.overdue),
                )
            )
        lines += _more(tr, len(shown_owners), digest.owners_total)
        if digest.unassigned_open:
            lines.append(
                _("• nobody yet: {open} open").format(open=tr.number(digest.unassigned_open))
            )
    return lines


def digest_text(
    tr: Translator,
    digest: Digest,
    community: str,
    *,
    weekly: bool = False,
    council: Sequence[str] = (),
) -> str:
    """The digest as one message that fits Telegram's limit; `council` are the courtyard
    council's lines (open consent votes, topics past their time limit)."""
    caps: ListCaps | None = ListCaps()
    tail = ["", *council] if council else []
    while caps is not None:
        text = "\n".join([*_sections(tr, digest, community, caps, weekly=weekly), *tail])
        if fits(text):
            return text
        caps = caps.smaller()
    raise AssertionError("a digest with one line per list cannot exceed 4096 characters")


def chart_caption(tr: Translator) -> str:
    caption = tr.gettext(
        "New issues by category, and reported vs. resolved issues over the last 8 weeks."
    )
    assert fits(caption, CAPTION_LIMIT)
    return caption


async def send_chart(
    bot: Bot, chat_id: int, tr: Translator, digest: Digest, community: str, offload: Offload
) -> Message:
    chart = await offload.run(digest_chart, tr, digest, community)
    return await bot.send_photo(chat_id, chart.png, caption=chart_caption(tr))


# --- the weekly digest, from the outbox ------------------------------------------------------


def weekly_renderer(policy: DigestPolicy, db: Database, offload: Offload | None = None) -> Renderer:
    offload = offload or Offload(in_process=False)

    async def render_weekly(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
        """The week that ended at the slot (Monday 08:00 by default), as of that moment."""
        community = await session.get(Community, row.payload.get("community_id"))
        if community is None or community.id is None:
            return None
        end = datetime.fromtimestamp(row.payload["week_end"], UTC)
        period = Period.week_before(end, ZoneInfo(community.timezone))
        with metrics.DIGEST_SECONDS.labels(trigger="weekly").time():
            async with db.reading() as reader:  # off the loop: every chat goes on meanwhile
                digest = await build_digest(
                    reader, community_id=community.id, period=period, now=end, policy=policy
                )
                council = await digest_section(reader, community.id, end, tr)
        name = community.name

        charted = False

        async def chart_after_text(_session: AsyncSession, bot: Bot, message: Sent) -> None:
            # The text has been delivered; a failed picture must not make the dispatcher send
            # the text again, so it is logged here rather than raised. Once only: the
            # dispatcher runs this again when it retries recording the text as sent.
            nonlocal charted
            if charted:
                return
            charted = True
            try:
                await send_chart(bot, message.chat_id, tr, digest, name, offload)
            except Exception:
                log.exception("digest chart for community %s was not sent", community.id)

        return Rendered(
            digest_text(tr, digest, name, weekly=True, council=council),
            after_send=chart_after_text,
        )

    return render_weekly


def register(renderers: Renderers, policy: DigestPolicy, db: Database, offload: Offload) -> None:
    renderers.register(reminders.DIGEST, weekly_renderer(policy, db, offload))


# --- /digest ---------------------------------------------------------------------------------


async def digest_command(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, STAFF_ROLES, _("The digest is for the community's staff.")
    )
    if asked is None:
        return
    message, community = asked
    assert community.id is not None
    period = parse_period(
        " ".join(context.args or []),
        now=context.now(),
        tz=ZoneInfo(community.timezone),
        locale=context.tr.locale,
    )
    if period is None:
        await message.reply_text(
            _(
                "I could not read “{text}” as days. Send /digest for the last 7 days, or name "
                "them as you would say them: /digest 上个月, /digest last week, /digest 2026-11, "
                "/digest 11-01 到 11-15."
            ).format(text=escape(" ".join(context.args or [])[:50]))
        )
        return
    asked_for = _Asked(
        context.bot,
        context.notebook.db,
        context.tr,
        context.notebook.settings.digest_policy,
        community,
        period,
        message.chat.id,
        context.notebook.offload,
    )
    # read, written and sent after this update, so that the chat goes on meanwhile
    context.notebook.offload.start((digest_chart.__module__,))
    afterwards(partial(_send_digest, asked_for, now=context.now()))


@dataclass(frozen=True)
class _Asked:
    """A digest asked for with /digest, to be read and sent after the update (`afterwards`)."""

    bot: Bot
    db: Database
    tr: Translator
    policy: DigestPolicy
    community: Community
    period: Period
    chat_id: int
    offload: Offload


async def _send_digest(asked: _Asked, *, now: datetime) -> None:
    community = asked.community
    assert community.id is not None
    with metrics.DIGEST_SECONDS.labels(trigger="command").time():
        async with asked.db.reading() as reader:  # off the loop: every chat goes on
            digest = await build_digest(
                reader,
                community_id=community.id,
                period=asked.period,
                now=now,
                policy=asked.policy,
            )
            council = await digest_section(reader, community.id, now, asked.tr)
    text = digest_text(asked.tr, digest, community.name, council=council)
    await asked.bot.send_message(asked.chat_id, text)
    await send_chart(asked.bot, asked.chat_id, asked.tr, digest, community.name, asked.offload)


HANDLERS = [CommandHandler("digest", digest_command)]
