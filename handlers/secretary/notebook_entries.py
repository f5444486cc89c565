"""How a notebook entry reads: one red-pen line (an issue, how it came onto the period's page,
its status and clocks) or one black-pen line (a step staff took, an internal note saying so),
as plain text to escape for where it goes. Shared by the /notebook page
(handlers/secretary/notebook_page.py) and the printed notebook (documents.py), whose "for the
wall" mode hides phone numbers and residents' names.
"""

from __future__ import annotations

from datetime import datetime

from handlers.shared.fitting import clip
from handlers.shared.formats import short_day
from handlers.shared.issue_texts import title_text
from handlers.shared.labels import (
    category_label,
    followup_result_label,
    satisfaction_label,
    status_label,
)
from runtime.i18n import Translator
from storage.issue_lifecycle import Action
from storage.notebook import BlackEntry, RedEntry
from storage.period_issues import ResponseClock, Standing
from storage.phones import mask_phones

NAME_LIMIT = 30  # characters of a name (a building, an owner) on a line or a button


def _moment(tr: Translator, at: datetime, week: bool) -> str:
    if not week:
        return tr.time(at)
    return tr.gettext("{day} {time}").format(day=short_day(tr, at), time=tr.time(at))


def hide_phones(text: str | None) -> str:
    """For the wall: every phone number shown as its first three and last two digits
    (138****78), so nobody's phone is printed for the building to read."""
    return mask_phones(text or "", lambda phone: phone.number[:3] + "****" + phone.number[-2:])


def standing_tag(tr: Translator, entry: RedEntry) -> str:
    """New, reopened or carried over: how the issue came onto this period's page."""
    _ = tr.gettext
    if entry.standing is Standing.NEW:
        if entry.reopened_at is not None:
            reopened = short_day(tr, entry.reopened_at)
            return _("newly reported, reopened {date}").format(date=reopened)
        return _("newly reported")
    if entry.standing is Standing.REOPENED and entry.reopened_at is not None:
        return _("reopened {date}").format(date=short_day(tr, entry.reopened_at))
    return _("carried over, open since {date}").format(date=short_day(tr, entry.created_at))


def clock_tags(tr: Translator, entry: RedEntry) -> list[str]:
    """The response deadline while it runs (or once missed) and the completion due date, as
    they stood at the page's moment."""
    _ = tr.gettext
    tags = []
    if entry.respond_by is not None:
        if entry.response is ResponseClock.RUNNING:
            tags.append(_("reply due {when}").format(when=_moment(tr, entry.respond_by, True)))
        elif entry.response is ResponseClock.OVERDUE:
            tags.append(
                _("reply overdue since {when}").format(when=_moment(tr, entry.respond_by, True))
            )
        elif entry.response is ResponseClock.MISSED:
            tags.append(
                _("first reply late (due {when})").format(when=_moment(tr, entry.respond_by, True))
            )
    if entry.due_at is not None:
        if entry.overdue:
            tags.append(
                _("completion overdue since {date}").format(date=short_day(tr, entry.due_at))
            )
        else:
            tags.append(_("completion due {date}").format(date=short_day(tr, entry.due_at)))
    if entry.answer_by is not None:
        tags.append(
            _("transferred body's answer due {date}").format(date=short_day(tr, entry.answer_by))
        )
    return tags


def red_line(tr: Translator, entry: RedEntry, *, week: bool, cut: int, wall: bool = False) -> str:
    """One red-pen entry, as plain text (escape it for where it goes): the problem, then how it
    came onto the page, its status and its clocks. `wall`: phone numbers hidden."""
    _ = tr.gettext
    names = min(cut, NAME_LIMIT)
    state = status_label(tr, entry.status)
    if entry.owner:
        state = _("{status}, {owner}").format(status=state, owner=clip(entry.owner, names))
    # its title when it has one in words; a voice report's names its reporter (not on the wall)
    named = title_text(
        tr, entry.description, entry.summary, None if wall else clip(entry.reporter, names)
    )
    description = hide_phones(named) if wall else named
    values = {
        "number": entry.number,
        "building": clip(entry.building, names) or _("no building given"),
        "category": category_label(tr, entry.category),
        "text": clip(description, cut),
        "tags": _("; ").join([standing_tag(tr, entry), state, *clock_tags(tr, entry)]),
    }
    if entry.standing is Standing.NEW:
        return _("{time} No. {number} · {building} · {category}: {text} [{tags}]").format(
            time=_moment(tr, entry.created_at, week), **values
        )
    return _("No. {number} · {building} · {category}: {text} [{tags}]").format(**values)


def _due(tr: Translator, raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        return short_day(tr, datetime.fromisoformat(raw))
    except ValueError:
        return None


def black_line(
    tr: Translator, entry: BlackEntry, *, week: bool, cut: int, wall: bool = False
) -> str:
    """One black-pen entry, as plain text (escape it for where it goes). An internal note says
    so, in words distinct from a reply to the resident. `wall`: phone numbers hidden and a
    resident named as "a resident"."""
    line = _black_words(tr, entry, week=week, cut=cut, wall=wall)
    if not entry.public and Action(entry.kind) is not Action.PROGRESS:
        line = tr.gettext("{entry} (internal)").format(entry=line)
    return line


def _black_words(tr: Translator, entry: BlackEntry, *, week: bool, cut: int, wall: bool) -> str:
    _ = tr.gettext
    names = min(cut, NAME_LIMIT)
    data = entry.data
    text = clip(hide_phones(entry.text) if wall else entry.text, cut)
    actor = entry.actor if entry.actor_is_staff or not wall or not entry.actor else _("a resident")
    values: dict[str, object] = {
        "time": _moment(tr, entry.at, week),
        "number": entry.number,
        "actor": clip(actor, names) or _("the notebook"),
        "text": text,
    }
    kind = Action(entry.kind)
    if kind is Action.CLAIM:
        return _("{time} No. {number}: {actor} took it on").format(**values)
    if kind is Action.ASSIGN:
        owner_id = data.get("owner_id")
        owner = entry.named.get(owner_id) if isinstance(owner_id, int) else data.get("owner_group")
        values["owner"] = clip(str(owner or ""), names) or "—"
        if text:  # a reassignment says why
            return _("{time} No. {number}: {actor} gave it to {owner}: {text}").format(**values)
        return _("{time} No. {number}: {actor} gave it to {owner}").format(**values)
    if kind is Action.PLAN:
        due = _due(tr, data.get("due_at"))
        if due:
            return _("{time} No. {number}: plan by {actor}: {text} (by {due})").format(
                due=due, **values
            )
        return _("{time} No. {number}: plan by {actor}: {text}").format(**values)
    if kind is Action.PROGRESS:
        if entry.public:
            return _("{time} No. {number}: reply to the resident from {actor}: {text}").format(
                **values
            )
        return _("{time} No. {number}: internal note from {actor}: {text}").format(**values)
    if kind is Action.RETURN:
        return _("{time} No. {number}: {actor} handed it back: {text}").format(**values)
    if kind is Action.TRANSFER:
        return _("{time} No. {number}: {actor} passed it on to {body}: {text}").format(
            body=clip(str(data.get("to") or ""), names), **values
        )
    if kind is Action.MERGE:
        return _("{time} No. {number}: {actor} merged it into No. {other}").format(
            other=data.get("into_number", "?"), **values
        )
    if kind is Action.RESOLVE:
        return _("{time} No. {number}: resolved by {actor}: {text}").format(**values)
    if kind is Action.REOPEN:
        if text:
            return _("{time} No. {number}: reopened: {text}").format(**values)
        return _("{time} No. {number}: reopened, no reason given").format(**values)
    result = str(data.get("result") or "")
    if kind is Action.FOLLOW_UP and result:
        return _("{time} No. {number}: follow-up: {result}, {satisfaction}").format(
            result=followup_result_label(tr, result),
            satisfaction=satisfaction_label(tr, data.get("satisfaction")) or "—",
            **values,
        )
    return _("{time} No. {number}: {text}").format(**values)
