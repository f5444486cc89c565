"""Error reports (bot/error_reports.py): off without SENTRY_DSN; with it, what leaves the machine
has no names, usernames, phone numbers, texts or local variables, only the error's type, where
in the code it happened and the notebook's ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from bot import error_reports
from runtime.settings import SettingsError, load_settings

RESIDENT_TEXT = "我是3栋2单元的王秀英，电话13812345678，楼道灯坏了"


class Captured(Transport):
    """A transport that keeps what would have been sent."""

    sent: ClassVar[list[dict[str, Any]]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                Captured.sent.append(item.payload.json)


@pytest.fixture
def reporting() -> Iterator[list[dict[str, Any]]]:
    Captured.sent = []
    settings = load_settings(
        _env_file=None, sentry_dsn="https://public@errors.example.org/1", database_url="sqlite://"
    )
    assert error_reports.setup(settings)
    client = sentry_sdk.get_client()
    client.transport = Captured(client.options)
    try:
        yield Captured.sent
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: reporting off again for the rest of the process


def test_off_without_a_dsn() -> None:
    assert not error_reports.setup(load_settings(_env_file=None, database_url="sqlite://"))
    with pytest.raises(SettingsError, match="SENTRY_DSN"):
        load_settings(_env_file=None, sentry_dsn="not a dsn")


def test_the_scrubber_removes_people_and_what_they_wrote() -> None:
    event: dict[str, Any] = {
        "message": f"could not handle 'x' from @wang_xiuying: {RESIDENT_TEXT}",
        "logentry": {"message": "text %s", "params": [RESIDENT_TEXT], "formatted": RESIDENT_TEXT},
        "user": {"id": 42, "username": "wang_xiuying", "ip_address": "10.0.0.1"},
        "request": {"data": {"text": RESIDENT_TEXT}, "headers": {"Cookie": "s"}},
        "extra": {"update": {"message": {"text": RESIDENT_TEXT}}},
        "server_name": "notebook-1",
        "contexts": {"runtime": {"name": "CPython"}, "person": {"phone": "13812345678"}},
        "exception": {
            "values": [
                {
                    "type": "BadRequest",
                    "value": 'Can\'t parse entities: "王秀英 <b>" call +86 138-1234-5678 '
                    "or mail wang@example.org",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "handlers/residents/report.py",
                                "function": "on_text",
                                "lineno": 120,
                                "vars": {"text": RESIDENT_TEXT, "phone": "13812345678"},
                                "pre_context": [f"text = '{RESIDENT_TEXT}'"],
                                "context_line": "await step(update)",
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {"message": f"sent {RESIDENT_TEXT}", "data": {"text": RESIDENT_TEXT}},
                {"message": "update 1234 handled in 12 ms", "category": "bot"},
            ]
        },
    }
    scrubbed = error_reports.scrub(event)
    text = json.dumps(scrubbed, ensure_ascii=False)
    for private in ("王秀英", "13812345678", "138-1234-5678", "wang_xiuying", "wang@example.org"):
        assert private not in text
    for gone in ("user", "request", "extra", "server_name"):
        assert gone not in scrubbed
    assert scrubbed["contexts"] == {"runtime": {"name": "CPython"}}
    exception = scrubbed["exception"]["values"][0]
    assert exception["type"] == "BadRequest"  # what and where stay
    assert exception["value"].startswith("Can't parse entities: [filtered]")
    frame = exception["stacktrace"]["frames"][0]
    assert frame["function"] == "on_text" and frame["lineno"] == 120
    assert "vars" not in frame and "pre_context" not in frame
    crumbs = scrubbed["breadcrumbs"]["values"]
    assert crumbs[1]["message"] == "update 1234 handled in 12 ms"  # ids stay
    assert all("data" not in crumb for crumb in crumbs)


def test_an_error_reaches_sentry_scrubbed(reporting: list[dict[str, Any]]) -> None:
    log = logging.getLogger("handlers.residents.report")

    def handle(text: str) -> None:
        phone = "13812345678"  # a local variable: never sent
        raise ValueError(f"could not parse {text!r} from {phone}")

    try:
        handle(RESIDENT_TEXT)
    except ValueError:
        log.exception("update %s failed", 1234)
    sentry_sdk.flush()
    assert len(reporting) == 1
    text = json.dumps(reporting[0], ensure_ascii=False)
    assert "ValueError" in text and "update 1234 failed" in text
    for private in ("王秀英", "13812345678", "楼道灯"):
        assert private not in text
