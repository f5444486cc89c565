"""The council's part of the secretary's weekly digest (issue 6 composes the digest and appends
these lines): each open consent campaign's support rate by households and by floor area, and the
council topics waiting past their time limit."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.shared.fitting import short
from handlers.shared.members import percent
from runtime.i18n import Translator
from storage.council_digest import open_campaigns_summary, overdue_topics

LISTED = 10  # items of each kind named in the digest; the rest are counted


async def digest_section(
    session: AsyncSession, community_id: int, now: datetime, tr: Translator
) -> list[str]:
    """Lines to add to the weekly digest; empty when there is nothing to say."""
    _ = tr.gettext
    lines: list[str] = []
    campaigns = await open_campaigns_summary(session, community_id, now)
    if campaigns:
        lines.append(_("Consent votes open:"))
        for summary in campaigns[:LISTED]:
            lines.append(
                _("• #{id} {question}: support {heads} of households, {area} of floor area").format(
                    id=summary.campaign_id,
                    question=short(summary.question, 40),
                    heads=percent(tr, summary.support_heads),
                    area=percent(tr, summary.support_area),
                )
                + (_(" (passes)") if summary.passed else "")
            )
        if len(campaigns) > LISTED:
            lines.append(_("…and {count} more.").format(count=len(campaigns) - LISTED))
    late = await overdue_topics(session, community_id, now)
    if late:
        lines.append(
            _("Council topics waiting past their time limit ({count}):").format(count=len(late))
        )
        for topic in late[:LISTED]:
            assert topic.due_at is not None
            lines.append(
                _("• #{id} {title}, {late} late").format(
                    id=topic.id, title=short(topic.title, 40), late=tr.duration(now - topic.due_at)
                )
            )
        if len(late) > LISTED:
            lines.append(_("…and {count} more.").format(count=len(late) - LISTED))
    return lines
