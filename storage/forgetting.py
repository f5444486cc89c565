"""/forget: every trace of a person, in every table, erased or scrubbed; the counts stay.

What happens to each piece of personal data is listed in docs/privacy.md (a test keeps that list
in step with the models). In short:

- The person's row stays as an anonymous placeholder (`ANONYMOUS_NAME`): the issues they
  reported, the "me too"s, follow-up answers and consent votes they gave still count, so the
  response, resolution and satisfaction rates and a campaign's verdict do not change.
- Words about a problem of the community (an issue's description, what was added to it and
  the captions of its photos, a council topic's title and description) stay without what
  identifies the person: their name, username and phone, and any phone number
  (`storage.privacy.redact`). Words only about them are erased: follow-up comments, reasons to
  withdraw or reopen, a vote's concerns, drafts. Voice messages, documents and shared locations
  they sent are deleted; photos of the problem stay.
- Staff words on their issues and topics (notes, plans, answers, decisions), the minutes of
  meetings they took part in and the mediations of campaigns they voted in lose the person's
  name, username and phone.
- Delivery records: the raw updates they sent, or that name them, are reduced to what
  idempotency needs (storage/inbox.py: `reduce_handled`); which bot message in their chat
  spoke of which issue, their conversation states (and anyone's that names them), and messages
  queued for them are deleted; the household they were verified for is dropped.

Active staff are refused (`StaffMustLeaveFirst`): the secretary deactivates them first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import chat_state, council, inbox, outbox, phones
from storage.issue_lifecycle import Action
from storage.models import (
    STAFF_ROLES,
    Attachment,
    CalendarFeed,
    ChatState,
    Community,
    ConsentHousehold,
    ConsentMediation,
    ConsentVoteLog,
    CouncilDecision,
    CouncilMeeting,
    CouncilTopic,
    FollowUp,
    HouseholdEvent,
    Issue,
    IssueEvent,
    IssueMessage,
    IssueSupporter,
    MediationHousehold,
    MeetingParticipant,
    Membership,
    Outbox,
    OutboxStatus,
    Person,
    Role,
    RoleHandover,
    TopicSupporter,
    VerifiedHome,
)
from storage.notifications import CARD_REFRESH, card_state_key
from storage.privacy import ANONYMOUS_NAME, REDACTED, redact

# Attachments that are the person rather than the problem: gone with them.
PERSONAL_ATTACHMENTS = frozenset({"voice", "document", "location"})
# Steps whose words are only the person's (not a description of the problem): erased.
THEIR_OWN_WORDS = frozenset({Action.FOLLOW_UP, Action.WITHDRAW, Action.REOPEN})


class StaffMustLeaveFirst(Exception):
    """An active secretary or worker cannot be forgotten; the secretary deactivates them."""

    def __init__(self, role: Role) -> None:
        super().__init__(f"active {role} cannot be forgotten")
        self.role = role


@dataclass(frozen=True)
class Forgotten:
    """What /forget kept, anonymously, and what it deleted (told to the person)."""

    issues: int  # issues they reported, kept without them
    supports: int  # "me too"s, still counted
    follow_ups: int  # follow-up answers, still in the satisfaction rate
    votes: int  # consent votes, still counted for their household
    topics: int  # council topics they raised, kept without them
    voice_messages: int  # voice messages, documents and locations deleted
    cards: int = 0  # staff cards edited to show the issue without them


@dataclass(frozen=True)
class Traces:
    """What identifies the person in free text and in raw updates."""

    words: list[str]  # name, username, @username, phone as stored
    phone_digits: str | None
    telegram_id: int | None
    phone_number: str | None = None  # canonical (storage/phones.py), as a text would read it

    def redact(self, text: str | None) -> str | None:
        """`text` without the person's words and without any phone number."""
        return redact(text, self.words)

    def remove(self, text: str | None) -> str | None:
        """`text` without the person's words and their phone (other numbers stay)."""
        if text is None:
            return None
        text = redact_words(text, self.words)
        if self.phone_number:
            number, source = self.phone_number, text

            def theirs(found: phones.Phone) -> str:
                return REDACTED if found.number == number else source[found.start : found.end]

            text = phones.mask_phones(text, theirs)
        return text

    def in_json(self, value: Any) -> bool:
        """Does this JSON (a raw update, a draft) mention the person?"""
        flat = json.dumps(value, ensure_ascii=False)
        if self.telegram_id is not None and re.search(rf"(?<!\d){self.telegram_id}(?!\d)", flat):
            return True
        if self.phone_digits and self.phone_digits[-8:] in re.sub(r"[\s.-]", "", flat):
            return True  # a shared contact's number, however Telegram spelled it
        if self.phone_number and any(
            found.number == self.phone_number for found in phones.find_phones(flat)
        ):
            return True  # typed in full-width digits, Chinese numerals…
        return redact_words(flat, self.words) != flat  # "Li" must not match "delivery"


def redact_words(text: str, words: Sequence[str]) -> str:
    """`text` without these words (longest first; an ASCII word only as a whole word)."""
    return redact(text, words, any_phone=False) or ""


def traces_of(person: Person) -> Traces:
    words = [
        w
        for w in (
            person.full_name,
            person.username,
            f"@{person.username}" if person.username else None,
            person.phone,
        )
        if w and w.strip() and w != ANONYMOUS_NAME
    ]
    digits = re.sub(r"\D", "", phones.scan_text(person.phone or "")) or None
    return Traces(
        words,
        digits if digits and len(digits) >= 8 else None,
        person.telegram_user_id,
        phones.index_form(person.phone) if person.phone else None,
    )


async def _ids(session: AsyncSession, query: Any) -> list[int]:
    return [i for i in (await session.exec(query)).all() if i is not None]


async def forget_person(
    session: AsyncSession, person: Person, *, now: datetime, update_id: int | None = None
) -> Forgotten:
    """Forget `person` (see the module doc); `update_id`: the update asking for it, whose raw
    payload goes in the same transaction."""
    assert person.id is not None
    memberships = list(
        (await session.exec(select(Membership).where(Membership.person_id == person.id))).all()
    )
    for m in memberships:
        if m.active and Role(m.role) in STAFF_ROLES:
            raise StaffMustLeaveFirst(Role(m.role))
    traces = traces_of(person)
    issues = await _forget_issues(session, person.id, traces)
    deleted = await _forget_attachments(session, person.id, issues, traces)
    topics = await _forget_council(session, person.id, traces, now=now)
    votes = await _forget_votes(session, person.id, traces)
    await _forget_delivery(session, person, traces, now=now, update_id=update_id)
    for m in memberships:
        m.active, m.unit_id, m.room = False, None, None
        session.add(m)
    await session.exec(delete(VerifiedHome).where(col(VerifiedHome.person_id) == person.id))
    # the history of household checks stays (a vote's weight was decided by it); a worker's
    # reason for undoing one may name the person
    for check in (
        await session.exec(select(HouseholdEvent).where(HouseholdEvent.person_id == person.id))
    ).all():
        check.reason = traces.remove(check.reason)
        session.add(check)
    await session.exec(delete(CalendarFeed).where(col(CalendarFeed.person_id) == person.id))
    await session.exec(
        update(MeetingParticipant)
        .where(col(MeetingParticipant.person_id) == person.id)
        .values(household=None)
    )
    await session.exec(
        update(RoleHandover)
        .where(
            or_(
                col(RoleHandover.from_person_id) == person.id,
                col(RoleHandover.to_person_id) == person.id,
            ),
            col(RoleHandover.accepted_at).is_(None),
            col(RoleHandover.declined_at).is_(None),
            col(RoleHandover.cancelled_at).is_(None),
        )
        .values(cancelled_at=now)
    )
    supports = await _ids(
        session, select(IssueSupporter.issue_id).where(IssueSupporter.person_id == person.id)
    )
    follow_ups = await _ids(session, select(FollowUp.id).where(FollowUp.actor_id == person.id))
    cards = await _refresh_cards(session, issues, now=now)
    person.full_name = ANONYMOUS_NAME
    person.username = None
    person.phone = None
    person.phone_index = None  # the blind index of it (storage/crypto.py)
    person.telegram_user_id = None
    person.telegram_language_code = None
    person.locale = None
    person.current_community_id = None
    person.unreachable_since = None
    person.anonymised_at = now
    session.add(person)
    await session.flush()
    return Forgotten(
        issues=len(issues),
        supports=len(supports),
        follow_ups=len(follow_ups),
        votes=votes,
        topics=topics,
        voice_messages=deleted,
        cards=cards,
    )


async def _refresh_cards(session: AsyncSession, issues: list[Issue], *, now: datetime) -> int:
    """The staff cards already posted show the person's name and words: edited at once (the
    card's own route, handlers/staff/card_delivery.py), at night too (an edit makes no sound).
    Returns how many."""
    queued = 0
    for issue in issues:
        community = await session.get(Community, issue.community_id)
        if community is None or community.staff_chat_id is None or not issue.staff_message_id:
            continue
        queued += await outbox.enqueue(
            session,
            chat_id=community.staff_chat_id,
            kind=CARD_REFRESH,
            dedupe_key=card_state_key(issue),
            due_at=now,
            payload={"issue_id": issue.id},
            now=now,
            community_id=issue.community_id,
            urgent=True,
        )
    return queued


async def _forget_issues(session: AsyncSession, person_id: int, traces: Traces) -> list[Issue]:
    """Their issues keep the problem without them; their own words elsewhere go."""
    reported = list((await session.exec(select(Issue).where(Issue.reporter_id == person_id))).all())
    for issue in reported:
        issue.description = traces.redact(issue.description) or ""
        issue.plan = traces.redact(issue.plan)
        issue.summary = traces.redact(issue.summary)  # its title (a voice report's summary)
        issue.public_summary = traces.redact(issue.public_summary)  # a worker's, published
        issue.transferred_to = traces.remove(issue.transferred_to)
        issue.latitude = issue.longitude = None  # where they shared it from: perhaps their home
        issue.version += 1  # the card changes: a new state to show (card_state_key)
        session.add(issue)
    reported_ids = [i.id for i in reported]
    events = await session.exec(
        select(IssueEvent).where(
            or_(
                col(IssueEvent.issue_id).in_(reported_ids),
                col(IssueEvent.actor_id) == person_id,
            )
        )
    )
    for event in events.all():
        if event.actor_id == person_id and event.kind in THEIR_OWN_WORDS:
            event.text = None  # a follow-up comment, a reason to withdraw or reopen
        else:  # the problem (their report, what they or staff added), without them
            event.text = traces.redact(event.text)
        session.add(event)
    return reported


async def _forget_attachments(
    session: AsyncSession, person_id: int, issues: list[Issue], traces: Traces
) -> int:
    """Photos stay, their captions without the person; voice messages, documents and
    locations they sent are deleted. Returns how many were deleted."""
    their_events = select(IssueEvent.id).where(IssueEvent.actor_id == person_id)
    reports = select(IssueEvent.id).where(
        col(IssueEvent.issue_id).in_([i.id for i in issues]), IssueEvent.kind == Action.REPORT
    )
    attachments = await session.exec(
        select(Attachment).where(
            or_(
                col(Attachment.event_id).in_(their_events),
                col(Attachment.event_id).in_(reports),
                col(Attachment.issue_id).in_([i.id for i in issues])
                & col(Attachment.event_id).is_(None),
            )
        )
    )
    deleted = 0
    for attachment in attachments.all():
        if attachment.kind in PERSONAL_ATTACHMENTS:
            await session.delete(attachment)
            deleted += 1
        else:
            attachment.caption = traces.redact(attachment.caption)
            session.add(attachment)
    return deleted


async def _edit_topic_cards(session: AsyncSession, topic_ids: list[int], *, now: datetime) -> None:
    """Topic cards already sent (to the staff group or the secretaries) show the proposer: each
    is edited at once, where its message id is still known (council.TOPIC_CARD_EDIT)."""
    if not topic_ids:
        return
    sent = await session.exec(
        select(Outbox).where(
            Outbox.kind == council.TOPIC_CARD, col(Outbox.status) == OutboxStatus.SENT
        )
    )
    for row in sent.all():
        if row.payload.get("topic_id") not in topic_ids or "message_id" not in row.payload:
            continue
        await outbox.enqueue(
            session,
            chat_id=row.chat_id,
            kind=council.TOPIC_CARD_EDIT,
            dedupe_key=f"topic:{row.payload['topic_id']}:forgotten:{row.id}",
            due_at=now,
            payload=row.payload,
            now=now,
            community_id=row.community_id,
            urgent=True,
        )


async def _forget_council(
    session: AsyncSession, person_id: int, traces: Traces, *, now: datetime
) -> int:
    """Topics they raised keep the matter without them; answers, decisions and minutes about
    them lose their name and phone. Returns how many topics they raised."""
    topics = list(
        (
            await session.exec(select(CouncilTopic).where(CouncilTopic.proposer_id == person_id))
        ).all()
    )
    for topic in topics:
        topic.title = (traces.redact(topic.title) or "")[:200]
        topic.description = traces.redact(topic.description) or ""
        topic.answer = traces.redact(topic.answer)
        session.add(topic)
    await _edit_topic_cards(session, [t.id for t in topics if t.id is not None], now=now)
    backed = select(TopicSupporter.topic_id).where(TopicSupporter.person_id == person_id)
    for decision in await session.exec(
        select(CouncilDecision).where(
            or_(
                col(CouncilDecision.topic_id).in_([t.id for t in topics]),
                col(CouncilDecision.topic_id).in_(backed),
            )
        )
    ):
        decision.text = traces.remove(decision.text) or ""
        session.add(decision)
    attended = select(MeetingParticipant.meeting_id).where(
        MeetingParticipant.person_id == person_id
    )
    for meeting in await session.exec(
        select(CouncilMeeting).where(col(CouncilMeeting.id).in_(attended))
    ):
        meeting.minutes = traces.remove(meeting.minutes)
        session.add(meeting)
    return len(topics)


async def _forget_votes(session: AsyncSession, person_id: int, traces: Traces) -> int:
    """A vote still counts for the household; its concerns go, and the person's name and phone
    leave the household's record, the vote log and the mediations. Returns for how many
    households they voted."""
    households = list(
        (
            await session.exec(
                select(ConsentHousehold).where(
                    or_(
                        col(ConsentHousehold.voted_by_id) == person_id,
                        col(ConsentHousehold.id).in_(
                            select(ConsentVoteLog.household_id).where(
                                ConsentVoteLog.cast_by_id == person_id
                            )
                        ),
                    )
                )
            )
        ).all()
    )
    for household in households:
        if household.voted_by_id == person_id:
            household.concerns = None
        household.owner_name = traces.remove(household.owner_name)
        session.add(household)
    logs = await session.exec(
        select(ConsentVoteLog).where(
            col(ConsentVoteLog.household_id).in_([h.id for h in households])
        )
    )
    voted: set[int] = set()
    for entry in logs.all():
        if entry.cast_by_id == person_id:
            entry.concerns = None
            voted.add(entry.household_id)
        entry.proxy_name = traces.remove(entry.proxy_name)
        entry.evidence = traces.remove(entry.evidence)
        session.add(entry)
    mediations = select(MediationHousehold.mediation_id).where(
        col(MediationHousehold.household_id).in_([h.id for h in households])
    )
    for mediation in await session.exec(
        select(ConsentMediation).where(col(ConsentMediation.id).in_(mediations))
    ):
        mediation.parties = traces.remove(mediation.parties) or ""
        mediation.positions = traces.remove(mediation.positions) or ""
        mediation.agreement = traces.remove(mediation.agreement) or ""
        session.add(mediation)
    return len(voted)


async def _forget_delivery(
    session: AsyncSession, person: Person, traces: Traces, *, now: datetime, update_id: int | None
) -> None:
    """Raw updates, remembered bot messages, conversation states and queued messages."""
    telegram_id = person.telegram_user_id
    await session.exec(delete(Outbox).where(col(Outbox.person_id) == person.id))
    if telegram_id is not None:
        await chat_state.clear_user(session, user_id=telegram_id)
        await session.exec(delete(ChatState).where(col(ChatState.chat_id) == telegram_id))
        await session.exec(delete(Outbox).where(col(Outbox.chat_id) == telegram_id))
        await session.exec(delete(IssueMessage).where(col(IssueMessage.chat_id) == telegram_id))
    # Someone else's draft that names them (a worker logging a call from them) is dropped.
    for state in (await session.exec(select(ChatState))).all():
        if traces.in_json(state.data):
            await chat_state.clear_state(session, chat_id=state.chat_id, user_id=state.user_id)
    mentioned = await inbox.handled_mentioning(session, traces.in_json)
    for start in range(0, len(mentioned), 500):
        await inbox.reduce_handled(session, update_ids=mentioned[start : start + 500], batch=500)
    if update_id is not None:
        await inbox.reduce_now(session, update_id)
