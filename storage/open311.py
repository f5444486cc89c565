"""Open data: the notebook as a read-only Open311 GeoReport v2 service (bot/feeds.py serves it,
off unless OPEN311_ENABLED).

- Services are the community problems residents report (`PUBLIC_CATEGORIES`). The desk's
  services (a pension, a residence permit, a labour dispute) and disputes between neighbours
  are a household's own business and are never published, nor are desk visits, withdrawn
  issues or duplicates folded into another.
- A request is an issue: `service_request_id` "<community>-<number>", status open or closed,
  the dates, the building as its address, a location rounded to about 100 m when the resident
  shared one, and as description only the public summary a worker wrote for it
  (`set_public_summary`); never what the resident wrote, their name, unit or phone.
- Field names are the specification's (https://wiki.open311.org/GeoReport_v2); dates are
  ISO 8601 with the offset. Words (service names) are passed in translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.categories import COMMUNITY_CATEGORIES
from storage.models import Building, Channel, Community, Issue, IssueStatus

PUBLIC_CATEGORIES = tuple(c for c in COMMUNITY_CATEGORIES if c != "neighbours")
HIDDEN_STATUSES = (IssueStatus.WITHDRAWN, IssueStatus.MERGED)
CLOSED_STATUSES = (IssueStatus.RESOLVED, IssueStatus.CLOSED, IssueStatus.TRANSFERRED)
DEFAULT_WINDOW = timedelta(days=90)  # the specification's default span without dates
MAX_REQUESTS = 1000
SUMMARY_MAX = 500
LOCATION_DIGITS = 3  # about 100 m: the courtyard, not the door


class Open311Error(Exception):
    """A request the endpoint refuses: (HTTP code, one line for the caller)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def services(
    names: dict[str, str], descriptions: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """GET services.json: one entry per public category."""
    return [
        {
            "service_code": code,
            "service_name": names.get(code, code),
            "description": (descriptions or {}).get(code, names.get(code, code)),
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": "community",
        }
        for code in PUBLIC_CATEGORIES
    ]


def parse_datetime(value: str, *, name: str) -> datetime:
    """A W3C / ISO 8601 date-time as the specification asks for (a date alone is midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name}: not an ISO 8601 date-time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(when: datetime | None, tz: ZoneInfo) -> str | None:
    return None if when is None else when.astimezone(tz).isoformat(timespec="seconds")


def request_id(issue: Issue) -> str:
    return f"{issue.community_id}-{issue.number}"


def _parse_id(value: str) -> tuple[int, int] | None:
    community, sep, number = value.strip().partition("-")
    if not (sep and community.isdigit() and number.isdigit()):
        return None
    return int(community), int(number)


@dataclass(frozen=True)
class Query:
    """What GET requests.json asks for (the specification's parameters)."""

    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    status: tuple[str, ...] = ()  # "open", "closed"
    jurisdiction_id: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> Query:
        def listed(name: str) -> tuple[str, ...]:
            return tuple(v.strip() for v in params.get(name, "").split(",") if v.strip())

        statuses = listed("status")
        if any(s not in ("open", "closed") for s in statuses):
            raise Open311Error(400, "status: open or closed")
        return cls(
            service_request_ids=listed("service_request_id"),
            service_codes=listed("service_code"),
            start=parse_datetime(params["start_date"], name="start_date")
            if params.get("start_date")
            else None,
            end=parse_datetime(params["end_date"], name="end_date")
            if params.get("end_date")
            else None,
            status=statuses,
            jurisdiction_id=params.get("jurisdiction_id") or None,
        )


def _published() -> Any:
    return (
        col(Issue.category).in_(PUBLIC_CATEGORIES),
        col(Issue.status).not_in(HIDDEN_STATUSES),
        col(Issue.channel) != Channel.DESK,
    )


async def requests(
    session: AsyncSession, query: Query, *, now: datetime, names: dict[str, str]
) -> list[dict[str, Any]]:
    """GET requests.json (and requests/<id>.json, with one id): the published issues asked for,
    newest first, at most MAX_REQUESTS."""
    statement = (
        select(Issue, Building.name, Community)
        .join(Community, col(Community.id) == col(Issue.community_id))
        .join(Building, col(Building.id) == col(Issue.building_id), isouter=True)
        .where(*_published())
    )
    if query.jurisdiction_id is not None:
        if not query.jurisdiction_id.isdigit():
            raise Open311Error(404, "jurisdiction_id: no such jurisdiction")
        statement = statement.where(Issue.community_id == int(query.jurisdiction_id))
    if query.service_request_ids:
        wanted = [_parse_id(v) for v in query.service_request_ids]
        pairs = [p for p in wanted if p is not None]
        if not pairs:
            return []
        statement = statement.where(
            or_(*(and_(col(Issue.community_id) == c, col(Issue.number) == n) for c, n in pairs))
        )
    else:  # the dates and the status only filter when no ids are given (the specification)
        start = query.start or ((query.end or now) - DEFAULT_WINDOW)
        statement = statement.where(col(Issue.created_at) >= start)
        if query.end is not None:
            statement = statement.where(col(Issue.created_at) <= query.end)
        if query.status == ("open",):
            statement = statement.where(col(Issue.status).not_in(CLOSED_STATUSES))
        elif query.status == ("closed",):
            statement = statement.where(col(Issue.status).in_(CLOSED_STATUSES))
    if query.service_codes:
        statement = statement.where(col(Issue.category).in_(query.service_codes))
    statement = statement.order_by(col(Issue.created_at).desc(), col(Issue.id).desc())
    rows = (await session.exec(statement.limit(MAX_REQUESTS))).all()
    return [_request(issue, building, community, names) for issue, building, community in rows]


def _request(
    issue: Issue, building: str | None, community: Community, names: dict[str, str]
) -> dict[str, Any]:
    tz = ZoneInfo(community.timezone)
    closed = issue.status in CLOSED_STATUSES
    located = issue.latitude is not None and issue.longitude is not None
    return {
        "service_request_id": request_id(issue),
        "status": "closed" if closed else "open",
        "status_notes": "transferred" if issue.status == IssueStatus.TRANSFERRED else None,
        "service_name": names.get(issue.category, issue.category),
        "service_code": issue.category,
        "description": issue.public_summary,
        "agency_responsible": community.name,
        "service_notice": None,
        "requested_datetime": _iso(issue.created_at, tz),
        "updated_datetime": _iso(issue.last_activity_at or issue.created_at, tz),
        "expected_datetime": _iso(issue.due_at, tz),
        "address": f"{community.name} {building}" if building else community.name,
        "address_id": str(issue.building_id) if issue.building_id is not None else None,
        "zipcode": None,
        "lat": round(issue.latitude, LOCATION_DIGITS) if located else None,  # type: ignore[arg-type]
        "long": round(issue.longitude, LOCATION_DIGITS) if located else None,  # type: ignore[arg-type]
        "media_url": None,
    }


# --- the public summary ----------------------------------------------------------------------


class SummaryError(Exception):
    """A summary refused: `reason` is "long", "phone" or "resident_words"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_PHONE = re.compile(r"\d[\d\s-]{5,}\d")


def _plain(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def check_summary(issue: Issue, text: str) -> str:
    """The summary as stored (spaces folded), or SummaryError: too long, a phone number in
    it, or the resident's own words copied in (their description, or 12 characters of it)."""
    cleaned = " ".join(text.split())
    if len(cleaned) > SUMMARY_MAX:
        raise SummaryError("long")
    theirs, ours = _plain(issue.description or ""), _plain(cleaned)
    if (
        theirs
        and ours
        and (
            theirs in ours
            or (
                len(ours) >= COPIED
                and any(ours[i : i + COPIED] in theirs for i in range(len(ours) - COPIED + 1))
            )
        )
    ):
        raise SummaryError("resident_words")
    if _PHONE.search(cleaned):
        raise SummaryError("phone")
    return cleaned


COPIED = 12  # characters in a row taken from the resident's description


async def set_public_summary(
    session: AsyncSession, issue: Issue, text: str | None, *, now: datetime
) -> None:
    """A worker's summary of the issue for the public (None or blank: none is published)."""
    cleaned = check_summary(issue, text or "") if (text or "").strip() else ""
    issue.public_summary = cleaned or None
    issue.public_summary_at = now if cleaned else None
    session.add(issue)
    await session.flush()
