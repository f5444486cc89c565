"""Error reports to Sentry (or any Sentry-compatible service), only when SENTRY_DSN is set.

What leaves the machine is the error's type, where in the code it happened and the notebook's
ids; never what people wrote, their names, usernames or phone numbers. sentry-sdk is told not
to collect personal data or local variables, and `scrub` (its `before_send` and
`before_breadcrumb`) removes what could still carry them: the user, request bodies and
headers, "extra" data, frame variables, breadcrumbs' data, and in every message left (an
exception's text, a log line) anything shaped like a phone number, an e-mail address, an
@username, words in quotes, and any run of non-ASCII characters (the code's own words are
English; Chinese words came from people or places). Tested in tests/bot/test_error_reports.py.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from runtime.settings import Settings

log = logging.getLogger(__name__)

FILTERED = "[filtered]"
# A phone number (7 or more digits, with spaces, dashes, dots or a leading +), an @username,
# an e-mail address, and anything in quotes (Telegram echoes a refused text in quotes).
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_HANDLE = re.compile(r"@[A-Za-z0-9_]{3,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_QUOTED = re.compile(r"""(?<!\w)'[^']*'|"[^"]*"|[“「『‘][^”」』’]*[”」』’]""")
# Our code's words are English: anything else (Chinese, mostly) came from people or places.
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+(?:[\s\d,.:;!?-]*[^\x00-\x7f]+)*")
# Keys of the event that may hold personal data and are dropped whole.
_DROPPED = ("user", "request", "extra", "server_name")
# Of the contexts, only what describes the machine and the code is kept.
_KEPT_CONTEXTS = ("runtime", "os", "trace")


def scrub_text(text: str) -> str:
    """An error's or log line's text, without phone numbers, handles, addresses or quotes."""
    text = _EMAIL.sub(FILTERED, text)
    text = _HANDLE.sub(FILTERED, text)
    text = _QUOTED.sub(FILTERED, text)
    text = _NOT_ASCII.sub(FILTERED, text)
    return _PHONE.sub(FILTERED, text)


def _scrub_frames(frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        frame.pop("vars", None)
        # the lines of our code around the error are code, but a line of a test or a REPL
        # could hold a literal: keep only the line that failed
        frame.pop("pre_context", None)
        frame.pop("post_context", None)


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """sentry-sdk's before_send: the event with personal data removed (see the module doc)."""
    for key in _DROPPED:
        event.pop(key, None)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        event["contexts"] = {k: v for k, v in contexts.items() if k in _KEPT_CONTEXTS}
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = scrub_text(exception["value"])
        _scrub_frames((exception.get("stacktrace") or {}).get("frames") or [])
    for thread in (event.get("threads") or {}).get("values") or []:
        _scrub_frames((thread.get("stacktrace") or {}).get("frames") or [])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        if isinstance(logentry.get("message"), str):
            logentry["message"] = scrub_text(logentry["message"])
        if isinstance(logentry.get("formatted"), str):
            logentry["formatted"] = scrub_text(logentry["formatted"])
        logentry.pop("params", None)
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        scrub_breadcrumb(crumb)
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """sentry-sdk's before_breadcrumb: a breadcrumb keeps its category and scrubbed message."""
    crumb.pop("data", None)
    if isinstance(crumb.get("message"), str):
        crumb["message"] = scrub_text(crumb["message"])
    return crumb


def setup(settings: Settings) -> bool:
    """Start reporting errors when SENTRY_DSN is set; True when it was started."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        include_local_variables=False,
        include_source_context=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        # personal data is not collected by default (send_default_pii); scrub takes the rest
        before_send=scrub,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        # errors logged with log.error / log.exception become events; warnings breadcrumbs
        integrations=[LoggingIntegration(level=logging.WARNING, event_level=logging.ERROR)],
        default_integrations=True,
    )
    log.info("error reports go to Sentry (personal data scrubbed)")
    return True
