"""Control characters in what residents send: cleaned on arrival (storage/cleaning.py), so a
report with a NUL in it is filed on both databases, by polling and by webhook, and the offsets
of message entities still point at the same text. And when a statement fails anyway, its
error in the log carries none of what residents wrote (engines hide parameters)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import select

from bot.app import NotebookApplication
from bot.logs import JsonFormatter, TextFormatter
from emulator import BotApiEmulator
from storage.cleaning import clean_json, clean_parsed, clean_text
from storage.db import Database
from storage.models import InboxUpdate, Person, Role
from tests.factories import FakeClock, bot_errors, make_community, make_member, running_bot
from tests.resident_helpers import bind_staff_group, only_issue, report_with_taps
from tests.webhooks import running_webhook_bot

C0_REPLACED = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("The stairwell light is broken", "The stairwell light is broken"),
        ("lift\x00stuck", "lift stuck"),
        ("\x00\x00", "  "),
        (C0_REPLACED, " " * len(C0_REPLACED)),
        ("tab\there\nnew line\r\nCR LF", "tab\there\nnew line\r\nCR LF"),  # text, kept
        ("bell\x07 escape\x1b[31m red", "bell  escape [31m red"),
        ("delete\x7f and C1\x85 are stored by both", "delete\x7f and C1\x85 are stored by both"),
        ("lone surrogate \ud83d here", "lone surrogate \ufffd here"),
        ("a pair is one character 😀", "a pair is one character 😀"),
        ("楼道灯\x00坏了", "楼道灯 坏了"),
        ("", ""),
    ],
)
def test_clean_text(sent: str, kept: str) -> None:
    assert clean_text(sent) == kept
    assert _utf16_len(clean_text(sent)) == _utf16_len(sent)  # entity offsets stay right


def test_clean_text_returns_the_same_string_when_there_is_nothing_to_clean() -> None:
    text = "nothing to clean\n"
    assert clean_text(text) is text


def test_every_string_of_an_update_is_cleaned_keys_included() -> None:
    update: dict[str, Any] = {
        "update_id": 7,
        "message": {
            "from": {"id": 1, "is_bot": False, "first_name": "Lao\x00Xu"},
            "text": "water\x08leaking",
            "entities": [{"type": "bold", "offset": 0, "length": 5}],
            "odd\x01key": [["nested\x02", 3, 2.5, True, None]],
        },
    }
    before = json.dumps(update)
    cleaned = clean_json(update)
    assert cleaned == {
        "update_id": 7,
        "message": {
            "from": {"id": 1, "is_bot": False, "first_name": "Lao Xu"},
            "text": "water leaking",
            "entities": [{"type": "bold", "offset": 0, "length": 5}],
            "odd key": [["nested ", 3, 2.5, True, None]],
        },
    }
    assert json.dumps(update) == before  # the input is left as it was
    assert cleaned["message"]["entities"] is update["message"]["entities"]  # clean parts shared


def test_a_clean_update_is_handed_back_as_it_is() -> None:
    update = {"update_id": 8, "message": {"text": "楼道灯坏了 /report", "entities": []}}
    assert clean_json(update) is update


def test_entities_after_a_control_character_still_cover_their_text() -> None:
    text = "😀 Lift\x00 broken\x1b, see /report and https://example.org/lift"
    entities: list[dict[str, Any]] = [
        {"type": "bold", "offset": 3, "length": 12},  # "Lift\x00 broken"
        {"type": "bot_command", "offset": 22, "length": 7},
        {"type": "url", "offset": 34, "length": 24},
    ]
    message = clean_json({"text": text, "entities": entities})
    covered = [_utf16_slice(message["text"], e["offset"], e["length"]) for e in entities]
    assert covered == ["Lift  broken", "/report", "https://example.org/lift"]


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize(
    "value",
    [
        {"ok": True, "result": [{"update_id": 1, "message": {"text": "plain 楼道灯 😀"}}]},
        {"ok": True, "result": [{"update_id": 1, "message": {"text": "nul\x00"}}]},
        {"ok": True, "result": [{"update_id": 1, "message": {"text": "bs\b ff\f us\x1f"}}]},
        {"ok": True, "result": [{"update_id": 1, "message": {"text": "a backslash \\b"}}]},
        {"ok": True, "result": [{"update_id": 1, "message": {"te\x00xt": "in a key"}}]},
    ],
)
def test_a_getupdates_answer_is_cleaned_as_its_parse_would_be(
    value: Any, ensure_ascii: bool
) -> None:
    raw = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    parsed = json.loads(raw)
    assert clean_parsed(raw, parsed) == clean_json(parsed)


def test_a_lone_surrogate_escaped_in_the_raw_answer_is_cleaned() -> None:
    raw = b'{"ok": true, "result": [{"update_id": 1, "message": {"text": "x\\uD83D y"}}]}'
    cleaned = clean_parsed(raw, json.loads(raw))
    assert cleaned["result"][0]["message"]["text"] == "x\ufffd y"


def test_a_clean_getupdates_answer_is_not_walked() -> None:
    raw = json.dumps({"ok": True, "result": [{"update_id": 1, "message": {"text": "楼"}}]})
    parsed = json.loads(raw)
    assert clean_parsed(raw.encode(), parsed) is parsed


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_slice(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le", "surrogatepass")
    return units[offset * 2 : (offset + length) * 2].decode("utf-16-le", "surrogatepass")


Runner = Callable[..., AbstractAsyncContextManager[NotebookApplication]]


@pytest.fixture(params=["polling", "webhook"])
def running(request: pytest.FixtureRequest) -> Runner:
    """The bot as it runs in production, fed by getUpdates or by its webhook."""
    return running_bot if request.param == "polling" else running_webhook_bot


async def test_a_report_with_control_characters_is_filed_and_confirmed(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, running: Runner
) -> None:
    community = await make_community(db, clock)
    await bind_staff_group(db, community, emulator)
    # pasted from another app: a NUL and an escape in the text, a NUL in the name
    xu = emulator.user(first_name="Lao\x00Xu", language_code="en")
    async with db.session() as session:
        await make_member(session, community, Role.RESIDENT, name="Lao Xu", telegram_user_id=xu.id)
    async with running(emulator, db, clock):
        _taps, final = await report_with_taps(
            xu, "The lift\x00 stops\x1b between floors 3 and 4", "Public facilities"
        )
        assert "Your issue is No. 1." in final.text
    issue = await only_issue(db)
    assert issue.description == "The lift  stops  between floors 3 and 4"
    async with db.session() as session:
        stored = (await session.exec(select(InboxUpdate).order_by(InboxUpdate.update_id))).all()  # type: ignore[arg-type]
        person = (await session.exec(select(Person).where(Person.telegram_user_id == xu.id))).one()
    first = stored[0].payload["message"]
    assert first["text"] == "The lift  stops  between floors 3 and 4"
    assert first["from"]["first_name"] == "Lao Xu"
    assert all(row.status == "done" for row in stored)
    assert "\x00" not in person.full_name
    assert bot_errors(emulator) == []


NAME, PHONE, TEXT = "Xu Guilan", "13912345678", "the drain behind unit 4 smells of gas"


async def test_a_failing_statement_logs_no_resident_text_name_or_phone(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The statement that fails carries all three (a resident's update shared their contact);
    its error, logged as the error handler logs it, with SQLAlchemy's own statement log on
    too, shows none of them, by either of the notebook's log formats."""
    payload = {
        "update_id": 9,
        "message": {
            "from": {"id": 77, "is_bot": False, "first_name": NAME},
            "contact": {"phone_number": PHONE, "first_name": NAME, "user_id": 77},
            "caption": TEXT,
        },
    }
    async with db.session() as session:
        session.add(InboxUpdate(update_id=9, payload=payload, received_at=clock()))
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy")  # statements and their parameters
    with pytest.raises(IntegrityError) as failed:  # the same update_id again
        async with db.session() as session:
            session.add(InboxUpdate(update_id=9, payload=payload, received_at=clock()))
    logging.getLogger("handlers.shared.errors").error("update %s failed", 9, exc_info=failed.value)

    said = _logged(caplog, failed.value)
    assert any("inbox_update" in line for line in said)  # the statement is there
    for secret in (NAME, PHONE, TEXT):
        assert not [line for line in said if secret in line], secret
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(failed.value)


async def test_a_value_the_driver_cannot_encode_is_not_quoted_in_the_log(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncpg's own message quotes a parameter of the wrong type; that is hidden too."""
    if db.is_sqlite:
        pytest.skip("SQLite takes any value in any column: nothing to refuse")
    caplog.set_level(logging.INFO)
    with pytest.raises(DBAPIError) as failed:
        async with db.session() as session:
            connection = await session.connection()
            await connection.execute(text("SELECT CAST(:n AS integer)"), {"n": f"{NAME} {PHONE}"})
    logging.getLogger("handlers.shared.errors").error("update %s failed", 10, exc_info=failed.value)
    said = _logged(caplog, failed.value)
    assert any("invalid input for query argument $1" in line for line in said)
    for secret in (NAME, PHONE):
        assert not [line for line in said if secret in line], secret


FORMATTERS = (TextFormatter(), JsonFormatter())


def _logged(caplog: pytest.LogCaptureFixture, error: BaseException) -> list[str]:
    """Every record as each of the notebook's log formats writes it, the records' arguments,
    and the error's whole traceback (chained exceptions included)."""
    return [
        *(formatter.format(record) for record in caplog.records for formatter in FORMATTERS),
        *(repr(record.args) for record in caplog.records),
        "".join(traceback.format_exception(error)),
    ]
