"""A report in the making: the draft a resident (or a worker logging for one) fills in, which
question it still lacks, the spam guard, and turning the finished draft into an issue.

The draft is plain data kept in `chat_state` (see handlers/residents/report.py), so a restart in the
middle of a report loses nothing; `next_step` is a pure function of it, which is what makes
the flow "ask only what is missing".
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import issues as rules
from storage import outbox
from storage.categories import CATEGORIES, TimeLimits
from storage.fast.direct import Direct
from storage.issues import NewAttachment
from storage.models import Channel, Issue, Urgency
from storage.notifications import issue_opened
from storage.residents import register_offline_resident

FLOW = "report"
ISSUE_LOGGED = "issue_logged"  # outbox: tells a registered resident staff logged their issue
MAX_DESCRIPTION = 20_000  # several long messages appended; far beyond what anyone types


class Step(StrEnum):
    JOIN = "join"  # the writer has not joined a community yet
    CHANNEL = "channel"  # /log: how the resident reached the community
    WHO = "who"  # /log: which resident (search or "not registered")
    WHO_NAME = "who_name"
    WHO_PHONE = "who_phone"
    BUILDING = "building"  # /log, for a resident with no building on file
    CATEGORY = "category"
    DUPLICATES = "duplicates"
    DESCRIPTION = "description"
    MEDIA = "media"
    URGENCY = "urgency"
    CONFIRM = "confirm"


@dataclass
class ReportDraft:
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    community_id: int | None = None
    channel: str | None = Channel.TELEGRAM
    reporter_id: int | None = None
    logged_by_id: int | None = None
    who: str | None = None  # /log: "registered" or "offline"
    reporter_name: str | None = None
    reporter_phone: str | None = None
    phone_asked: bool = False
    building_id: int | None = None
    unit_id: int | None = None
    building_asked: bool = False
    category: str | None = None
    duplicates_checked: bool = False
    description: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    media_groups: list[str] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    media_done: bool = False
    urgency: str | None = None
    message_ids: list[int] = field(default_factory=list)  # the person's messages it holds

    @classmethod
    def load(cls, data: dict[str, Any]) -> ReportDraft:
        # a deep copy: the lists inside must not be the very objects of the loaded row, or
        # changing them in place would hide the change from the session (nothing saved)
        known = {k: copy.deepcopy(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def on_behalf(self) -> bool:
        return self.logged_by_id is not None

    def add_text(self, text: str) -> None:
        """Words the person sends become the description, or are added to it."""
        text = text.strip()
        if not text:
            return
        joined = f"{self.description}\n{text}" if self.description else text
        self.description = joined[:MAX_DESCRIPTION]

    def add_attachment(self, attachment: NewAttachment) -> None:
        self.attachments.append(asdict(attachment))

    def count(self, kind: str) -> int:
        return sum(1 for a in self.attachments if a.get("kind") == kind)


def voice_description(seconds: int) -> str:
    """A voice message standing as the description; language-neutral, staff listen to it."""
    return f"🎤 {seconds // 60}:{seconds % 60:02d}"


def next_step(draft: ReportDraft) -> Step:
    """The first question the draft still lacks an answer to."""
    if draft.community_id is None:
        return Step.JOIN
    if draft.on_behalf:
        if draft.channel is None:
            return Step.CHANNEL
        if draft.who is None:
            return Step.WHO
        if draft.who == "offline" and not draft.reporter_name:
            return Step.WHO_NAME
        if draft.who == "offline" and not draft.phone_asked:
            return Step.WHO_PHONE
        if draft.building_id is None and not draft.building_asked:
            return Step.BUILDING
    if draft.category is None:
        return Step.CATEGORY
    if not draft.duplicates_checked:
        return Step.DUPLICATES
    if draft.description is None:
        return Step.DESCRIPTION
    if not draft.media_done:
        return Step.MEDIA
    if draft.urgency is None:
        return Step.URGENCY
    return Step.CONFIRM


# Asked on every new report: built once, and run directly (storage/fast/direct.py).
_REPORTS_SINCE = Direct(
    select(func.count())
    .select_from(Issue)
    .where(
        Issue.reporter_id == bindparam("person_id"),
        col(Issue.logged_by_id).is_(None),
        col(Issue.created_at) > bindparam("since"),
    )
)


async def reports_in_last_hour(session: AsyncSession, *, person_id: int, now: datetime) -> int:
    """Issues this person opened themselves in the last hour (the spam guard's count)."""
    since = now - timedelta(hours=1)
    ((count,),) = await _REPORTS_SINCE.rows(session, {"person_id": person_id, "since": since})
    return int(count)


async def ensure_reporter(session: AsyncSession, draft: ReportDraft) -> int | None:
    """The reporter's person id; a resident logged by phone without Telegram is registered now
    (by name and phone) so that the next call finds them."""
    if draft.reporter_id is None and draft.who == "offline" and draft.reporter_name:
        assert draft.community_id is not None
        person = await register_offline_resident(
            session,
            community_id=draft.community_id,
            name=draft.reporter_name,
            phone=draft.reporter_phone,
            building_id=draft.building_id,
            unit_id=draft.unit_id,
        )
        draft.reporter_id = person.id
    return draft.reporter_id


async def file_report(
    session: AsyncSession,
    draft: ReportDraft,
    *,
    now: datetime,
    limits: TimeLimits,
    source_update_id: int | None,
) -> Issue:
    """Open the issue from a finished draft, queue its staff card, and tell a registered
    resident when a worker logged it for them."""
    if next_step(draft) is not Step.CONFIRM:
        raise ValueError(f"the draft still lacks {next_step(draft)}")
    assert draft.community_id is not None and draft.category in CATEGORIES
    reporter_id = await ensure_reporter(session, draft)
    issue = await rules.create_issue(
        session,
        community_id=draft.community_id,
        category=draft.category,
        description=draft.description or "",
        now=now,
        limits=limits,
        reporter_id=reporter_id,
        logged_by_id=draft.logged_by_id,
        channel=Channel(draft.channel or Channel.TELEGRAM),
        building_id=draft.building_id,
        unit_id=draft.unit_id,
        urgency=Urgency(draft.urgency or Urgency.NORMAL),
        latitude=draft.latitude,
        longitude=draft.longitude,
        source_update_id=source_update_id,
        attachments=[NewAttachment(**a) for a in draft.attachments],
    )
    await issue_opened(session, issue, now=now)
    if draft.on_behalf and reporter_id is not None:
        await tell_resident_it_was_logged(session, issue, now=now)
    return issue


async def tell_resident_it_was_logged(
    session: AsyncSession, issue: Issue, *, now: datetime
) -> bool:
    """False when the resident has no Telegram: the worker who logged it keeps them informed."""
    return await outbox.enqueue_to_person(
        session,
        issue.reporter_id,
        kind=ISSUE_LOGGED,
        dedupe_key=f"logged:{issue.id}",
        due_at=now,
        payload={"issue_id": issue.id},
        now=now,
        community_id=issue.community_id,
        urgent=issue.urgency == Urgency.EMERGENCY,
    )
