"""A deactivated worker leaves the staff group: banned, then unbanned (in a supergroup a ban
keeps them out until lifted; lifted at once, they can be invited back later). The calls go out
through the outbox like a message (`Rendered.calls`, delivery/dispatch.py), after the commit
that deactivated them. If Telegram refuses (the bot is not an administrator allowed to ban
users, the leaver administers the group…), the secretary who deactivated them is told why and
what to do."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.shared.common import escape
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import outbox
from storage.models import Membership, Outbox, Person
from storage.turnover import REMOVAL_REFUSED, STAFF_REMOVAL


def _supergroup(chat_id: int) -> bool:
    """Supergroup ids are -100…; a basic group has no bans to lift (anyone may add them)."""
    return str(chat_id).startswith("-100")


async def render_removal(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    worker = await session.get(Person, row.payload.get("worker_id"))
    if worker is None or worker.telegram_user_id is None:
        return None  # forgotten meanwhile: nobody to name
    member = (
        await session.exec(
            select(Membership).where(
                Membership.person_id == worker.id, Membership.community_id == row.community_id
            )
        )
    ).first()
    if member is not None and member.active:
        return None  # back at work meanwhile
    user: dict[str, Any] = {"chat_id": row.chat_id, "user_id": worker.telegram_user_id}
    calls: list[tuple[str, dict[str, Any]]] = [("ban_chat_member", user)]
    if _supergroup(row.chat_id):
        calls.append(("unban_chat_member", {**user, "only_if_banned": True}))
    worker_id, secretary_id = row.payload.get("worker_id"), row.payload.get("secretary_id")

    async def refused(session: AsyncSession, why: str) -> None:
        secretary = await session.get(Person, secretary_id)
        if secretary is None or secretary.telegram_user_id is None:
            return
        await outbox.enqueue(
            session,
            chat_id=secretary.telegram_user_id,
            kind=REMOVAL_REFUSED,
            dedupe_key=f"leave-refused:{row.id}",
            due_at=row.claimed_at or row.due_at,
            payload={"worker_id": worker_id, "error": why[:300]},
            now=row.claimed_at or row.due_at,
            person_id=secretary.id,
            community_id=row.community_id,
            urgent=True,
        )

    return Rendered("", calls=tuple(calls), refused=refused)


async def render_refused(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    """To the secretary: the leaver is still in the staff group, why, and what to do."""
    _ = tr.gettext
    worker = await session.get(Person, row.payload.get("worker_id"))
    name = escape(worker.full_name if worker is not None else "?")
    error = str(row.payload.get("error") or "")
    if "rights" in error.lower() or "kicked" in error.lower() or "not a member" in error.lower():
        text = _(
            "I could not remove {name} from the staff group: I am not an administrator there "
            "with the right to ban users. Please give me that right in the group's settings, "
            "or remove {name} yourself: they can still read the cards."
        )
    elif "administrator" in error.lower() or "owner" in error.lower():
        text = _(
            "I could not remove {name} from the staff group: they are an administrator or the "
            "owner of it. Please remove them yourself: they can still read the cards."
        )
    else:
        text = _(
            "I could not remove {name} from the staff group (Telegram said: {error}). Please "
            "remove them yourself: they can still read the cards."
        )
    return Rendered(text.format(name=name, error=escape(error)))


def register(renderers: Renderers) -> None:
    renderers.register(STAFF_REMOVAL, render_removal)
    renderers.register(REMOVAL_REFUSED, render_refused)
