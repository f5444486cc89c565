"""The notebook's tables.

Red pen: `Issue` (what residents raised) and its `Attachment`s. Black pen: the owner, plan and due
date on the issue, and every step in the append-only `IssueEvent` log; every follow-up answer
(`FollowUp`), from which the three rates are computed. Around them: communities,
buildings and units, people and their `Membership` (role) per community, invite links, the
`Outbox` of every message the bot sends later, `IssueMessage` (which bot message speaks of
which issue, so replies find their issue), and `ChatState` (conversation drafts) so that no
state lives only in one process's memory. Operations: `RoleHandover` (the secretary's role
changing hands) and `Heartbeat` (liveness, shared by every instance).

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


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _when(*, index: bool = False) -> Any:
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
    created_at: datetime = _created()


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
    telegram_language_code: str | None = Field(default=None, max_length=35)
    locale: str | None = Field(default=None, max_length=16)  # chosen with /language
    current_community_id: int | None = Field(default=None, foreign_key="community.id")
    unreachable_since: datetime | None = _when()  # 403: the person blocked the bot
    anonymised_at: datetime | None = _when()  # /forget: only the facts of their issues remain
    created_at: datetime = _created()


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
    created_at: datetime = _created()


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
    expires_at: datetime | None = _when()
    revoked_at: datetime | None = _when()
    created_at: datetime = _created()


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
    building_id: int | None = Field(default=None, foreign_key="building.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    latitude: float | None = None
    longitude: float | None = None
    urgency: str = Field(default=Urgency.NORMAL, max_length=20)
    difficulty: str | None = Field(default=None, max_length=20)
    status: str = Field(default=IssueStatus.NEW, max_length=20)
    time_limit_hours: int = Field(default=168)
    respond_by: datetime | None = _when()
    owner_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    owner_group: str | None = Field(default=None, max_length=200)  # volunteers / self-governance
    plan: str | None = Field(default=None, sa_type=sa.Text)
    due_at: datetime | None = _when(index=True)
    transferred_to: str | None = Field(default=None, max_length=200)
    merged_into_id: int | None = Field(default=None, foreign_key="issue.id")
    support_count: int = Field(default=0)
    reopened_count: int = Field(default=0)
    followup_result: str | None = Field(default=None, max_length=20)
    satisfaction: str | None = Field(default=None, max_length=20)
    source_update_id: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    staff_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    staff_card_digest: str | None = Field(default=None, max_length=64)  # what the card shows
    version: int = Field(default=1)  # optimistic lock: two workers acting at once, one wins
    created_at: datetime = _created()
    accepted_at: datetime | None = _when()
    first_response_at: datetime | None = _when()
    resolved_at: datetime | None = _when()
    closed_at: datetime | None = _when()
    last_activity_at: datetime | None = _when()
    anonymised_at: datetime | None = _when()  # personal data removed after the retention period


class IssueEvent(SQLModel, table=True):
    """Append-only history of an issue: every transition, note and reply, with actor and time."""

    __tablename__ = "issue_event"
    __table_args__ = (
        # Reopenings in a period (the digest) and a day's black-pen entries (the notebook page).
        sa.Index("ix_issue_event_kind_at", "kind", "at"),
        sa.Index("ix_issue_event_at", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    at: datetime = _created()
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
    created_at: datetime = _created()


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="issue_event.id")
    kind: str = Field(max_length=20)  # photo, voice, document, location
    telegram_file_id: str | None = Field(default=None, max_length=255)
    file_unique_id: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=100)
    caption: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()


class IssueMessage(SQLModel, table=True):
    """A bot message about an issue (confirmation, notification, detail view): a resident's
    reply to it is added to that issue, so nobody has to type an issue number."""

    __tablename__ = "issue_message"
    chat_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False)
    )
    issue_id: int = Field(foreign_key="issue.id", index=True)
    created_at: datetime = _created()


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
    claimed_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()


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
    received_at: datetime = _created()
    processed_at: datetime | None = _when()
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
    lease_until: datetime | None = _when()


class ChatState(SQLModel, table=True):
    """Where a person is in a conversation, and the draft so far (survives restarts)."""

    __tablename__ = "chat_state"
    chat_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    flow: str = Field(max_length=40)
    step: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    updated_at: datetime = _created()


# --- courtyard council (小院议事堂), consent campaigns, service-desk roster (百通岗) -------------


class TopicStatus(StrEnum):
    OPEN = "open"  # raised, waiting for an answer or a meeting
    ANSWERED = "answered"  # a quick topic answered in writing
    SCHEDULED = "scheduled"  # on a meeting's agenda
    DECIDED = "decided"  # a meeting recorded a decision on it
    TO_ISSUE = "to_issue"  # turned straight into an issue


class TopicGrade(StrEnum):
    QUICK = "quick"  # answered within 48 h (Shaoxing standard, configurable)
    DEEP = "deep"  # consultation started within 5 working days


class CouncilTopic(SQLModel, table=True):
    """A matter a resident brings to the courtyard council, and how it was taken up."""

    __tablename__ = "council_topic"
    __table_args__ = (sa.Index("ix_council_topic_community_status", "community_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    proposer_id: int | None = Field(default=None, foreign_key="person.id")
    title: str = Field(max_length=200)
    description: str = Field(sa_type=sa.Text)
    building_id: int | None = Field(default=None, foreign_key="building.id")  # None: everyone
    status: str = Field(default=TopicStatus.OPEN, max_length=20)
    grade: str | None = Field(default=None, max_length=20)
    graded_by_id: int | None = Field(default=None, foreign_key="person.id")
    graded_at: datetime | None = _when()
    due_at: datetime | None = _when(index=True)  # answer (quick) or start (deep) by then
    handled_at: datetime | None = _when()  # answered, put on an agenda or turned into an issue
    answer: str | None = Field(default=None, sa_type=sa.Text)
    answered_by_id: int | None = Field(default=None, foreign_key="person.id")
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    support_count: int = Field(default=0)
    created_at: datetime = _created()


class TopicSupporter(SQLModel, table=True):
    """One resident backing a topic (one support per person)."""

    __tablename__ = "topic_supporter"
    topic_id: int = Field(foreign_key="council_topic.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    created_at: datetime = _created()


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"  # results published (结果公示)
    CANCELLED = "cancelled"


class CouncilMeeting(SQLModel, table=True):
    __tablename__ = "council_meeting"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    place: str = Field(max_length=200)
    status: str = Field(default=MeetingStatus.SCHEDULED, max_length=20)
    invite_residents: bool = Field(default=False)  # the residents of the buildings concerned
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    minutes: str | None = Field(default=None, sa_type=sa.Text)
    results_version: int = Field(default=0)  # how many times the results were published
    results_published_at: datetime | None = _when()
    created_at: datetime = _created()


class MeetingTopic(SQLModel, table=True):
    __tablename__ = "meeting_topic"
    meeting_id: int = Field(foreign_key="council_meeting.id", primary_key=True)
    topic_id: int = Field(foreign_key="council_topic.id", primary_key=True)


class MeetingParticipant(SQLModel, table=True):
    """Someone invited to a meeting (as proposer, supporter or resident), and whether they came."""

    __tablename__ = "meeting_participant"
    meeting_id: int = Field(foreign_key="council_meeting.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    reason: str = Field(max_length=20)  # proposer, supporter, resident
    attended: bool = Field(default=False)
    marked_at: datetime | None = _when()


class CouncilDecision(SQLModel, table=True):
    """What a meeting decided; the black pen: the issue it became, with owner and plan."""

    __tablename__ = "council_decision"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    topic_id: int | None = Field(default=None, foreign_key="council_topic.id")
    text: str = Field(sa_type=sa.Text)
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _created()


class ConsentRule(StrEnum):
    ART278 = "art278"  # PRC Civil Code Art. 278, 改建: 2/3 take part, 3/4 of them agree
    UNANIMITY = "unanimity"  # every household of the scope agrees
    MAJORITY = "majority"  # 2/3 take part, more than half of them agree


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # households being entered
    OPEN = "open"  # voting
    CLOSED = "closed"


class VoteChoice(StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    ABSTAIN = "abstain"


class ConsentCampaign(SQLModel, table=True):
    """A building project's consent vote (adding an elevator…), over a building or a unit."""

    __tablename__ = "consent_campaign"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int = Field(foreign_key="building.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")  # None: the whole building
    question: str = Field(sa_type=sa.Text)
    rule: str = Field(default=ConsentRule.ART278, max_length=20)
    status: str = Field(default=CampaignStatus.DRAFT, max_length=20)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _created()
    opened_at: datetime | None = _when()
    closed_at: datetime | None = _when()


class ConsentHousehold(SQLModel, table=True):
    """One household of a campaign's scope and its current vote (one vote per household).

    Floor area is kept in dm² (hundredths of a m²) as an integer: exact on every backend."""

    __tablename__ = "consent_household"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "room"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="consent_campaign.id", index=True)
    room: str = Field(max_length=50)
    owner_name: str | None = Field(default=None, max_length=200)
    area_dm2: int | None = None
    own_space_occupied: bool = Field(default=False)  # must consent individually
    choice: str | None = Field(default=None, max_length=20)
    concerns: str | None = Field(default=None, sa_type=sa.Text)
    vote_channel: str | None = Field(default=None, max_length=20)
    voted_by_id: int | None = Field(default=None, foreign_key="person.id")
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    voted_at: datetime | None = _when()
    # The current vote was cast by a verified member or recorded by a worker with evidence:
    # only such votes count under the rule (older votes, typed for any room, do not).
    vote_verified: bool = Field(default=False)
    created_at: datetime = _created()


class ConsentVoteLog(SQLModel, table=True):
    """Append-only: every vote and every change of vote, by whom, through which channel."""

    __tablename__ = "consent_vote_log"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="consent_campaign.id", index=True)
    household_id: int = Field(foreign_key="consent_household.id", index=True)
    at: datetime = _created()
    choice: str = Field(max_length=20)
    previous_choice: str | None = Field(default=None, max_length=20)
    concerns: str | None = Field(default=None, sa_type=sa.Text)
    channel: str = Field(max_length=20)
    cast_by_id: int | None = Field(default=None, foreign_key="person.id")
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    proxy_name: str | None = Field(default=None, max_length=200)  # who voted for the owner
    evidence: str | None = Field(default=None, sa_type=sa.Text)  # what the worker saw
    verified: bool = Field(default=False)  # a verified member, or a worker with evidence


class HouseholdCode(SQLModel, table=True):
    """A printed, single-use invitation for one household (building, unit, room): whoever
    redeems it becomes a verified member of that household. Print one per family member."""

    __tablename__ = "household_code"
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    building_id: int = Field(foreign_key="building.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    room: str = Field(max_length=50)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _created()
    used_by_id: int | None = Field(default=None, foreign_key="person.id")
    used_at: datetime | None = _when()


class VerifiedHome(SQLModel, table=True):
    """A resident's household as the community confirmed it (a worker's check, or a household
    code): not what they typed or picked in /profile. One per person and community; several
    people may share a household. Only a verified household votes from the phone."""

    __tablename__ = "verified_home"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "community_id"),
        sa.Index("ix_verified_home_building", "community_id", "building_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    community_id: int = Field(foreign_key="community.id")
    building_id: int = Field(foreign_key="building.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    room: str = Field(max_length=50)
    via: str = Field(max_length=20)  # "worker" or "code"
    verified_by_id: int | None = Field(default=None, foreign_key="person.id")  # the worker
    code_id: int | None = Field(default=None, foreign_key="household_code.id")
    verified_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class ConsentMediation(SQLModel, table=True):
    """A mediation between households of a campaign: who, their positions, what was agreed."""

    __tablename__ = "consent_mediation"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="consent_campaign.id", index=True)
    parties: str = Field(sa_type=sa.Text)
    positions: str = Field(sa_type=sa.Text)
    agreement: str = Field(sa_type=sa.Text)
    reached: bool = Field(default=False)
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = _created()


class MediationHousehold(SQLModel, table=True):
    __tablename__ = "mediation_household"
    mediation_id: int = Field(foreign_key="consent_mediation.id", primary_key=True)
    household_id: int = Field(foreign_key="consent_household.id", primary_key=True)


class DutyShift(SQLModel, table=True):
    """A worker's weekly half-day at the service desk (百通岗): weekday 0 = Monday."""

    __tablename__ = "duty_shift"
    __table_args__ = (sa.UniqueConstraint("community_id", "person_id", "weekday", "half"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    weekday: int
    half: str = Field(max_length=2)  # am, pm
    created_at: datetime = _created()


class RoleHandover(SQLModel, table=True):
    """The secretary offers their role to a worker; it changes hands when the worker accepts."""

    __tablename__ = "role_handover"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    from_person_id: int = Field(foreign_key="person.id")
    to_person_id: int = Field(foreign_key="person.id")
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = _when()
    declined_at: datetime | None = _when()
    cancelled_at: datetime | None = _when()


class Heartbeat(SQLModel, table=True):
    """Liveness shared by every instance: `update` (the last processed update) and one
    `instance:<host>:<pid>:<id>` row per running bot process (see storage/health.py)."""

    name: str = Field(max_length=120, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
