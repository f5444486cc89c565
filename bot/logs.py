"""Logs an operator can search: one line per event, JSON on request, carrying the update id and
the issue id the update touched, and never what residents wrote or their phone numbers.

- `configure_logging(settings)` installs the one handler (text or `LOG_FORMAT=json`).
- `update_context(update)` (entered by `NotebookApplication.process_update`) puts the update id
  in a ContextVar; `watch_issues(session)` notes the issue the update's session reads or writes.
  Every record logged meanwhile carries both (`ContextFilter`).
- Privacy: python-telegram-bot logs whole updates and request parameters (message texts,
  shared phone numbers) at DEBUG, so the `telegram` loggers are held at INFO even when
  LOG_LEVEL=DEBUG; the notebook's own code logs ids, never texts. `RedactPhones` masks anything
  that still looks like a phone number in a formatted line, as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import phones, sessions

if TYPE_CHECKING:
    from runtime.settings import Settings

LOG_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("notebook_log_context", default=None)

# Third-party loggers and the most they may say. telegram.* logs texts and phones at DEBUG.
QUIET_LOGGERS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,  # every request URL, and the URL carries the bot token
    "httpcore": logging.WARNING,
    "sqlalchemy": logging.WARNING,  # statements with their parameters (drafts, texts) at INFO
    "apscheduler": logging.WARNING,  # "Running job …" every 30 seconds
    "aiohttp.access": logging.WARNING,
    "tornado.access": logging.WARNING,
    "aiosqlite": logging.INFO,
    "alembic.runtime.plugins": logging.WARNING,  # a line per plugin at every start
    "asyncio": logging.INFO,
}

REDACTED = "[phone]"


def redact_phones(text: str) -> str:
    return phones.mask_phones(text, REDACTED)


@contextmanager
def update_context(update: object) -> Iterator[dict[str, Any]]:
    """The log context of one update: its id now, the issue id once the session sees one."""
    update_id = getattr(update, "update_id", None)
    context: dict[str, Any] = {"update_id": update_id, "issue_id": None}
    token = LOG_CONTEXT.set(context)
    try:
        yield context
    finally:
        LOG_CONTEXT.reset(token)


def watch_issues(session: AsyncSession) -> None:
    """Note in the current log context which issue this session reads or writes (the session's
    listeners do it: storage/sessions.py)."""
    context = LOG_CONTEXT.get()
    if context is not None:
        sessions.watch_issues(session.sync_session, context)


class ContextFilter(logging.Filter):
    """Adds `update_id` and `issue_id` (None outside an update) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = LOG_CONTEXT.get() or {}
        record.update_id = context.get("update_id")
        record.issue_id = context.get("issue_id")
        return True


class RedactPhones(logging.Filter):
    """Masks phone-number-like text in the formatted message (and drops the args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_phones(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "issue_id"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = redact_phones(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = [
            f"{label}={getattr(record, key)}"
            for key, label in (("update_id", "update"), ("issue_id", "issue"))
            if getattr(record, key, None) is not None
        ]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)

    def formatException(self, ei: Any) -> str:
        return redact_phones(super().formatException(ei))


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the notebook's handler on the root logger (replacing any earlier one of ours)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "notebook", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.notebook = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactPhones())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level)
    root.setLevel(level)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, floor))
    return handler
