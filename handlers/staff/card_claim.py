"""Who owns an issue: accept, claim, difficulty, and assigning it (to a worker, or to a
volunteer team or self-governance group typed by name; 改派 asks for a reason)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, Message, Update

from handlers.shared.fallback import STALE
from handlers.staff.card_steps import (
    ask,
    ask_again,
    me,
    one_tap,
    respond_to_message,
    run_step,
    send_menu,
    typing_key,
)
from handlers.staff.cards import Access, mark_menu
from runtime.buttons import Button
from runtime.context import NotebookContext
from storage import issues as rules
from storage.chat_state import FlowState, clear_state
from storage.issue_lifecycle import Action
from storage.models import Difficulty, Role
from storage.staff import staff_members

OWNER = Button("card.owner", int, int)  # the issue, and the person chosen to own it
OWNER_GROUP = Button("card.ownergroup", int)  # a volunteer team or group, typed next


async def press_accept(update: Update, context: NotebookContext, access: Access) -> None:
    done = context.tr.gettext("No. {number} is accepted.").format(number=access.issue.number)
    await one_tap(update, context, access, Action.ACCEPT, rules.accept, done)


async def press_claim(update: Update, context: NotebookContext, access: Access) -> None:
    done = context.tr.gettext("No. {number} is yours now.").format(number=access.issue.number)
    await one_tap(update, context, access, Action.CLAIM, rules.claim, done)


async def press_difficulty(
    update: Update, context: NotebookContext, access: Access, difficulty: Difficulty
) -> None:
    done = context.tr.gettext("Saved.")
    await one_tap(
        update,
        context,
        access,
        Action.CLASSIFY,
        rules.classify,
        done,
        public=False,
        difficulty=difficulty,
    )


async def press_owner_menu(update: Update, context: NotebookContext, access: Access) -> None:
    _ = context.tr.gettext
    issue = access.issue
    rows = []
    for person, role in (await staff_members(context.session, access.community.id or 0))[:30]:
        if person.id is None or person.id == issue.owner_id:
            continue
        label = person.full_name[:40] or str(person.id)
        if role is Role.SECRETARY:
            label = _("{name} (secretary)").format(name=label)
        rows.append(
            [InlineKeyboardButton(label, callback_data=OWNER.data(access.issue_id, person.id))]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("A volunteer team or group…"), callback_data=OWNER_GROUP.data(access.issue_id)
            )
        ]
    )
    await send_menu(update, context, access, _("{worker}, who should own No. {number}?"), rows)


async def press_owner(
    update: Update, context: NotebookContext, access: Access, person_id: int
) -> None:
    query = update.callback_query
    assert query is not None
    _ = context.tr.gettext
    issue = access.issue
    staff = {p.id: p for p, _role in await staff_members(context.session, access.community.id or 0)}
    owner = staff.get(person_id)
    if owner is None or owner.id is None:  # not staff (forged), or no longer staff
        await query.answer(_(STALE), show_alert=True)
        return
    if owner.id == issue.owner_id:
        await query.answer(
            _("{name} already owns No. {number}.").format(
                name=owner.full_name, number=issue.number
            ),
            show_alert=True,
        )
        return
    await mark_menu(query, owner.full_name)
    if issue.owner_id is not None or issue.owner_group is not None:  # 改派 needs a reason
        await query.answer()
        await ask(
            update,
            context,
            access,
            "reassign_reason",
            owner_id=owner.id,
            owner_label=owner.full_name,
        )
        return
    done = _("{name} now owns No. {number}.").format(name=owner.full_name, number=issue.number)
    await one_tap(update, context, access, Action.ASSIGN, rules.assign, done, owner_id=owner.id)


async def press_owner_group(update: Update, context: NotebookContext, access: Access) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await mark_menu(query, context.tr.gettext("A volunteer team or group…"))
    await ask(update, context, access, "group_name")


async def _assign(
    update: Update,
    context: NotebookContext,
    access: Access,
    message: Message,
    *,
    owner_id: int | None,
    owner_group: str | None,
    label: str,
    reason: str | None,
) -> None:
    issue = access.issue
    await run_step(
        update,
        context,
        access,
        Action.ASSIGN,
        lambda: rules.assign(
            context.session,
            issue,
            owner_id=owner_id,
            owner_group=owner_group,
            reason=reason,
            actor_id=me(context),
            now=context.now(),
        ),
        respond=respond_to_message(context, message),
        done=context.tr.gettext("{name} now owns No. {number}.").format(
            name=label, number=issue.number
        ),
        public=True,
    )


async def answer_group_name(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    _ = context.tr.gettext
    name = " ".join(text.split())[:200]
    if not name:
        await ask_again(update, context, access, state, _("Please write the group's name."))
        return
    issue = access.issue
    if issue.owner_id is not None or issue.owner_group is not None:
        await ask(update, context, access, "reassign_reason", owner_group=name, owner_label=name)
        return
    await _assign(
        update, context, access, message, owner_id=None, owner_group=name, label=name, reason=None
    )


async def answer_reassign_reason(
    update: Update, context: NotebookContext, access: Access, state: FlowState, text: str
) -> None:
    message = update.effective_message
    assert message is not None
    if not text:
        await ask_again(update, context, access, state, context.tr.gettext("Please give a reason."))
        return
    owner_id = state.data.get("owner_id")
    owner_group = state.data.get("owner_group")
    if owner_id is not None:
        staff = {
            p.id for p, _role in await staff_members(context.session, access.community.id or 0)
        }
        if owner_id not in staff:  # no longer staff since the menu was shown
            owner_id = None
    if (owner_id is None) == (owner_group is None):
        chat_id, user_id = typing_key(update)
        await clear_state(context.session, chat_id=chat_id, user_id=user_id)
        await message.reply_text(context.tr.gettext(STALE))
        return
    await _assign(
        update,
        context,
        access,
        message,
        owner_id=owner_id,
        owner_group=owner_group,
        label=str(state.data.get("owner_label", "")),
        reason=text,
    )
