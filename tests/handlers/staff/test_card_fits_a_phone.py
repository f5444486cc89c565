"""A card fits a phone: at most 12 lines and 6 buttons in every state, with everything it
holds (a long text over several lines, photos and files, a map pin, a phone number, a plan,
a note, a reopening, a blocked reporter, neighbours' support), in both languages; every action
of the state is still there, one "More…" further (pressed through the emulator:
test_staff_card_flow.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

import pytest

from emulator import BotApiEmulator
from handlers.staff import cards
from handlers.staff.cards import CARD_BUTTONS, CARD_LINES, MORE, card_pages, render_card
from runtime.buttons import Button
from runtime.i18n import I18n
from storage.db import Database
from storage.models import (
    Channel,
    Community,
    Difficulty,
    Issue,
    IssueEvent,
    IssueStatus,
    Person,
    Urgency,
)
from storage.staff import CardFacts
from tests.factories import FakeClock, bot_errors, running_bot
from tests.staffroom import bind, post_cards, report, staffroom

CQ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
I18N = I18n(default_locale="zh_Hans")
LONG = "\n".join(f"第{n}行：楼道的灯坏了，晚上看不见台阶，老人上下楼很危险。" for n in range(40))


def facts_for(status: IssueStatus, *, everything: bool) -> CardFacts:
    community = Community(id=1, name="邢家桥社区", staff_chat_id=-1001)
    reporter = Person(id=2, full_name="老许" * 60, phone="13800000000")
    owner = Person(id=3, full_name="李网格")
    if everything:
        reporter.unreachable_since = NOW - timedelta(days=1)
    issue = Issue(
        id=7,
        community_id=1,
        number=12,
        category="public_facilities",
        description=LONG if everything else "路灯坏了",
        status=status,
        urgency=Urgency.EMERGENCY if everything else Urgency.NORMAL,
        difficulty=Difficulty.COORDINATION if everything else None,
        channel=Channel.PHONE if everything else Channel.TELEGRAM,
        created_at=NOW - timedelta(days=3),
        respond_by=NOW + timedelta(hours=20),
        accepted_at=NOW - timedelta(days=2) if status is not IssueStatus.NEW else None,
        due_at=NOW + timedelta(days=2) if everything else None,
        resolved_at=NOW if status in (IssueStatus.RESOLVED, IssueStatus.CLOSED) else None,
        plan=("换灯泡\n再查线路 " * 30) if everything else None,
        support_count=9 if everything else 0,
        reopened_count=2 if everything else 0,
        transferred_to="供电所" * 20 if status is IssueStatus.TRANSFERRED else None,
        staff_message_id=55,
    )
    if everything:
        issue.latitude, issue.longitude = 29.56, 106.55
    note = IssueEvent(issue_id=7, kind="progress", text="物业说\n要订货 " * 40, at=NOW)
    reopen = IssueEvent(issue_id=7, kind="reopened", text="还是不亮\n" * 40, at=NOW)
    return CardFacts(
        issue=issue,
        community=community,
        building="1栋" * 20 if everything else "1栋",
        unit="2单元" if everything else None,
        reporter=reporter,
        owner=owner if status is not IssueStatus.NEW else None,
        photos=12 if everything else 0,
        media=13 if everything else 0,
        last_progress=note if everything else None,
        last_progress_by="李网格" if everything else None,
        merged_into_number=3 if status is IssueStatus.MERGED else None,
        last_reopen=reopen if everything else None,
    )


@pytest.mark.parametrize(
    ("status", "everything", "locale"),
    list(product(list(IssueStatus), (True, False), ("zh_Hans", "en"))),
)
def test_every_card_state_fits_a_phone(status: IssueStatus, everything: bool, locale: str) -> None:
    tr = I18N.translator(locale, CQ)
    facts = facts_for(status, everything=everything)
    text, markup = render_card(facts, tr, NOW)
    lines = text.split("\n")
    assert len(lines) <= CARD_LINES, "\n".join(lines)
    assert all(len(line) <= 400 for line in lines)  # each line bounded, a few phone lines at most
    pages = card_pages(facts, tr, was_cut=everything)
    shown: list[str] = []
    for page in pages:
        buttons = [button for row in page for button in row]
        assert len(buttons) <= CARD_BUTTONS, [b.text for b in buttons]
        assert all(len(row) <= 3 for row in page)  # a row fits a phone's width
        shown += [b.text for b in buttons if MORE.parse(str(b.callback_data)) is None]
    # nothing is lost by paging: every action and every information button is on some page
    every = [b.text for row in cards.action_rows(facts, tr) for b in row]
    every += [b.text for b in cards.info_row(facts, tr, everything)]
    assert sorted(shown) == sorted(every)
    if len(every) > CARD_BUTTONS:  # "More…" leads from each page to the next, and back
        assert markup is not None
        assert [b.text for row in markup.inline_keyboard for b in row][-1] in ("更多…", "More…")
        last = [b for row in pages[-1] for b in row][-1]
        assert MORE.parse(str(last.callback_data)) == (7, 0)
    else:
        assert len(pages) == 1


def test_the_main_actions_of_each_state_are_on_the_first_page() -> None:
    tr = I18N.translator("zh_Hans", CQ)
    first = {
        IssueStatus.NEW: {"受理", "认领", "派单…"},
        IssueStatus.IN_PROGRESS: {"定方案…", "内部备注…", "回复居民…", "办结…"},
        IssueStatus.RESOLVED: {"电话回访…", "重新办理…"},
    }
    for status, labels in first.items():
        _text, markup = render_card(facts_for(status, everything=True), tr, NOW)
        assert markup is not None
        assert labels <= {b.text for row in markup.inline_keyboard for b in row}, status


def test_more_is_a_button_of_the_codec() -> None:
    assert isinstance(MORE, Button) and MORE.parse(MORE.data(7, 2)) == (7, 2)


async def test_a_worker_pages_through_the_card_with_more(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    """In the group: six buttons at a time, "更多…" shows the next ones on the same card,
    "‹ 返回" the first ones again; the text stays; only staff may turn the page, and a
    forged press changes nothing."""
    room = await staffroom(emulator, db, clock)
    group, wang = room.group, room.wang
    async with running_bot(emulator, db, clock) as app:
        await bind(room)
        await report(
            emulator,
            db,
            clock,
            room.community,
            reporter_id=room.pid(room.xu),
            description=LONG,
            photos=2,
            location=(29.56, 106.55),
        )
        await post_cards(app, clock)
        card = await group.expect_message(contains="1号 · ")
        assert len(card.text.split("\n")) <= CARD_LINES
        first = card.button_texts()
        assert len(first) == CARD_BUTTONS and first[-1] == "更多…"
        assert {"受理", "认领", "派单…"} <= set(first)
        text = card.text

        await group.press(wang, card, "更多…")
        await group.expect_edit(card, predicate=lambda m: m.button_texts() != first)
        second = card.button_texts()
        assert len(second) <= CARD_BUTTONS and not set(second[:-1]) & set(first)
        assert card.text == text  # the card's text is not touched
        while card.button("‹ 返回") is None:
            await group.press(wang, card, "更多…")
            await group.expect_edit(card)
        assert {"并单…", "转办…"} <= set(card.button_texts())
        await group.press(wang, card, "‹ 返回")
        await group.expect_edit(card, predicate=lambda m: m.button_texts() == first)

        # a resident in the group cannot turn the page; a forged press elsewhere is stale
        group.set_member(room.xu)
        refused = await group.press(room.xu, card, "更多…")
        assert refused.show_alert and card.button_texts() == first
        forged = await group.press_data(wang, card, MORE.data(999, 1))  # no such issue
        assert forged.show_alert and card.button_texts() == first
    assert bot_errors(emulator) == []
