"""The public routes of the HTTP server (bot/health.py): the calendar feeds and Open311.

- `GET /calendar/<token>.ics`: a community's or a worker's calendar (storage/calendars.py),
  in the community's language (a worker's: theirs). An unknown, renewed or no longer
  permitted token answers 404, the same for every reason.
- `GET /open311/v2/…` (only with OPEN311_ENABLED): the read-only GeoReport v2 service
  (storage/open311.py): discovery.json, services.json, services/<code>.json, requests.json,
  requests/<id>.json. JSON only; creating a request is refused (the notebook takes reports in
  Telegram). Errors are the specification's list of {code, description}.

Each request reads in a session of its own and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.health import Route
from handlers.shared.labels import CATEGORY_LABELS
from handlers.staff.duty import HALF_LABELS
from runtime.context import Notebook
from runtime.i18n import N_, Translator
from storage import calendars, open311
from storage.categories import CATEGORIES
from storage.council import community_staff

log = logging.getLogger(__name__)

ICS_TYPE = "text/calendar"
FEED_NAME = N_("{community}: council and service desk")
OWN_FEED_NAME = N_("{community}: my calendar")
MEETING = N_("Courtyard council meeting")
SHIFT = N_("Service desk ({half})")
DUE = N_("Due: issue #{number}, {category}, {building}")
NO_BUILDING = N_("no building")


def _words(tr: Translator, name: str) -> calendars.Words:
    _ = tr.gettext
    return calendars.Words(
        calendar=name,
        meeting=_(MEETING),
        shift=_(SHIFT),
        halves={half: _(label) for half, label in HALF_LABELS.items()},
        due=_(DUE),
        categories={
            code: _(CATEGORY_LABELS.get(code, CATEGORY_LABELS["other"])) for code in CATEGORIES
        },
        nowhere=_(NO_BUILDING),
    )


def calendar_routes(nb: Notebook) -> list[Route]:
    async def feed(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        now = nb.clock()
        async with nb.db.session() as session:
            found = await calendars.resolve(session, token)
            if found is None:
                raise web.HTTPNotFound(text="no such calendar\n")
            community = found.community
            tz = ZoneInfo(community.timezone)
            if found.person is None:
                tr = nb.i18n.translator(community.default_locale, tz)
                events = await calendars.community_events(session, community, now=now)
                assert community.id is not None
                names: dict[int, str] | None = {
                    p.id: p.full_name
                    for p in await community_staff(session, community.id)
                    if p.id is not None
                }
                title = tr.gettext(FEED_NAME).format(community=community.name)
            else:
                tr = nb.i18n.translator(found.person.locale or community.default_locale, tz)
                events = await calendars.person_events(session, community, found.person, now=now)
                names = None
                title = tr.gettext(OWN_FEED_NAME).format(community=community.name)
        body = calendars.to_ics(
            events,
            _words(tr, title),
            tz=tz,
            hours=nb.settings.desk_hours,
            now=now,
            people=names,
        )
        return web.Response(
            body=body,
            content_type=ICS_TYPE,
            charset="utf-8",
            headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
        )

    return [("GET", "/calendar/{token}.ics", feed)]


# --- Open311 ---------------------------------------------------------------------------------

OPEN311 = "/open311/v2"


def _error(code: int, description: str) -> web.Response:
    return web.json_response([{"code": code, "description": description}], status=code)


def _names(nb: Notebook) -> dict[str, str]:
    """Service names in the default language of the notebook (one endpoint for every
    community)."""
    tr = nb.i18n.translator(nb.settings.default_locale, nb.settings.tz)
    return {
        code: tr.gettext(CATEGORY_LABELS.get(code, CATEGORY_LABELS["other"]))
        for code in open311.PUBLIC_CATEGORIES
    }


def open311_routes(nb: Notebook, base_url: Callable[[web.Request], str]) -> list[Route]:
    async def discovery(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "changeset": "2026-12-08T00:00:00Z",
                "contact": "",
                "key_service": "",
                "endpoints": [
                    {
                        "specification": "http://wiki.open311.org/GeoReport_v2",
                        "url": base_url(request) + OPEN311,
                        "changeset": "2026-12-08T00:00:00Z",
                        "type": "production",
                        "formats": ["application/json"],
                    }
                ],
            }
        )

    async def service_list(request: web.Request) -> web.Response:
        return web.json_response(open311.services(_names(nb)))

    async def service_definition(request: web.Request) -> web.Response:
        code = request.match_info["code"]
        if code not in open311.PUBLIC_CATEGORIES:
            return _error(404, "service_code: no such service")
        return web.json_response({"service_code": code, "attributes": []})

    async def request_list(request: web.Request) -> web.Response:
        try:
            query = open311.Query.from_params(dict(request.query))
            return await _answer(query, nb.clock())
        except open311.Open311Error as exc:
            return _error(exc.code, exc.description)

    async def one_request(request: web.Request) -> web.Response:
        query = open311.Query(
            service_request_ids=(request.match_info["id"],),
            jurisdiction_id=request.query.get("jurisdiction_id") or None,
        )
        try:
            found = await _requests(query, nb.clock())
        except open311.Open311Error as exc:
            return _error(exc.code, exc.description)
        if not found:
            return _error(404, "service_request_id: no such request")
        return web.json_response(found)

    async def _requests(query: open311.Query, now: datetime) -> list[dict[str, Any]]:
        async with nb.db.session() as session:
            return await open311.requests(session, query, now=now, names=_names(nb))

    async def _answer(query: open311.Query, now: datetime) -> web.Response:
        return web.json_response(await _requests(query, now))

    async def read_only(request: web.Request) -> web.Response:
        return _error(403, "this endpoint is read-only: report a problem in Telegram")

    return [
        ("GET", f"{OPEN311}/discovery.json", discovery),
        ("GET", f"{OPEN311}/services.json", service_list),
        ("GET", f"{OPEN311}/services/{{code}}.json", service_definition),
        ("GET", f"{OPEN311}/requests.json", request_list),
        ("POST", f"{OPEN311}/requests.json", read_only),
        ("GET", f"{OPEN311}/requests/{{id}}.json", one_request),
    ]


def routes(nb: Notebook) -> list[Route]:
    """The public routes this notebook's settings turn on."""
    public = nb.settings.public_url

    def base_url(request: web.Request) -> str:
        return public or f"{request.scheme}://{request.host}"

    found = calendar_routes(nb)
    if nb.settings.open311_enabled:
        found += open311_routes(nb, base_url)
    return found
