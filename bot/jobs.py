"""Scheduled work. Each job is a thin wrapper: the scheduler only triggers it, the work is
plain library code (storage/reminders.py, bot/dispatch.py) that tests call with a given `now`.

APScheduler keeps no state of ours: no pickled jobs, and a late run (misfire) still runs and
catches up, because the work looks at the database, not at the time it was meant to run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from telegram.ext import ContextTypes

from bot import dispatch
from handlers import followup
from storage import inbox
from storage.reminders import plan_reminders
from storage.roster import plan_duty_reminders

if TYPE_CHECKING:
    from bot.app import NotebookApplication

CATCH_UP = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


async def run_reminders(app: NotebookApplication) -> int:
    """Queue what has come due, then send it."""
    nb = app.notebook
    now = nb.clock()
    async with nb.db.session() as session:
        queued = await plan_reminders(session, now=now, policy=nb.settings.reminder_policy)
        queued += await plan_duty_reminders(session, now=now, hours=nb.settings.desk_hours)
    await dispatch.dispatch_due(app, now=now)
    return queued


INBOX_KEEP = timedelta(days=7)


async def housekeeping(app: NotebookApplication) -> int:
    """Forget processed updates after a week (failed ones stay for a person to look at)."""
    nb = app.notebook
    async with nb.db.session() as session:
        return await inbox.prune(session, processed_before=nb.clock() - INBOX_KEEP)


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
    app.job_queue.run_repeating(  # closes issues whose follow-up nobody answered
        followup.sweep_job,
        interval=followup.SWEEP_SECONDS,
        first=followup.SWEEP_SECONDS,
        name="followups",
        job_kwargs=CATCH_UP,
    )
    dispatch.schedule(app)
