"""The notebook's own tables: issues, people, communities and the delivery records.

Red pen: `Issue` (what residents raised) and its `Attachment`s. Black pen: the owner, plan and due
date on the issue, and every step in the append-only `IssueEvent` log; every follow-up answer
(`FollowUp`), from which the three rates are computed. Around them: communities,
buildings and units, people and their `Membership` (role) per community, invite links, the
`Outbox` of every message the bot sends later, `IssueMessage` (which bot message speaks of
which issue, so replies find their issue), and `ChatState` (conversation drafts) so that no
state lives only in one process's memory. The council's tables are in `council.py`.

Enumerations are stored as short strings (portable across SQLite and PostgreSQL, and migrations
stay simple); the StrEnum classes below are the allowed values.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedString
from storage.types import UTCDateTime, utcnow


class Role(StrEnum):
    SECRETARY = "secretary"  # 社区书记
    WORKER = "worker"  # 社区工作者 / 网格员
    BUILDING_LEAD = "building_lead"  # 楼栋长
    VOLUNTEER = "volunteer"  # 志愿者 / 自治小组
    RESIDENT = "resident"


STAFF_ROLES = frozenset({Role.SECRETARY, Role.WORKER})


class Channel(StrEnum):
    TELEGRAM = "telegram"
    PHONE = "phone"
    DESK = "desk"
    VISIT = "visit"
    MEETING = "meeting"
    PAPER = "paper"  # a consent vote signed on a paper form and handed in
    PROXY = "proxy"  # a consent vote given by someone the owner authorised in writing (委托书)


class IssueStatus(StrEnum):
    NEW = "new"  # reported, not yet accepted (red pen only)
    ACCEPTED = "accepted"  # 受理
    ASSIGNED = "assigned"  # owner and plan (black pen)
    IN_PROGRESS = "in_progress"  # 办理
    TRANSFERRED = "transferred"  # belongs to another body
    RESOLVED = "resolved"  # 办结, awaiting follow-up
    CLOSED = "closed"  # followed up (回访) or timed out
    MERGED = "merged"  # duplicate folded into another issue
    WITHDRAWN = "withdrawn"  # the resident took it back


class Urgency(StrEnum):
    EMERGENCY = "emergency"  # danger to life or property
    NORMAL = "normal"


class Difficulty(StrEnum):
    ON_THE_SPOT = "on_the_spot"  # 即办
    COORDINATION = "coordination"  # 协商
    ESCALATE = "escalate"  # 上报


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class FollowUpResult(StrEnum):
    SOLVED = "solved"
    PARTLY = "partly"
    NOT_SOLVED = "not_solved"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


def created_column() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def when_column(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


def _telegram_id(*, unique: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_type=sa.BigInteger, nullable=True, unique=unique, index=index)


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    default_locale: str = Field(default="zh_Hans", max_length=16)
    staff_chat_id: int | None = _telegram_id(unique=True)
    next_issue_number: int = Field(default=1)
    created_at: datetime = created_column()


class Building(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=100)
    sort_order: int = Field(default=0)


class Unit(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("building_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    name: str = Field(max_length=100)
    sort_order: int = Field(default=0)


class Person(SQLModel, table=True):
    """Anyone the notebook knows: a Telegram user, or a resident logged by phone/desk."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int | None = _telegram_id(unique=True)
    full_name: str = Field(default="", max_length=200)
    username: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, sa_type=EncryptedString)  # encrypted at rest
    # the phone's keyed hash, to find a person by phone in SQL (storage/crypto.py: blind index)
    phone_index: str | None = Field(default=None, max_length=64, index=True)
    telegram_language_code: str | None = Field(default=None, max_length=35)
    locale: str | None = Field(default=None, max_length=16)  # chosen with /language
    current_community_id: int | None = Field(default=None, foreign_key="community.id")
    unreachable_since: datetime | None = when_column()  # 403: the person blocked the bot
    anonymised_at: datetime | None = when_column()  # /forget: only the facts of their issues remain
    created_at: datetime = created_column()


class Membership(SQLModel, table=True):
    """A person's role in one community (and, for residents, their home)."""

    __table_args__ = (sa.UniqueConstraint("person_id", "community_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    role: str = Field(max_length=20)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    room: str | None = Field(default=None, max_length=50)
    active: bool = Field(default=True)
    created_at: datetime = created_column()


class InviteLink(SQLModel, table=True):
    """A deep-link token (`/start <token>`) that grants a role, or joins a community/building."""

    __tablename__ = "invite_link"
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    role: str = Field(max_length=20)
    building_id: int | None = Field(default=None, foreign_key="building.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    max_uses: int | None = Field(default=None)  # None: reusable (community/building links)
    use_count: int = Field(default=0)
    expires_at: datetime | None = when_column()
    revoked_at: datetime | None = when_column()
    created_at: datetime = created_column()


class Issue(SQLModel, table=True):
    """One red-pen entry, with its black-pen owner, plan and due date."""

    __table_args__ = (
        sa.UniqueConstraint("community_id", "number"),
        # Open issues of a community, and open ones reported before a day (the notebook page).
        sa.Index("ix_issue_community_status_created", "community_id", "status", "created_at"),
        sa.Index("ix_issue_community_created", "community_id", "created_at"),
        # The digest counts and medians range over one lifecycle column per community.
        sa.Index("ix_issue_community_accepted", "community_id", "accepted_at"),
        sa.Index("ix_issue_community_first_response", "community_id", "first_response_at"),
        sa.Index("ix_issue_community_resolved", "community_id", "resolved_at"),
        sa.Index("ix_issue_community_closed", "community_id", "closed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    number: int
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    logged_by_id: int | None = Field(default=None, foreign_key="person.id")
    channel: str = Field(default=Channel.TELEGRAM, max_length=20)
    category: str = Field(max_length=40)
    description: str = Field(sa_type=sa.Text)
    # one line naming a report that has nothing in words (a voice message, photos): its title
    summary: str | None = Field(default=None, max_length=200)
    building_id: int | None = Field(default=None, foreign_key="building.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    latitude: float | None = None
    longitude: float | None = None
    urgency: str = Field(default=Urgency.NORMAL, max_length=20)
    difficulty: str | None = Field(default=None, max_length=20)
    status: str = Field(default=IssueStatus.NEW, max_length=20)
    time_limit_hours: int = Field(default=168)
    respond_by: datetime | None = when_column()
    owner_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    owner_group: str | None = Field(default=None, max_length=200)  # volunteers / self-governance
    plan: str | None = Field(default=None, sa_type=sa.Text)
    due_at: datetime | None = when_column(index=True)  # the completion clock (办结期限)
    planned_at: datetime | None = when_column()  # when the due date was set: its clock starts
    transferred_to: str | None = Field(default=None, max_length=200)
    # 转办: the date the body it went to should answer by (not a completion date)
    transfer_answer_by: datetime | None = when_column()
    merged_into_id: int | None = Field(default=None, foreign_key="issue.id")
    support_count: int = Field(default=0)
    reopened_count: int = Field(default=0)
    followup_result: str | None = Field(default=None, max_length=20)
    satisfaction: str | None = Field(default=None, max_length=20)
    source_update_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    staff_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    staff_card_digest: str | None = Field(default=None, max_length=64)  # what the card shows
    version: int = Field(default=1)  # optimistic lock: two workers acting at once, one wins
    created_at: datetime = created_column()
    accepted_at: datetime | None = when_column()
    first_response_at: datetime | None = when_column()
    resolved_at: datetime | None = when_column()
    closed_at: datetime | None = when_column()
    last_activity_at: datetime | None = when_column()
    # Open data (storage/open311.py): the only description published, written by a worker for
    # the public, never the resident's words; None: the issue is published without one.
    public_summary: str | None = Field(default=None, max_length=500)
    public_summary_at: datetime | None = when_column()
    anonymised_at: datetime | None = when_column()  # personal data removed after retention


class IssueEvent(SQLModel, table=True):
    """Append-only history of an issue: every transition, note and reply, with actor and time."""

    __tablename__ = "issue_event"
    __table_args__ = (
        # Reopenings in a period (the digest) and a day's black-pen entries (the notebook page).
        sa.Index("ix_issue_event_kind_at", "kind", "at"),
        sa.Index("ix_issue_event_at", "at"),
        # An issue's history, and its latest event of a kind (a card's last progress note):
        # without `kind` here SQLite, which keeps no statistics, walks ix_issue_event_kind_at
        # through every issue's events of that kind instead.
        sa.Index("ix_issue_event_issue_kind_at", "issue_id", "kind", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id")
    at: datetime = created_column()
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    kind: str = Field(max_length=40)
    public: bool = Field(default=False)
    text: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class FollowUp(SQLModel, table=True):
    """One answer to a follow-up (回访), "not solved" included.

    The three rates are computed from these rows (storage/digest.py). They are never changed
    afterwards: reopening an issue clears the verdict on the issue (it is being worked on again)
    but not the answer that reopened it.
    """

    __tablename__ = "follow_up"
    __table_args__ = (sa.Index("ix_follow_up_community_at", "community_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    community_id: int = Field(foreign_key="community.id")
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    result: str = Field(max_length=20)  # FollowUpResult
    satisfaction: str | None = Field(default=None, max_length=20)  # Satisfaction


class IssueSupporter(SQLModel, table=True):
    """ "Me too": a resident who backs an issue and hears its updates."""

    __tablename__ = "issue_supporter"
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    created_at: datetime = created_column()


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="issue_event.id")
    kind: str = Field(max_length=20)  # photo, voice, document, location
    telegram_file_id: str | None = Field(default=None, max_length=255)
    file_unique_id: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=100)
    caption: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = created_column()


class IssueMessage(SQLModel, table=True):
    """A bot message about an issue (confirmation, notification, detail view): a resident's
    reply to it is added to that issue, so nobody has to type an issue number."""

    __tablename__ = "issue_message"
    chat_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    issue_id: int = Field(foreign_key="issue.id", index=True)
    created_at: datetime = created_column()


class Outbox(SQLModel, table=True):
    """Every message the bot will send later: the database, not the scheduler, remembers it."""

    __table_args__ = (sa.Index("ix_outbox_status_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    chat_id: int = Field(sa_type=sa.BigInteger)
    kind: str = Field(max_length=40)
    dedupe_key: str = Field(max_length=200, unique=True)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    urgent: bool = Field(default=False)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = Field(default=0)
    claimed_at: datetime | None = when_column()
    sent_at: datetime | None = when_column()
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = created_column()


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # a handler raised; kept, with its payload, for a person to look at


class InboxUpdate(SQLModel, table=True):
    """Every update from Telegram, stored before Telegram is told we have it (durable intake)."""

    __tablename__ = "inbox_update"
    __table_args__ = (
        sa.Index("ix_inbox_status_received", "status", "received_at"),
        sa.Index("ix_inbox_status_lease", "status", "lease_until"),
        # the few rows that still owe answers, found at the start without reading the rest
        sa.Index(
            "ix_inbox_answers_owed",
            "update_id",
            sqlite_where=sa.text("answers IS NOT NULL"),
            postgresql_where=sa.text("answers IS NOT NULL"),
        ),
    )
    update_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=InboxStatus.PENDING, max_length=20)
    received_at: datetime = created_column()
    processed_at: datetime | None = when_column()
    # The answers the update still owes Telegram (delivery/answers.py): Bot API calls made after
    # its commit, kept here until they went out, so a crash in between sends them at the start.
    answers: list[dict[str, Any]] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    # Retries while the bot runs (storage/inbox.py): how often handling it failed, why the last
    # time, and which instance holds it until when. A pending row is free to be taken once
    # `lease_until` has passed: the lease of the instance handling it, or the back-off after a
    # failure. The error is the exception's type and SQLSTATE-like code, never a statement's
    # parameters (nothing a resident wrote).
    attempts: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    )
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = when_column()
    # A try that failed answered the update's button press, so that it stopped spinning
    # (bot/app.py): Telegram takes one answer per press, so no later try answers it again.
    press_answered: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    )


class ChatState(SQLModel, table=True):
    """Where a person is in a conversation, and the draft so far (survives restarts)."""

    __tablename__ = "chat_state"
    chat_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    flow: str = Field(max_length=40)
    step: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: datetime = created_column()


class FlowPrompt(SQLModel, table=True):
    """A question the bot asked in a flow, once Telegram has it: the message id a reply must
    answer. Written by the after-send hook alone (never by an update), so the hook and the
    next update never write the same row: the flow's `chat_state` stays the update's, and the
    prompt's id cannot be lost to whichever of them commits last. `sending` is the update that
    asked (the state's `sending`)."""

    __tablename__ = "flow_prompt"
    __table_args__ = (sa.Index("ix_flow_prompt_key", "chat_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=sa.BigInteger)
    user_id: int = Field(sa_type=sa.BigInteger)
    sending: int = Field(sa_type=sa.BigInteger)
    message_id: int = Field(sa_type=sa.BigInteger)
    sent_at: datetime = created_column()
