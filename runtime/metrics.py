"""The bot's Prometheus metrics (docs/operations.md, "Metrics"), served at `/metrics` by the
health server (bot/health.py).

Counters and the digest's histogram count what this process did since it started; the inbox
and outbox gauges are read from the database at each scrape (`observe_queues`), so every
instance reports the same backlog. One registry of our own, not the client's global one: the
page shows the notebook's metrics and the process's, nothing a library registered by chance.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

UPDATES_HANDLED = Counter(
    "notebook_updates_handled",
    "Telegram updates handled and committed",
    registry=REGISTRY,
)
UPDATES_FAILED = Counter(
    "notebook_updates_failed",
    "Telegram updates whose handling failed and was rolled back (tried again later)",
    registry=REGISTRY,
)
INBOX_PENDING = Gauge(
    "notebook_inbox_pending",
    "Updates in the inbox not yet handled",
    registry=REGISTRY,
)
INBOX_OLDEST_AGE = Gauge(
    "notebook_inbox_oldest_pending_age_seconds",
    "Age of the oldest update in the inbox not yet handled (0 when none)",
    registry=REGISTRY,
)
OUTBOX_QUEUED = Gauge(
    "notebook_outbox_queued",
    "Outbox messages waiting to be sent or being sent, by kind",
    ["kind"],
    registry=REGISTRY,
)
OUTBOX_SENT = Counter(
    "notebook_outbox_sent",
    "Outbox messages Telegram took, by kind",
    ["kind"],
    registry=REGISTRY,
)
OUTBOX_FAILED = Counter(
    "notebook_outbox_failed",
    "Outbox messages given up on, by kind",
    ["kind"],
    registry=REGISTRY,
)
BOT_API_ERRORS = Counter(
    "notebook_bot_api_errors",
    "Bot API calls that failed, by HTTP status code ('network' when no answer came)",
    ["code"],
    registry=REGISTRY,
)
DIGEST_SECONDS = Histogram(
    "notebook_digest_duration_seconds",
    "Time to compute a digest (figures and the council's section), by how it was asked for",
    ["trigger"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)


def observe_queues(
    *,
    inbox_pending: int,
    inbox_oldest_age: float | None,
    outbox_queued: dict[str, int],
) -> None:
    """Set the gauges read from the database; kinds no longer queued drop to 0."""
    INBOX_PENDING.set(inbox_pending)
    INBOX_OLDEST_AGE.set(inbox_oldest_age or 0.0)
    seen = {labels[0] for labels in list(OUTBOX_QUEUED._metrics)}  # kinds reported before
    for kind in seen - set(outbox_queued):
        OUTBOX_QUEUED.labels(kind=kind).set(0)
    for kind, count in outbox_queued.items():
        OUTBOX_QUEUED.labels(kind=kind).set(count)


def exposition() -> bytes:
    """The metrics page in Prometheus's text format."""
    return generate_latest(REGISTRY)
