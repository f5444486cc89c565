"""Open data: the read-only Open311 GeoReport v2 endpoint (bot/feeds.py, storage/open311.py).

Checked against the specification's field names (https://wiki.open311.org/GeoReport_v2): a
district platform or a map reads services and requests; a request's description is only the
public summary a worker wrote, never the resident's words, name, unit or phone; the desk's
services and disputes between neighbours are never published; it is off unless enabled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot import feeds
from bot.health import HealthServer
from emulator import BotApiEmulator
from runtime.context import Notebook
from runtime.i18n import I18n
from storage import issues as rules
from storage import open311
from storage.db import Database
from storage.models import Channel, Community, Issue, Role
from tests.factories import FakeClock, make_community, make_issue, make_member, make_settings

SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
WORDS = "王大妈说三楼楼道灯坏了三天，她电话13812345678"


@asynccontextmanager
async def serving(
    emulator: BotApiEmulator, db: Database, clock: FakeClock, **settings: Any
) -> AsyncIterator[str]:
    notebook = Notebook(
        settings=make_settings(emulator, db.url, **settings),
        db=db,
        i18n=I18n(default_locale="zh_Hans"),
        clock=clock,
    )
    server = HealthServer(db, clock, host="127.0.0.1", port=0, routes=feeds.routes(notebook))
    await server.start()
    try:
        yield server.base_url
    finally:
        await server.stop()


async def _get(url: str, **params: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as response:
        if response.content_type != "application/json":
            return response.status, await response.text()
        return response.status, await response.json()


async def _notebook(db: Database, clock: FakeClock) -> tuple[Community, dict[str, Issue]]:
    community = await make_community(db, clock)
    async with db.session() as session:
        stored = await session.get(Community, community.id)
        assert stored is not None and stored.id is not None
        xu = await make_member(session, stored, Role.RESIDENT, name="许大伯")
        wang = await make_member(session, stored, Role.WORKER, name="王网格")
        assert wang.id is not None
        building = (await session.exec(_buildings(stored.id))).first()
        light = await make_issue(
            session,
            stored,
            xu,
            clock,
            WORDS,
            building_id=building,
            latitude=29.563412,
            longitude=106.551234,
        )
        await rules.claim(session, light, actor_id=wang.id, now=clock())
        await rules.set_plan(
            session,
            light,
            plan="换灯",
            due_at=clock() + timedelta(days=2),
            actor_id=wang.id,
            now=clock(),
        )
        await open311.set_public_summary(session, light, "3栋楼道灯已报修，正在更换", now=clock())
        clock.advance(hours=1)
        bare = await make_issue(session, stored, xu, clock, "我家楼下停车乱", category="parking")
        await rules.claim(session, bare, actor_id=wang.id, now=clock())
        await rules.resolve(session, bare, note="已处理", actor_id=wang.id, now=clock())
        dispute = await make_issue(session, stored, xu, clock, "楼上漏水", category="neighbours")
        pension = await make_issue(
            session, stored, xu, clock, "养老金认证", category="social_security"
        )
        desk = await make_issue(
            session, stored, xu, clock, "门口垃圾", category="sanitation", channel=Channel.DESK
        )
        gone = await make_issue(session, stored, xu, clock, "算了", category="noise")
        await rules.withdraw(session, gone, reason="算了", actor_id=xu.id or 0, now=clock())
    return stored, {
        "light": light,
        "bare": bare,
        "dispute": dispute,
        "pension": pension,
        "desk": desk,
        "gone": gone,
    }


def _buildings(community_id: int) -> Any:
    from sqlmodel import select

    from storage.models import Building

    return select(Building.id).where(Building.community_id == community_id)


async def test_off_unless_enabled(emulator: BotApiEmulator, db: Database, clock: FakeClock) -> None:
    await _notebook(db, clock)
    async with serving(emulator, db, clock) as base:
        status, _body = await _get(base + "/open311/v2/requests.json")
        assert status == 404
        status, _body = await _get(base + "/open311/v2/services.json")
        assert status == 404


async def test_services_are_the_public_categories_with_the_specs_fields(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    async with serving(emulator, db, clock, open311_enabled=True) as base:
        status, services = await _get(base + "/open311/v2/services.json")
        assert status == 200
        codes = [s["service_code"] for s in services]
        assert "facilities" in codes and "parking" in codes
        assert "neighbours" not in codes and "social_security" not in codes
        for service in services:
            assert set(service) == SERVICE_FIELDS
            assert service["metadata"] is False and service["type"] == "realtime"
        facilities = next(s for s in services if s["service_code"] == "facilities")
        assert facilities["service_name"] == "公共设施（楼道灯、门禁等）"
        status, definition = await _get(base + "/open311/v2/services/facilities.json")
        assert status == 200 and definition == {"service_code": "facilities", "attributes": []}
        status, error = await _get(base + "/open311/v2/services/social_security.json")
        assert status == 404 and error[0]["code"] == 404
        status, discovery = await _get(base + "/open311/v2/discovery.json")
        assert status == 200
        assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


async def test_requests_publish_a_workers_summary_never_the_residents_words(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, made = await _notebook(db, clock)
    async with serving(emulator, db, clock, open311_enabled=True) as base:
        status, found = await _get(base + "/open311/v2/requests.json")
        assert status == 200
        ids = [r["service_request_id"] for r in found]
        light_id = f"{community.id}-{made['light'].number}"
        bare_id = f"{community.id}-{made['bare'].number}"
        assert ids == [bare_id, light_id]  # newest first; the private ones are not there
        for request in found:
            assert set(request) == REQUEST_FIELDS
        bare, light = found
        assert light["status"] == "open" and bare["status"] == "closed"
        assert light["service_code"] == "facilities"
        assert light["service_name"] == "公共设施（楼道灯、门禁等）"
        assert light["description"] == "3栋楼道灯已报修，正在更换"
        assert bare["description"] is None  # no summary written: nothing described
        assert light["requested_datetime"] == "2026-11-02T09:00:00+08:00"
        assert light["expected_datetime"] == "2026-11-04T09:00:00+08:00"
        assert light["address"] == "邢家桥社区 1栋"
        assert (light["lat"], light["long"]) == (29.563, 106.551)  # about 100 m, not the door
        assert bare["lat"] is None and bare["long"] is None
        assert light["agency_responsible"] == "邢家桥社区"
        text = str(found)
        for private in ("王大妈", "13812345678", "许大伯", "三楼", "停车乱"):
            assert private not in text

        status, one = await _get(base + f"/open311/v2/requests/{light_id}.json")
        assert status == 200 and [r["service_request_id"] for r in one] == [light_id]
        status, error = await _get(
            base + f"/open311/v2/requests/{community.id}-{made['dispute'].number}.json"
        )
        assert status == 404 and error == [
            {"code": 404, "description": "service_request_id: no such request"}
        ]


async def test_the_specs_filters_and_refusals(
    emulator: BotApiEmulator, db: Database, clock: FakeClock
) -> None:
    community, made = await _notebook(db, clock)
    light_id = f"{community.id}-{made['light'].number}"
    bare_id = f"{community.id}-{made['bare'].number}"
    url = "/open311/v2/requests.json"
    async with serving(emulator, db, clock, open311_enabled=True) as base:
        _s, found = await _get(base + url, status="open")
        assert [r["service_request_id"] for r in found] == [light_id]
        _s, found = await _get(base + url, status="closed")
        assert [r["service_request_id"] for r in found] == [bare_id]
        _s, found = await _get(base + url, service_code="parking")
        assert [r["service_request_id"] for r in found] == [bare_id]
        _s, found = await _get(base + url, service_request_id=f"{light_id},{bare_id}")
        assert {r["service_request_id"] for r in found} == {light_id, bare_id}
        _s, found = await _get(base + url, start_date="2026-11-02T01:30:00Z")
        assert [r["service_request_id"] for r in found] == [bare_id]
        _s, found = await _get(base + url, end_date="2026-11-02T09:30:00+08:00")
        assert [r["service_request_id"] for r in found] == [light_id]
        _s, found = await _get(base + url, jurisdiction_id=str((community.id or 0) + 1))
        assert found == []
        status, error = await _get(base + url, start_date="last tuesday")
        assert status == 400 and error[0]["code"] == 400
        status, error = await _get(base + url, status="pending")
        assert status == 400
        clock.advance(days=91)  # without dates: the last 90 days, as the specification says
        _s, found = await _get(base + url)
        assert found == []
        async with (
            aiohttp.ClientSession() as http,
            http.post(base + url, data={"service_code": "facilities"}) as response,
        ):
            assert response.status == 403  # read-only: nothing is created


def test_a_summary_is_the_workers_words_not_the_residents() -> None:
    issue = Issue(community_id=1, number=1, category="facilities", description=WORDS)
    assert open311.check_summary(issue, "  3栋楼道灯\n已更换  ") == "3栋楼道灯 已更换"
    for copied, reason in (
        (WORDS, "resident_words"),
        ("处理中：" + WORDS[:14], "resident_words"),
        ("请联系 138 1234 5678", "phone"),
        ("灯" * 501, "long"),
    ):
        with pytest.raises(open311.SummaryError) as refused:
            open311.check_summary(issue, copied)
        assert refused.value.reason == reason
