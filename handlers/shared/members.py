"""Small pieces the council, campaign and desk handlers share: who the person is in their
community, short safe excerpts of what people typed, and keeping replies within Telegram's size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from babel.dates import format_date
from telegram import CallbackQuery, Update

from handlers.shared.common import is_private
from handlers.shared.fallback import STALE
from handlers.shared.flows import state_in
from runtime.context import NotebookContext
from runtime.i18n import Translator
from storage.chat_state import FlowState
from storage.models import STAFF_ROLES, Community, Membership, Role
from storage.people import current_membership, membership

SAFE_LIMIT = 3900  # room for a closing line after a cut


@dataclass(frozen=True)
class Member:
    membership: Membership
    community: Community

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_secretary(self) -> bool:
        return self.role is Role.SECRETARY

    @property
    def community_id(self) -> int:
        assert self.community.id is not None
        return self.community.id


async def me(context: NotebookContext) -> Member | None:
    """The person's membership in the community they are acting in."""
    current = await current_membership(context.session, context.person)
    return Member(*current) if current is not None else None


async def me_in(context: NotebookContext, community_id: int) -> Member | None:
    """The person's membership in `community_id` (a button names a thing of that community)."""
    found = await membership(
        context.session, person_id=context.person.id or 0, community_id=community_id
    )
    if found is None:
        return None
    community = await context.session.get(Community, community_id)
    assert community is not None
    return Member(found, community)


def when_text(tr: Translator, moment: datetime) -> str:
    """A meeting or shift time as people say it: "Nov 5, 2026 (Thursday) 7:30 PM"."""
    local = moment.astimezone(tr.tz)
    weekday = format_date(local.date(), "EEEE", locale=tr.babel_locale)
    return tr.gettext("{date} ({weekday}) {time}").format(
        date=tr.date(moment), weekday=weekday, time=tr.time(moment)
    )


def percent(tr: Translator, share: Fraction | None) -> str:
    """An exact share shown as a percentage ("—" when there is nothing to divide by)."""
    return tr.percent(float(share)) if share is not None else "—"


def fit(lines: list[str], more: str) -> str:
    """Join lines, cutting before Telegram's 4096 characters; `more` (already translated, with
    {count}) says how many lines were left out."""
    out: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        if size + len(line) + 1 > SAFE_LIMIT:
            out.append(more.format(count=len(lines) - index))
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


async def private_only(update: Update, context: NotebookContext) -> bool:
    """Flows with typed answers run in the private chat; say so elsewhere."""
    if is_private(update):
        return True
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        context.tr.gettext("Please talk to me in a private chat.")
    )
    return False


async def refuse(query: CallbackQuery, context: NotebookContext, text: str | None = None) -> None:
    """A forged, stale or unauthorised press: an alert, and nothing changes."""
    await query.answer(text or context.tr.gettext(STALE), show_alert=True)


async def staff_press_here(
    update: Update, context: NotebookContext, refusal: str, *, secretary: bool = False
) -> tuple[CallbackQuery, int, Member] | None:
    """A press only staff (with `secretary`, only the secretary) may make, in the community
    they are acting in: the press, its chat and the presser's membership; or None once the
    press is refused with `refusal`."""
    query = update.callback_query
    assert query is not None and query.message is not None
    member = await me(context)
    if member is None or not (member.is_secretary if secretary else member.is_staff):
        await refuse(query, context, refusal)
        return None
    return query, query.message.chat.id, member


async def step_press(
    update: Update, context: NotebookContext, flow: str, step: str
) -> tuple[CallbackQuery, int, FlowState] | None:
    """A press on a button of `flow` at `step`: the press, its chat and the sender's state; or
    None once the press is refused (the sender's flow has moved on: an old message's button)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    state = await state_in(context, query.message.chat.id, flow, step)
    if state is None:
        await refuse(query, context)
        return None
    return query, query.message.chat.id, state
