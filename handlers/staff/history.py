"""An issue's whole history as staff read it (internal notes included): one line per event,
with its time and who did it, packed into messages that fit Telegram's limit."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.shared.common import escape
from handlers.shared.fitting import telegram_length
from handlers.shared.issue_texts import marks
from handlers.shared.labels import channel_label, difficulty_label
from handlers.staff.cards import CHUNK, cut
from runtime.i18n import N_, Translator
from storage import clocks
from storage import issues as rules
from storage.clocks import ClockState
from storage.issue_lifecycle import RESIDENT_STEPS, Action
from storage.models import Channel, Issue, IssueEvent
from storage.staff import CONTACT_SHOWN, names

EVENT_TEXT_ON_LINE = 500  # a note longer than this is cut in the history (the card has it all)

FOLLOW_UP_RESULTS = {
    "solved": N_("solved"),
    "partly": N_("partly solved"),
    "not_solved": N_("not solved"),
}
SATISFACTION = {
    "satisfied": N_("satisfied"),
    "basic": N_("basically satisfied"),
    "dissatisfied": N_("dissatisfied"),
}


def _what(event: IssueEvent, tr: Translator, people: dict[int, str]) -> str:
    """What happened, in words (HTML: everything typed is escaped)."""
    _ = tr.gettext
    text = escape(cut(event.text or "", EVENT_TEXT_ON_LINE)[0])
    data = event.data or {}
    kind = event.kind
    if kind == CONTACT_SHOWN:
        return _("looked at the reporter's phone number")
    try:
        action = Action(kind)
    except ValueError:
        return escape(kind)
    if action is Action.REPORT:
        channel = data.get("channel") or Channel.TELEGRAM
        return _("reported it ({channel})").format(channel=channel_label(tr, channel))
    if action is Action.ACCEPT:
        return _("accepted it")
    if action is Action.CLASSIFY:
        return _("difficulty: {difficulty}").format(
            difficulty=difficulty_label(tr, data.get("difficulty") or "on_the_spot")
        )
    if action is Action.ASSIGN:
        owner_id = data.get("owner_id")
        owner = escape(people.get(owner_id, "") if owner_id else data.get("owner_group") or "")
        if data.get("reassigned"):
            return _("reassigned it to {owner}: {reason}").format(owner=owner, reason=text)
        return _("assigned it to {owner}").format(owner=owner)
    if action is Action.CLAIM:
        return _("took it on")
    if action is Action.PLAN:
        due = _due(data.get("due_at"))
        if due is None:
            return _("plan: {plan}").format(plan=text)
        return _("plan: {plan} · due {date}").format(plan=text, date=tr.date(due))
    if action is Action.PROGRESS:
        if event.public:
            return _("replied to the resident: {text}").format(text=text)
        return _("internal note: {text}").format(text=text)
    if action is Action.RETURN:
        return _("handed it back: {reason}").format(reason=text)
    if action is Action.TRANSFER:
        said = _("transferred it to {body}: {note}").format(
            body=escape(data.get("to") or ""), note=text
        )
        answer_by = _due(data.get("answer_by"))
        if answer_by is not None:
            said += " · " + _("their answer due {date}").format(date=tr.date(answer_by))
        return said
    if action is Action.MERGE:
        return _("merged it into No. {other}").format(other=data.get("into_number", ""))
    if action is Action.RESOLVE:
        return _("resolved it: {note}").format(note=text)
    if action is Action.REOPEN:
        said = _("reopened it: {reason}").format(reason=text) if text else _("reopened it")
        return said + marks(tr, data)
    if action is Action.FOLLOW_UP:
        result = FOLLOW_UP_RESULTS.get(data.get("result") or "", "")
        satisfaction = SATISFACTION.get(data.get("satisfaction") or "", "")
        words = _(", ").join(_(w) for w in (result, satisfaction) if w)
        said = _("follow-up: {answer}").format(answer=words) + (f" · {text}" if text else "")
        return said + marks(tr, data)
    if action is Action.CLOSE:
        return _("closed: no answer to the follow-up")
    if action is Action.WITHDRAW:
        return _("withdrew it: {reason}").format(reason=text)
    if action is Action.ADD_INFO:
        if text:
            said = _("added: {text}").format(text=text)
        elif data.get("latitude") is not None:  # a location only (my_issues.add_info)
            said = _("added where it is")
        else:
            said = _("added photos or a recording")
        return said + marks(tr, data)
    if action is Action.SUPPORT:
        if data.get("merged_from_number"):
            return _("the supporters of No. {other} joined").format(
                other=data["merged_from_number"]
            )
        said = _("said “me too”: {text}").format(text=text) if text else _("said “me too”")
        return said + marks(tr, data)
    return escape(kind)


def _due(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _response_mark(issue: Issue, tr: Translator, now: datetime) -> str:
    """Said once, on the step that stopped the response clock (答复时限): in time or how late."""
    clock = clocks.response_clock(issue, now)
    if clock.state is ClockState.MET:
        return " · ⏱ " + tr.gettext("reply-by time met")
    if clock.state is ClockState.MISSED:
        return " · ⏱ " + tr.gettext("reply-by time missed by {late}").format(
            late=tr.duration(clock.delta)
        )
    return ""


async def history_lines(
    session: AsyncSession, issue: Issue, tr: Translator, now: datetime
) -> list[str]:
    events = await rules.history(session, issue, public_only=False)
    people = await names(
        session, [e.actor_id for e in events] + [e.data.get("owner_id") for e in events]
    )
    stopped = clocks.responded_at(issue)
    marked = False
    lines = []
    for event in events:
        actor = escape(people.get(event.actor_id, "")[:100]) if event.actor_id else ""
        who = actor or tr.gettext("the notebook")
        line = f"{tr.datetime(event.at, 'short')} · <b>{who}</b> · {_what(event, tr, people)}"
        stops = event.kind not in RESIDENT_STEPS and event.at == stopped
        if not marked and stopped is not None and stops:
            line += _response_mark(issue, tr, now)
            marked = True
        lines.append(line)
    return lines


def pack_lines(header: str, lines: list[str], limit: int = CHUNK) -> list[str]:
    """Lines joined into as few messages as fit; the header starts the first."""
    messages: list[str] = []
    current = header
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if telegram_length(candidate) > limit and current:
            messages.append(current)
            current = line
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages
