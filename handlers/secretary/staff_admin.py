"""/staff: the secretary manages the community's workers (private chat only).

A worker who left is deactivated: the secretary chooses where their items go (back to the
secretary's queue, or to another worker) and confirms; storage/turnover.py moves every item with
an event, ends the membership (so every rights check fails for them from then on) and revokes
their unused links. The secretary's role is handed over by asking a worker, who accepts or
declines with buttons on a message sent through the outbox.

Every step is a button whose data carries only ids (runtime/buttons.py); each press re-checks on
the server that the presser is the secretary (or, for the answer, the worker asked) and that the
worker is still an active worker, so a stale or forged press changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler

from handlers.shared.commands import refresh_private_menu
from handlers.shared.common import escape
from handlers.shared.fallback import answer_stale
from handlers.shared.offices import SECRETARY, community_as, private_command_as
from runtime.buttons import Button
from runtime.context import NotebookContext
from runtime.i18n import Translator
from runtime.rendering import Rendered, Renderers
from storage import turnover
from storage.issue_lifecycle import IssueError
from storage.models import Community, Issue, Outbox, Person, RoleHandover
from storage.turnover import Refusal, StaffRefusal

log = logging.getLogger(__name__)

LIST = Button("st.list")  # the workers
WORKER = Button("st.worker", int)  # <person>: one worker's page
DEACTIVATE = Button("st.leave", int)  # <person>: where do their items go?
CONFIRM = Button("st.confirm", int, int)  # <person>, <to person, 0 = my queue>
EXECUTE = Button("st.execute", int, int)  # <person>, <to person, 0 = my queue>
HANDOVER = Button("st.handover", int)  # <person>: confirm asking them to take over
OFFER = Button("st.offer", int)  # <person>: ask them
ANSWER = Button("st.answer", ("y", "n"), int)  # accept or decline, <handover>: the worker's answer
STEPS = (WORKER, DEACTIVATE, CONFIRM, EXECUTE, HANDOVER, OFFER)
NUMBERS_SHOWN = 30  # issue numbers listed in one message; the rest are counted


def issue_numbers(tr: Translator, issues: Sequence[Issue]) -> str:
    _ = tr.gettext
    shown = _(", ").join(_("No. {number}").format(number=i.number) for i in issues[:NUMBERS_SHOWN])
    if len(issues) > NUMBERS_SHOWN:
        shown += " " + _("and {count} more").format(count=len(issues) - NUMBERS_SHOWN)
    return shown


async def _list_page(
    context: NotebookContext, community: Community
) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context.tr.gettext
    assert community.id is not None
    workers = await turnover.list_workers(context.session, community_id=community.id)
    lines = [_("Staff of {community}.").format(community=escape(community.name))]
    offer = await turnover.pending_offer(context.session, community_id=community.id)
    if offer is not None and turnover.offer_is_open(offer, context.now()):
        asked = await context.session.get(Person, offer.to_person_id)
        lines.append(
            _("Waiting for {name} to accept the secretary role (until {until}).").format(
                name=escape(asked.full_name if asked else ""),
                until=context.tr.datetime(offer.expires_at, "short"),
            )
        )
    if not workers:
        lines.append(_("There are no community workers yet. Send /invite to invite one."))
        return "\n".join(lines), None
    lines.append(_("Choose a worker:"))
    buttons = [
        [
            InlineKeyboardButton(
                _("{name} ({count} items)").format(name=w.person.full_name, count=w.items),
                callback_data=WORKER.data(w.person.id or 0),
            )
        ]
        for w in workers[:50]
    ]
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


async def staff_menu(update: Update, context: NotebookContext) -> None:
    _ = context.tr.gettext
    asked = await private_command_as(
        update, context, SECRETARY, _("Only the community secretary can manage the staff.")
    )
    if asked is None:
        return
    message, community = asked
    text, markup = await _list_page(context, community)
    await message.reply_text(text, reply_markup=markup)


def _back(context: NotebookContext, data: str) -> list[InlineKeyboardButton]:
    """« Back to the page whose button data is `data`."""
    return [InlineKeyboardButton(context.tr.gettext("« Back"), callback_data=data)]


async def _worker_page(
    context: NotebookContext, community: Community, worker: Person
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    assert community.id is not None and worker.id is not None
    items = await turnover.items_of(context.session, community_id=community.id, person_id=worker.id)
    text = _("{name}, community worker.").format(name=escape(worker.full_name))
    if items:
        text += "\n" + _("Their items ({count}): {numbers}").format(
            count=len(items), numbers=issue_numbers(context.tr, items)
        )
    else:
        text += "\n" + _("They have no open items.")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("They have left: deactivate"), callback_data=DEACTIVATE.data(worker.id)
                )
            ],
            [
                InlineKeyboardButton(
                    _("Hand the secretary role to them"), callback_data=HANDOVER.data(worker.id)
                )
            ],
            _back(context, LIST.data()),
        ]
    )
    return text, markup


async def _destination_page(
    context: NotebookContext, community: Community, worker: Person
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    assert community.id is not None and worker.id is not None
    items = await turnover.items_of(context.session, community_id=community.id, person_id=worker.id)
    if not items:
        return await _confirm_page(context, community, worker, None)
    others = [
        w
        for w in await turnover.list_workers(context.session, community_id=community.id)
        if w.person.id != worker.id
    ]
    rows = [[InlineKeyboardButton(_("Back to my queue"), callback_data=CONFIRM.data(worker.id, 0))]]
    rows += [
        [
            InlineKeyboardButton(
                _("To {name}").format(name=w.person.full_name),
                callback_data=CONFIRM.data(worker.id or 0, w.person.id or 0),
            )
        ]
        for w in others[:30]
    ]
    rows.append(_back(context, WORKER.data(worker.id)))
    text = _("Where should the {count} items of {name} go?").format(
        count=len(items), name=escape(worker.full_name)
    )
    return text, InlineKeyboardMarkup(rows)


async def _confirm_page(
    context: NotebookContext, community: Community, worker: Person, to: Person | None
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    assert community.id is not None and worker.id is not None
    items = await turnover.items_of(context.session, community_id=community.id, person_id=worker.id)
    text = _(
        "Deactivate {name}? They will no longer be able to use the notebook for {community}, "
        "and their unused invitation links stop working."
    ).format(name=escape(worker.full_name), community=escape(community.name))
    if items:
        target = escape(to.full_name) if to else _("your queue")
        text += "\n" + _("Their {count} items go to {target}.").format(
            count=len(items), target=target
        )
    to_id = to.id if to else 0
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, deactivate"), callback_data=EXECUTE.data(worker.id or 0, to_id or 0)
                )
            ],
            [InlineKeyboardButton(_("Cancel"), callback_data=WORKER.data(worker.id or 0))],
        ]
    )
    return text, markup


async def _deactivate(
    context: NotebookContext, community: Community, worker: Person, to: Person | None
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    assert community.id is not None and worker.id is not None
    result = await turnover.deactivate_worker(
        context.session,
        community_id=community.id,
        secretary_id=context.person.id or 0,
        worker_id=worker.id,
        to_person_id=to.id if to else None,
        # the reason recorded on each issue's history, as the secretary would have typed it
        reason=_("{name} has left the community office.").format(name=worker.full_name),
        now=context.now(),
    )
    removal = await turnover.remove_from_staff_group(
        context.session,
        community_id=community.id,
        worker_id=worker.id,
        secretary_id=context.person.id or 0,
        now=context.now(),
    )
    log.info(
        "worker %s deactivated by %s; %d items moved",
        worker.id,
        context.person.id,
        len(result.moved),
    )
    await refresh_private_menu(context, worker)  # back to a resident's menu
    text = _("{name} is deactivated.").format(name=escape(worker.full_name))
    if result.moved:
        target = escape(to.full_name) if to else _("your queue")
        text += "\n" + _("{count} items moved to {target}: {numbers}").format(
            count=len(result.moved), target=target, numbers=issue_numbers(context.tr, result.moved)
        )
    if result.revoked_links:
        text += "\n" + _("Unused invitation links withdrawn: {count}.").format(
            count=result.revoked_links
        )
    if removal:
        text += "\n" + _("I am removing them from the staff group; you can invite them back later.")
    return text, InlineKeyboardMarkup([_back(context, LIST.data())])


async def _handover_page(
    context: NotebookContext, community: Community, worker: Person
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    text = _(
        "Hand the secretary role of {community} to {name}? They must accept within 48 hours. "
        "After that you will be a community worker."
    ).format(community=escape(community.name), name=escape(worker.full_name))
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Yes, ask them"), callback_data=OFFER.data(worker.id or 0))],
            [InlineKeyboardButton(_("Cancel"), callback_data=WORKER.data(worker.id or 0))],
        ]
    )
    return text, markup


async def _offer(
    context: NotebookContext, community: Community, worker: Person
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.tr.gettext
    assert community.id is not None and worker.id is not None
    await turnover.offer_handover(
        context.session,
        community_id=community.id,
        secretary_id=context.person.id or 0,
        worker_id=worker.id,
        now=context.now(),
    )
    text = _("I have asked {name}. You will hear when they answer.").format(
        name=escape(worker.full_name)
    )
    return text, InlineKeyboardMarkup([_back(context, LIST.data())])


async def on_list(update: Update, context: NotebookContext) -> None:
    query = update.callback_query
    assert query is not None
    community = await community_as(context, SECRETARY)
    if community is None or community.id is None:
        await query.answer(
            context.tr.gettext("Only the community secretary can manage the staff."),
            show_alert=True,
        )
        return
    text, markup = await _list_page(context, community)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_press(update: Update, context: NotebookContext) -> None:
    """Every step button (`STEPS`): the secretary's pages and actions, each re-checked."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    community = await community_as(context, SECRETARY)
    if community is None or community.id is None:
        await query.answer(_("Only the community secretary can manage the staff."), show_alert=True)
        return
    button, ids = next(
        (step, values) for step in STEPS if (values := step.parse(query.data)) is not None
    )
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            worker, _membership = await turnover.require_worker(
                context.session, community_id=community.id, person_id=ids[0]
            )
            to = None
            if len(ids) == 2 and ids[1]:
                if ids[1] == ids[0]:
                    raise StaffRefusal(Refusal.SAME_PERSON)
                to, _membership = await turnover.require_worker(
                    context.session, community_id=community.id, person_id=ids[1]
                )
            if button is WORKER:
                text, markup = await _worker_page(context, community, worker)
            elif button is DEACTIVATE:
                text, markup = await _destination_page(context, community, worker)
            elif button is CONFIRM:
                text, markup = await _confirm_page(context, community, worker, to)
            elif button is EXECUTE:
                text, markup = await _deactivate(context, community, worker, to)
            elif button is HANDOVER:
                text, markup = await _handover_page(context, community, worker)
            else:
                text, markup = await _offer(context, community, worker)
    except StaffRefusal:
        await answer_stale(query, context)
        return
    except IssueError:  # someone changed one of the items meanwhile: nothing was saved
        await query.answer(
            _("Someone changed one of these items just now. Please try again."), show_alert=True
        )
        return
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def on_answer(update: Update, context: NotebookContext) -> None:
    """The worker asked to become secretary presses Accept or Decline."""
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    choice, handover_id = ANSWER.values(update)
    try:
        async with context.session.begin_nested():  # a refused step undoes itself only
            offer = await turnover.answer_handover(
                context.session,
                handover_id=handover_id,
                person_id=context.person.id or 0,
                accept=choice == "y",
                now=context.now(),
            )
    except StaffRefusal as refusal:
        if refusal.refusal is not Refusal.OFFER_EXPIRED:
            await answer_stale(query, context)
            return
        await query.answer(
            _("This request has expired. The secretary can ask again."), show_alert=True
        )
        return
    community = await context.session.get(Community, offer.community_id)
    name = escape(community.name if community else "")
    if offer.accepted_at is not None:
        await refresh_private_menu(context, context.person)  # the secretary's menu
        former = await context.session.get(Person, offer.from_person_id)
        if former is not None:
            await refresh_private_menu(context, former)
        text = _(
            "You are now the community secretary of {community}. Send /staff to see the workers "
            "and /invite to invite new ones."
        ).format(community=name)
    else:
        text = _("You declined. Nothing has changed.")
    await query.answer()
    await query.edit_message_text(text)


# --- outbox renderers ------------------------------------------------------------------------


async def _names(session: AsyncSession, offer: RoleHandover) -> tuple[str, str, str]:
    old = await session.get(Person, offer.from_person_id)
    new = await session.get(Person, offer.to_person_id)
    community = await session.get(Community, offer.community_id)
    return (
        escape(old.full_name if old else ""),
        escape(new.full_name if new else ""),
        escape(community.name if community else ""),
    )


async def render_offer(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    offer = await session.get(RoleHandover, row.payload.get("handover_id"))
    if offer is None or not turnover.offer_is_open(offer, row.due_at):
        return None
    _ = tr.gettext
    secretary, _worker, community = await _names(session, offer)
    text = _(
        "{secretary} asks you to take over as community secretary of {community}. The "
        "secretary manages the workers and invitations and gets the weekly digest. "
        "Please answer by {until}."
    ).format(secretary=secretary, community=community, until=tr.datetime(offer.expires_at, "short"))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Accept the role"), callback_data=ANSWER.data("y", offer.id or 0)
                ),
                InlineKeyboardButton(
                    _("Decline the role"), callback_data=ANSWER.data("n", offer.id or 0)
                ),
            ]
        ]
    )
    return Rendered(text, reply_markup=markup)


async def render_answer(session: AsyncSession, row: Outbox, tr: Translator) -> Rendered | None:
    offer = await session.get(RoleHandover, row.payload.get("handover_id"))
    if offer is None:
        return None
    _ = tr.gettext
    _secretary, worker, community = await _names(session, offer)
    if offer.accepted_at is not None:
        return Rendered(
            _(
                "{name} accepted: they are now the community secretary of {community}, and you "
                "are a community worker."
            ).format(name=worker, community=community)
        )
    if offer.declined_at is not None:
        return Rendered(
            _("{name} declined to take over as secretary. You remain the secretary.").format(
                name=worker
            )
        )
    return None


async def render_items_handed_over(
    session: AsyncSession, row: Outbox, tr: Translator
) -> Rendered | None:
    ids = [int(i) for i in row.payload.get("issue_ids", [])]
    issues = [issue for i in ids if (issue := await session.get(Issue, i)) is not None]
    issues = [i for i in issues if i.owner_id == row.person_id]  # still theirs
    if not issues:
        return None
    leaver = await session.get(Person, row.payload.get("from_person_id"))
    _ = tr.gettext
    return Rendered(
        _("{name} has left the community office. These items are now yours: {numbers}").format(
            name=escape(leaver.full_name if leaver else ""), numbers=issue_numbers(tr, issues)
        )
    )


def register(renderers: Renderers) -> None:
    renderers.register(turnover.HANDOVER_OFFER, render_offer)
    renderers.register(turnover.HANDOVER_ANSWER, render_answer)
    renderers.register(turnover.ITEMS_HANDED_OVER, render_items_handed_over)


HANDLERS = [
    CommandHandler("staff", staff_menu),
    LIST.handler(on_list),
    *(step.handler(on_press) for step in STEPS),
    ANSWER.handler(on_answer),
]
