"""An issue's two clocks, named once: every screen, list and reminder reads them from here.

**The response clock** (答复时限, "Reply by"): starts at the report, runs for the issue's time
limit (`Issue.time_limit_hours`, from its category and urgency: 2 h / 24 h / 7 days / 15 days,
`storage/categories.py`) and ends at `Issue.respond_by`. It stops at the first contact with
the resident: acceptance (`accepted_at`) or the first public step or reply
(`first_response_at`), whichever came first. Once stopped it is *met* or *missed* (by how
much), recorded once: nothing later (a plan, a reopening, resolving) changes that verdict.
While running it has time *left* or is *overdue*.

**The completion clock** (办结期限, "Due"): exists once a plan sets a due date
(`Issue.due_at`) and stops at 办结 (`resolved_at`). After planning, this is what "overdue"
means. A reopening clears the due date (storage/issues.py: `reopen`), so the completion clock
is gone until a new date is set; the response verdict stays.

**Calendar or working days.** Both clocks count calendar time today. The response limits
are calendar hours from the report (7 days = 168 hours, 15 days = 360 hours, nights, weekends
and holidays included); the 12345 standard counts its longer limits in working days, but these
clocks stay in calendar time (the holiday calendar, storage/dates.py, serves the council's
deep topics): a deployment that wants working days shortens `TIME_LIMIT_GENERAL_HOURS` /
`TIME_LIMIT_COMPLEX_HOURS` accordingly. The completion
date is a calendar day chosen by the worker (kept as that day's last minute in the community's
time zone, storage/dates.py); "in 3 days" / "in a week" are calendar days. Quiet hours hold
back messages, never a clock.

Plain functions over an issue's fields, the clock passed in (`now`), no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.issue_lifecycle import OPEN
from storage.models import Issue, IssueStatus


class ClockState(StrEnum):
    RUNNING = "running"  # time left
    OVERDUE = "overdue"  # still running, past its moment
    MET = "met"  # stopped in time
    MISSED = "missed"  # stopped late
    ENDED = "ended"  # stopped without a verdict (withdrawn, merged, transferred…)


@dataclass(frozen=True)
class Reading:
    """One clock at `now`. `moment` is its deadline (respond_by / due_at); `stopped_at` when it
    stopped (None while it runs); `delta` is the time left (RUNNING), how late (OVERDUE,
    MISSED: always positive), or how early it stopped (MET)."""

    state: ClockState
    moment: datetime
    stopped_at: datetime | None
    delta: timedelta

    @property
    def running(self) -> bool:
        return self.state in (ClockState.RUNNING, ClockState.OVERDUE)

    @property
    def overdue(self) -> bool:
        return self.state is ClockState.OVERDUE


def read(moment: datetime, stopped_at: datetime | None, now: datetime, *, ended: bool) -> Reading:
    """A clock due at `moment`, stopped at `stopped_at` (a stop after `now` has not happened
    yet: the clock read as it stood at a past moment), ENDED if the issue left the open states
    without stopping it. The one rule every clock of the notebook is read by."""
    if stopped_at is not None and stopped_at <= now:
        if stopped_at <= moment:
            return Reading(ClockState.MET, moment, stopped_at, moment - stopped_at)
        return Reading(ClockState.MISSED, moment, stopped_at, stopped_at - moment)
    if ended:
        return Reading(ClockState.ENDED, moment, None, timedelta(0))
    if now <= moment:
        return Reading(ClockState.RUNNING, moment, None, moment - now)
    return Reading(ClockState.OVERDUE, moment, None, now - moment)


# --- the response clock (答复时限) --------------------------------------------------------------


def reply_by(issue: Issue) -> datetime:
    """The response deadline: `respond_by`, or (rows from before it was stored) the report
    time plus the limit."""
    return issue.respond_by or issue.created_at + timedelta(hours=issue.time_limit_hours)


def responded_at(issue: Issue) -> datetime | None:
    """When the response clock stopped: the first of acceptance and the first public step."""
    moments = [m for m in (issue.accepted_at, issue.first_response_at) if m is not None]
    return min(moments) if moments else None


def response_clock(issue: Issue, now: datetime) -> Reading:
    """The response clock at `now`. An issue that left the open states without anyone
    contacting the resident (withdrawn by its reporter first) has an ENDED clock."""
    ended = IssueStatus(issue.status) not in OPEN
    return read(reply_by(issue), responded_at(issue), now, ended=ended)


# --- the completion clock (办结期限) ------------------------------------------------------------


def completion_clock(issue: Issue, now: datetime) -> Reading | None:
    """The completion clock at `now`, or None before a due date is set (or after a reopening
    cleared it). It stops at 办结: MET / MISSED against the due date. An issue that leaves
    otherwise (transferred, merged, withdrawn) has an ENDED clock."""
    if issue.due_at is None:
        return None
    status = IssueStatus(issue.status)
    done = issue.resolved_at if status in (IssueStatus.RESOLVED, IssueStatus.CLOSED) else None
    return read(issue.due_at, done, now, ended=status not in OPEN)


# --- what counts now ---------------------------------------------------------------------------


def current_clock(issue: Issue, now: datetime) -> tuple[str, Reading] | None:
    """The clock that governs the issue now, with its name ("completion" / "response"): the
    completion clock once a due date is set, else the response clock while it runs; None
    when neither is running (answered, not yet planned; or finished)."""
    completion = completion_clock(issue, now)
    if completion is not None:
        return ("completion", completion) if completion.running else None
    response = response_clock(issue, now)
    return ("response", response) if response.running else None


def is_overdue(issue: Issue, now: datetime) -> bool:
    """ "Overdue" in one sense everywhere: after planning, the due date has passed; before it,
    the response clock ran out with nobody having contacted the resident. A reply that came
    late is *missed* (recorded once), not overdue for ever."""
    current = current_clock(issue, now)
    return current is not None and current[1].overdue


def deadline(issue: Issue, now: datetime) -> datetime | None:
    """The moment of the clock that governs the issue now (None when no clock runs)."""
    current = current_clock(issue, now)
    return current[1].moment if current is not None else None
