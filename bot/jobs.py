"""Scheduled work. Each job is a thin wrapper: the scheduler only triggers it, the work is
plain library code (storage/reminders.py, delivery/dispatch.py) that tests call with a given `now`.

APScheduler keeps no state of ours: no pickled jobs, and a late run (misfire) still runs and
catches up, because the work looks at the database, not at the time it was meant to run.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram.ext import ContextTypes

from delivery import dispatch
from delivery.inbox import DurableUpdateQueue
from handlers.residents import followup
from storage import inbox
from storage.escalation import plan_escalations
from storage.reminders import plan_reminders
from storage.roster import plan_duty_reminders

if TYPE_CHECKING:
    from bot.app import NotebookApplication

log = logging.getLogger(__name__)
CATCH_UP = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
# How often updates whose handling failed (or whose holder is gone) are looked for.
RETRY_SECONDS = 5


async def retry_updates(app: NotebookApplication) -> int:
    """Queue again the updates that are due another try (delivery/inbox.py: `retry_due`)."""
    queue = app.update_queue
    if not isinstance(queue, DurableUpdateQueue) or app.notebook.stopping.is_set():
        return 0
    try:
        return await queue.retry_due(app.bot)
    except Exception as exc:  # the database is down: the next run tries again
        log.warning("could not look for updates to try again: %s", type(exc).__name__)
        return 0


async def retry_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await retry_updates(app)


async def run_reminders(app: NotebookApplication) -> int:
    """Queue what has come due, then send it."""
    nb = app.notebook
    now = nb.clock()
    async with nb.db.session() as session:
        queued = await plan_reminders(session, now=now, policy=nb.settings.reminder_policy)
        queued += await plan_duty_reminders(session, now=now, hours=nb.settings.desk_hours)
        queued += await plan_escalations(session, now=now, policy=nb.settings.escalation_policy)
    await dispatch.dispatch_due(app, now=now)
    return queued


INBOX_KEEP = timedelta(days=7)
INBOX_FAILED_KEEP = timedelta(days=30)


async def housekeeping(app: NotebookApplication) -> int:
    """Reduce handled updates' payloads to what idempotency needs after INBOX_PAYLOAD_HOURS;
    forget handled updates after a week, and failed ones after a month (long enough for a
    person to look at them: `python -m bot status` counts them). Returns how many rows went."""
    nb = app.notebook
    now = nb.clock()
    cutoff = now - timedelta(hours=nb.settings.inbox_payload_hours)
    while True:  # in batches, each its own transaction
        async with nb.db.session() as session:
            if not await inbox.reduce_handled(session, processed_before=cutoff):
                break
    async with nb.db.session() as session:
        return await inbox.prune(
            session, processed_before=now - INBOX_KEEP, failed_before=now - INBOX_FAILED_KEEP
        )


async def housekeeping_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await housekeeping(app)


async def reminders_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    app: NotebookApplication = context.application  # type: ignore[assignment]
    await run_reminders(app)


def schedule(app: NotebookApplication) -> None:
    assert app.job_queue is not None
    minutes = app.notebook.settings.reminder_scan_minutes
    # First runs come one interval after start: what is due is found then (nothing is lost),
    # and tests that drive these functions by hand are not raced by the scheduler.
    app.job_queue.run_repeating(
        reminders_job,
        interval=minutes * 60,
        first=minutes * 60,
        name="reminders",
        job_kwargs=CATCH_UP,
    )
    app.job_queue.run_repeating(
        housekeeping_job, interval=3600, first=60, name="housekeeping", job_kwargs=CATCH_UP
    )
    app.job_queue.run_repeating(
        retry_job, interval=RETRY_SECONDS, first=RETRY_SECONDS, name="retry", job_kwargs=CATCH_UP
    )
    app.job_queue.run_repeating(  # closes issues whose follow-up nobody answered
        followup.sweep_job,
        interval=followup.SWEEP_SECONDS,
        first=followup.SWEEP_SECONDS,
        name="followups",
        job_kwargs=CATCH_UP,
    )
    dispatch.schedule(app)
