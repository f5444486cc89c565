"""Courtyard council (小院议事堂) topics and meetings, consent campaigns and their households,
the service-desk roster (百通岗), the secretary's role handover, instance heartbeats, and the
record of who looked at a resident's phone number outside an issue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.models.notebook import created_column, when_column
from storage.types import UTCDateTime


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
    graded_at: datetime | None = when_column()
    due_at: datetime | None = when_column(index=True)  # answer (quick) or start (deep) by then
    handled_at: datetime | None = when_column()  # answered, on an agenda or turned into an issue
    answer: str | None = Field(default=None, sa_type=sa.Text)
    answered_by_id: int | None = Field(default=None, foreign_key="person.id")
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    support_count: int = Field(default=0)
    created_at: datetime = created_column()


class TopicSupporter(SQLModel, table=True):
    """One resident backing a topic (one support per person)."""

    __tablename__ = "topic_supporter"
    topic_id: int = Field(foreign_key="council_topic.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    created_at: datetime = created_column()


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
    results_published_at: datetime | None = when_column()
    created_at: datetime = created_column()


class MeetingTopic(SQLModel, table=True):
    __tablename__ = "meeting_topic"
    meeting_id: int = Field(foreign_key="council_meeting.id", primary_key=True)
    topic_id: int = Field(foreign_key="council_topic.id", primary_key=True)


class MeetingParticipant(SQLModel, table=True):
    """Someone invited to a meeting (as proposer, supporter or resident), or signed in at the
    door by a worker (walk_in: often without a phone), whether they said they would come, and
    whether they came."""

    __tablename__ = "meeting_participant"
    meeting_id: int = Field(foreign_key="council_meeting.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    reason: str = Field(max_length=20)  # proposer, supporter, resident, walk_in
    attended: bool = Field(default=False)
    marked_at: datetime | None = when_column()
    reply: str | None = Field(default=None, max_length=10)  # the invitation's answer: yes / no
    replied_at: datetime | None = when_column()
    household: str | None = Field(default=None, max_length=100)  # a walk-in's, as they said it


class CouncilDecision(SQLModel, table=True):
    """What a meeting decided; the black pen: the issue it became, with owner and plan."""

    __tablename__ = "council_decision"
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="council_meeting.id", index=True)
    topic_id: int | None = Field(default=None, foreign_key="council_topic.id")
    text: str = Field(sa_type=sa.Text)
    issue_id: int | None = Field(default=None, foreign_key="issue.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = created_column()


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
    created_at: datetime = created_column()
    opened_at: datetime | None = when_column()
    closed_at: datetime | None = when_column()


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
    voted_at: datetime | None = when_column()
    # The current vote was cast by a verified member or recorded by a worker with evidence:
    # only such votes count under the rule (older votes, typed for any room, do not).
    vote_verified: bool = Field(default=False)
    created_at: datetime = created_column()


class ConsentVoteLog(SQLModel, table=True):
    """Append-only: every vote and every change of vote, by whom, through which channel."""

    __tablename__ = "consent_vote_log"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="consent_campaign.id", index=True)
    household_id: int = Field(foreign_key="consent_household.id", index=True)
    at: datetime = created_column()
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
    created_at: datetime = created_column()
    used_by_id: int | None = Field(default=None, foreign_key="person.id")
    used_at: datetime | None = when_column()


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


class HouseholdEvent(SQLModel, table=True):
    """The append-only history of verified households: each confirmation (by a worker, or a
    household code) and each undoing of one (by a worker, with the reason), who and when."""

    __tablename__ = "household_event"
    __table_args__ = (sa.Index("ix_household_event_person", "community_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    person_id: int = Field(foreign_key="person.id")
    kind: str = Field(max_length=20)  # "verified" or "undone"
    building_id: int = Field(foreign_key="building.id")
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    room: str = Field(max_length=50)
    via: str | None = Field(default=None, max_length=20)  # "worker" / "code" (verified)
    by_id: int | None = Field(default=None, foreign_key="person.id")  # the worker
    reason: str | None = Field(default=None, sa_type=sa.Text)
    at: datetime = created_column()


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
    at: datetime = created_column()


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
    created_at: datetime = created_column()


class RoleHandover(SQLModel, table=True):
    """The secretary offers their role to a worker; it changes hands when the worker accepts."""

    __tablename__ = "role_handover"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    from_person_id: int = Field(foreign_key="person.id")
    to_person_id: int = Field(foreign_key="person.id")
    created_at: datetime = created_column()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = when_column()
    declined_at: datetime | None = when_column()
    cancelled_at: datetime | None = when_column()


class Heartbeat(SQLModel, table=True):
    """Liveness shared by every instance: `update` (the last processed update) and one
    `instance:<host>:<pid>:<id>` row per running bot process (see storage/health.py)."""

    name: str = Field(max_length=120, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class ContactLook(SQLModel, table=True):
    """A worker revealed a resident's phone number outside an issue (the /log search): who,
    whose, when. A look from an issue card is that issue's `contact_shown` event instead."""

    __tablename__ = "contact_look"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    person_id: int = Field(foreign_key="person.id", index=True)  # whose phone
    actor_id: int = Field(foreign_key="person.id")  # who looked
    via: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class CalendarFeed(SQLModel, table=True):
    """A secret calendar address (storage/calendars.py): the community's (person_id None) or a
    worker's own. The token is the whole secret; a revoked feed answers 404 for ever."""

    __tablename__ = "calendar_feed"
    __table_args__ = (sa.Index("ix_calendar_feed_token", "token", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64)
    community_id: int = Field(foreign_key="community.id")
    person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = created_column()
    revoked_at: datetime | None = when_column()
