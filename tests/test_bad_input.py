"""The bad-input campaign: thousands of generated updates of every kind, from residents, staff,
strangers and people who blocked the bot, in private chats and the staff group.

Invariants: nothing crashes the bot (no update ends as a failed inbox row, and it still answers
afterwards), the bot's own formatting causes no Bot API 400, and nobody gains rights they were
not given. The generator is seeded (FUZZ_SEED, printed on failure) so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable

from sqlmodel import func, select

from emulator import BotApiEmulator
from emulator.driver import GroupDriver, UserDriver
from storage.db import Database
from storage.models import InboxStatus, InboxUpdate, InviteLink, Membership, Role
from tests.factories import FakeClock, make_community, make_invite_token, running_bot

SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
UPDATES = int(os.environ.get("FUZZ_UPDATES", "3000"))

SPECIALS = "<>&\"'*_[]()~`#+-=|{}.!\\/@%$^;:?,，。！？《》【】「」"
WORDS = [
    "楼道灯坏了",
    "漏水",
    "<b>",
    "</i>",
    "&amp;",
    "&lt;",
    "a & b",
    "<script>",
    "*bold*",
    "_it_",
    "`code`",
    "[link](x)",
    "@notebook_bot",
    "👍🏽",
    "👨‍👩‍👧",
    "\u200b",
    "\n",
    "\t",
]
COMMANDS = [
    "/start",
    "/help",
    "/language",
    "/invite",
    "/report",
    "/my",
    "/profile",
    "/todo",
    "/issue",
    "/bind",
    "/log",
    "/cancel",
    "/digest",
    "/notebook",
    "/export",
    "/propose",
    "/duty",
    "/mydata",
    "/forget",
    "/staff",
    "/nonsense",
    "/start@notebook_bot",
    "/start@other_bot",
]
PREFIXES = ["lang:", "join:", "inv:", "rp:", "c:", "my:", "fu:", "x:", ""]


def random_text(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.05:
        return rng.choice(["", " ", "\n"])  # Telegram never sends empty text; the bot may
    if shape < 0.1:  # the longest message Telegram delivers, full of specials
        return "".join(rng.choice(SPECIALS + "楼道灯坏了") for _ in range(4096))
    parts = [
        rng.choice(WORDS) if rng.random() < 0.5 else rng.choice(SPECIALS)
        for _ in range(rng.randint(1, 12))
    ]
    text = "".join(parts).strip() or "?"
    if rng.random() < 0.3:
        text = rng.choice(COMMANDS) + " " + text
    return text[:4096]


def random_callback(rng: random.Random) -> str:
    body = rng.choice(PREFIXES) + rng.choice(
        [
            str(rng.randint(-5, 10**9)),
            "zh_Hans",
            "en",
            "w",
            "r",
            "acc:1",
            "9" * 40,
            "".join(rng.choice(SPECIALS) for _ in range(rng.randint(1, 20))),
        ]
    )
    return body.encode()[:64].decode(errors="ignore") or "x"


async def _count(db: Database, model: type, *conditions: object) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(model)
        for condition in conditions:
            query = query.where(condition)  # type: ignore[arg-type]
        return int((await session.exec(query)).one())


async def test_thousands_of_bad_updates_change_nothing_they_should_not(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    rng = random.Random(SEED)
    community = await make_community(db, clock, name="邢家桥社区 <&>")
    resident_link = await make_invite_token(db, clock, community, Role.RESIDENT)
    staff_before = await _count(
        db,
        Membership,
        Membership.role.in_([Role.SECRETARY, Role.WORKER]),  # type: ignore[attr-defined]
    )
    invites_before = await _count(db, InviteLink)

    # Telegram's overall 30 messages a second would pace the bot's answers and make this test
    # about waiting; pacing has its own tests (test_dispatch.py, test_reminders.py).
    async with running_bot(emulator, db, clock, rate_limit_overall_per_second=100_000):
        people: list[UserDriver] = [
            emulator.user(
                first_name=f"居民{i} <b>&",
                language_code=rng.choice(["zh-hans", "en", "zh-TW", "ru", None]),
            )
            for i in range(12)
        ]
        for person in people[:6]:  # half of them joined as residents, half are strangers
            await person.send(f"/start {resident_link}")
        blocked = people[7]
        await blocked.send("/start")
        blocked.block_bot()  # answers to them fail with 403; they still speak in the group
        group: GroupDriver = emulator.group(title="工作群 <i>", members=[*people[:3], blocked])
        talkers = [p for p in people if p is not blocked]

        async def act() -> None:
            who = rng.choice(talkers)
            roll = rng.random()
            sent = [m for m in who.messages if m.buttons and not m.deleted]
            actions: list[Callable[[], Awaitable[object]]] = [
                lambda: who.send(random_text(rng)),
                lambda: who.send_photo(caption=random_text(rng)[:1024] or None),
                lambda: who.send_voice(duration=rng.randint(1, 600)),
                lambda: who.send_sticker(),
                lambda: who.send_document(
                    filename=rng.choice(["a.exe", "报告.pdf", "x"]),
                    mime_type="application/octet-stream",
                ),
                lambda: who.send_location(rng.uniform(-90, 90), rng.uniform(-180, 180)),
                lambda: who.share_contact(phone=rng.choice(["+8613800000000", "110", "<b>"])),
                lambda: group.send(rng.choice([who, blocked]), random_text(rng)),
                lambda: group.send(
                    rng.choice([who, blocked]), rng.choice(COMMANDS) + " " + random_text(rng)[:50]
                ),
            ]
            if roll < 0.15 and sent:
                message = rng.choice(sent)
                button = rng.choice([b for row in message.buttons for b in row])
                if button.callback_data:
                    await who.press_data(message, button.callback_data)
                return
            if roll < 0.25:
                target = rng.choice(sent) if sent else None
                if target is not None:
                    await who.press_data(target, random_callback(rng))
                    return
            await rng.choice(actions)()

        for _ in range(UPDATES):
            await act()
        # Updates are processed in order: once a newcomer's /language is answered, every
        # update before it has been handled, and the bot is still alive.
        sentinel = emulator.user(first_name="Sentinel", language_code="en")
        await sentinel.send("/language")
        await sentinel.expect_message(contains="Which language should I use?", timeout=300)

    handled = await _count(db, InboxUpdate, InboxUpdate.status == InboxStatus.DONE)
    assert handled > UPDATES // 2  # most updates reached the bot (privacy mode hides the rest)
    failed = await _count(db, InboxUpdate, InboxUpdate.status == InboxStatus.FAILED)
    assert failed == 0, f"handlers raised on {failed} updates (FUZZ_SEED={SEED})"
    bad = [e for e in emulator.errors if e.error_code == 400]
    assert bad == [], f"the bot caused Bad Requests (FUZZ_SEED={SEED}): {bad[:5]}"
    staff_after = await _count(
        db,
        Membership,
        Membership.role.in_([Role.SECRETARY, Role.WORKER]),  # type: ignore[attr-defined]
    )
    assert staff_after == staff_before, "someone gained a staff role without an invitation"
    assert await _count(db, InviteLink) == invites_before, "someone made invitations"
