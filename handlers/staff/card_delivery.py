"""Posting and refreshing the issue card: its one route through the outbox.

A card is posted by a STAFF_CARD row and edited in place by a CARD_REFRESH row, whether the
change was made outside the group (storage/notifications.py: `issue_changed`) or on the card
itself (`refresh_card`, sent right after the update's commit). Both render alike: a card with
no message yet is posted, one with a message is edited, so a card queued twice is still one
card; an edit that would change nothing is not sent (the card's digest); a card someone deleted
is posted again (REPOST); and an older copy of a card posted twice loses its buttons
(CARD_RETIRED). What the card shows is handlers/staff/cards.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    Bot,
    InlineKeyboardMarkup,
)

from handlers.staff.cards import render_card
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import REPOST, SKIP, Rendered, Renderers, Sent
from storage import outbox
from storage.models import (
    Community,
    Issue,
    Outbox,
)
from storage.notifications import CARD_REFRESH, CARD_RETIRED, STAFF_CARD, card_state_key
from storage.staff import card_facts, replace_card_message


def card_digest(text: str, markup: InlineKeyboardMarkup | None) -> str:
    """What a card shows, in 64 characters: equal digests mean an edit would change nothing."""
    shown = json.dumps([text, markup.to_dict() if markup else None], sort_keys=True)
    return hashlib.sha256(shown.encode()).hexdigest()


def _remember_card(
    row: Outbox, issue_id: int, digest: str, now: datetime
) -> Callable[[AsyncSession, Bot, Sent], Awaitable[None]]:
    async def after_send(session: AsyncSession, bot: Bot, message: Sent) -> None:
        older = await replace_card_message(session, issue_id, message.message_id, digest)
        if older is None:
            return
        # One card per issue in the group: an older copy keeps its text but loses its buttons,
        # so nobody acts on a card that no longer changes.
        await outbox.enqueue(
            session,
            chat_id=message.chat_id,
            kind=CARD_RETIRED,
            dedupe_key=f"card:{issue_id}:retired:{older}",
            due_at=now,
            payload={"issue_id": issue_id, "message_id": older},
            now=now,
            community_id=row.community_id,
            urgent=True,
        )

    return after_send


async def render_card_row(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """The card for a STAFF_CARD or CARD_REFRESH row: posted once, then edited in place. A card
    whose message was deleted is posted again (REPOST)."""
    issue = await session.get(Issue, row.payload.get("issue_id"))
    if issue is None or issue.id is None:
        return None
    facts = await card_facts(session, issue)
    if facts.community.staff_chat_id != row.chat_id:
        return None  # the community moved its staff group since this was queued
    # The dispatcher stamps the row with its clock when it claims it: the card's "time left" is
    # counted from then (the injected clock in tests, the real one in production).
    now = row.claimed_at or row.due_at
    text, markup = render_card(facts, tr, now)
    digest = card_digest(text, markup)
    after_send = _remember_card(row, issue.id, digest, now)
    if issue.staff_message_id is None:
        return Rendered(text, markup, after_send=after_send)
    if digest == issue.staff_card_digest:
        return None  # the card already shows exactly this
    return Rendered(
        text,
        markup,
        edit_message_id=issue.staff_message_id,
        after_send=after_send,
        when_gone=REPOST,
    )


async def render_card_retired(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    """An older copy of a card: what it showed, without buttons, and where the card is now."""
    issue = await session.get(Issue, row.payload.get("issue_id"))
    if issue is None:
        return None
    facts = await card_facts(session, issue)
    text, _markup = render_card(facts, tr, row.claimed_at or row.due_at)
    note = tr.gettext("This card was posted again below; use the newest one.")
    return Rendered(
        f"{text}\n\n<i>{note}</i>",
        None,
        edit_message_id=int(row.payload["message_id"]),
        when_gone=SKIP,
    )


def register(renderers: Renderers) -> None:
    # a new card and a refresh render alike: a card with no message yet is posted, one with a
    # message is edited (so a card queued twice is still one card)
    renderers.register(STAFF_CARD, render_card_row)
    renderers.register(CARD_REFRESH, render_card_row)
    renderers.register(CARD_RETIRED, render_card_retired)


async def refresh_card(context: NotebookContext, issue: Issue) -> None:
    """After a change made in the group: queue the card's refresh, the same CARD_REFRESH row a
    change made elsewhere queues. It is rendered just before the update's commit
    (delivery/dispatch.py: `claim_queued`, where an unchanged card is left alone) and sent
    right after it, so a card has one way to be posted and one to be refreshed."""
    community = await context.session.get(Community, issue.community_id)
    if community is None or community.staff_chat_id is None or issue.staff_message_id is None:
        return  # no card yet: the queued one will show the current state when it is posted
    now = context.now()
    await outbox.enqueue(
        context.session,
        chat_id=community.staff_chat_id,
        kind=CARD_REFRESH,
        dedupe_key=card_state_key(issue),  # once per state of the card, whoever queues it
        due_at=now,
        payload={"issue_id": issue.id},
        now=now,
        community_id=issue.community_id,
        urgent=True,  # an edit makes no sound: the group sees its own change at once, at night too
    )
