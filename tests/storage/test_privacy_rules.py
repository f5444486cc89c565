"""Residents' data rules (storage/privacy.py, storage/crypto.py), tested directly: export,
forgetting with the figures unchanged, retention, and phone numbers encrypted at rest."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import col, select

from handlers.secretary.digest import weekly_renderer
from runtime.i18n import I18n
from storage import crypto, outbox
from storage import issues as rules
from storage.categories import TimeLimits
from storage.chat_state import get_state, set_state
from storage.db import Database
from storage.digest import DigestPolicy
from storage.followups import follow_up
from storage.forgetting import StaffMustLeaveFirst, forget_person
from storage.issue_support import add_support
from storage.issues import NewAttachment
from storage.models import (
    Attachment,
    Community,
    FollowUpResult,
    Issue,
    IssueEvent,
    IssueSupporter,
    Membership,
    Outbox,
    Person,
    Role,
    Satisfaction,
)
from storage.privacy import (
    ANONYMOUS_NAME,
    anonymise_expired,
    export_person,
    redact,
)
from tests.factories import PHONE_KEY, FakeClock, make_community, make_member

PHONE = "13812345678"


async def _story(db: Database, clock: FakeClock) -> dict[str, Any]:
    """老许 reports two problems (one with his phone in the text and a voice message), backs a
    neighbour's, answers a follow-up; a worker handles them."""
    db.set_phone_key(PHONE_KEY)
    community = await make_community(db, clock)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许", building_id=None)
        xu.phone = PHONE
        xu.username = "laoxu"
        member = (await session.exec(select(Membership).where(Membership.person_id == xu.id))).one()
        member.room = "501"
        li = await make_member(session, community, name="李阿姨")
        wang = await make_member(session, community, Role.WORKER, name="王网格")
        limits = TimeLimits()
        light = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=xu.id,
            category="facilities",
            description=f"我是老许，电话{PHONE}，楼道灯坏了",
            now=clock(),
            limits=limits,
            attachments=[NewAttachment(kind="voice", telegram_file_id="voice-1")],
        )
        light.summary = "老许说：楼道灯"  # a one-line title may name them too
        await rules.append_info(
            session,
            light,
            text="晚上有人摔倒了，请打 138 1234 5678",
            attachments=[
                NewAttachment(kind="photo", telegram_file_id="photo-1", caption="老许拍的")
            ],
            actor_id=xu.id,
            now=clock(),
        )
        await rules.claim(session, light, actor_id=wang.id, now=clock())
        await rules.resolve(session, light, note="换了灯泡", actor_id=wang.id, now=clock())
        await follow_up(
            session,
            light,
            result=FollowUpResult.SOLVED,
            satisfaction=Satisfaction.SATISFIED,
            comment="谢谢",
            actor_id=xu.id,
            now=clock(),
        )
        await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=xu.id,
            category="noise",
            description="楼上装修太吵",
            now=clock(),
            limits=limits,
        )
        neighbour = await rules.create_issue(
            session,
            community_id=community.id,
            reporter_id=li.id,
            category="parking",
            description="车位被占",
            now=clock(),
            limits=limits,
        )
        await add_support(session, neighbour, person_id=xu.id, now=clock())
        await set_state(
            session,
            chat_id=xu.telegram_user_id,
            user_id=xu.telegram_user_id,
            flow="report",
            step="describe",
            data={"text": f"草稿 {PHONE}"},
            now=clock(),
        )
        await outbox.enqueue(
            session,
            chat_id=xu.telegram_user_id,
            kind="issue_event",
            dedupe_key="event:test",
            due_at=clock(),
            payload={},
            now=clock(),
            person_id=xu.id,
        )
    return {"community": community, "xu": xu, "li": li, "wang": wang}


async def _figures(db: Database, community: Community, clock: FakeClock) -> dict[str, Any]:
    """What the digest and statistics count, and the digest as the secretary reads it."""
    async with db.session() as session:
        issues = (await session.exec(select(Issue))).all()
        figures: dict[str, Any] = {
            "by_category": Counter(i.category for i in issues),
            "by_status": Counter(i.status for i in issues),
            "by_building": Counter(i.building_id for i in issues),
            "satisfaction": Counter(i.satisfaction for i in issues),
            "support": sorted((i.number, i.support_count) for i in issues),
            "supporters": len((await session.exec(select(IssueSupporter))).all()),
            "events": Counter(e.kind for e in (await session.exec(select(IssueEvent))).all()),
            "dates": sorted(str((i.created_at, i.resolved_at, i.closed_at)) for i in issues),
        }
        tr = I18n(default_locale="zh_Hans").translator("zh_Hans", clock().tzinfo)  # type: ignore[arg-type]
        row = Outbox(
            chat_id=1,
            kind="digest",
            dedupe_key="d",
            due_at=clock() + timedelta(days=7),
            payload={
                "community_id": community.id,
                "week_end": int((clock() + timedelta(days=7)).timestamp()),
            },
        )
        rendered = await weekly_renderer(DigestPolicy(), db)(session, row, tr)
        assert rendered is not None
        figures["digest"] = rendered.text
    return figures


async def test_forgetting_a_resident_removes_their_personal_data_and_keeps_the_figures(
    db: Database, clock: FakeClock
) -> None:
    story = await _story(db, clock)
    before = await _figures(db, story["community"], clock)
    async with db.session() as session:
        xu = await session.get(Person, story["xu"].id)
        tg = xu.telegram_user_id
        result = await forget_person(session, xu, now=clock())
    assert (result.issues, result.supports, result.follow_ups, result.voice_messages) == (
        2,
        1,
        1,
        1,
    )
    assert await _figures(db, story["community"], clock) == before
    async with db.session() as session:
        xu = await session.get(Person, story["xu"].id)
        assert xu.full_name == ANONYMOUS_NAME and xu.anonymised_at == clock()
        assert (xu.telegram_user_id, xu.username, xu.phone, xu.telegram_language_code) == (
            None,
            None,
            None,
            None,
        )
        light = (await session.exec(select(Issue).where(Issue.number == 1))).one()
        assert light.reporter_id == xu.id  # the facts stay, with the placeholder as reporter
        assert light.description == "我是***，电话***，楼道灯坏了"
        assert light.summary == "***说：楼道灯"
        texts = [
            e.text
            for e in (
                await session.exec(select(IssueEvent).where(IssueEvent.issue_id == light.id))
            ).all()
        ]
        assert "晚上有人摔倒了，请打 ***" in texts and "换了灯泡" in texts
        kinds = [a.kind for a in (await session.exec(select(Attachment))).all()]
        assert kinds == ["photo"]  # the voice message went; the photo of the lamp stays
        assert (await session.exec(select(Attachment))).one().caption == "***拍的"
        member = (await session.exec(select(Membership).where(Membership.person_id == xu.id))).one()
        assert not member.active and member.room is None
        assert await get_state(session, chat_id=tg, user_id=tg) is None
        assert (
            await session.exec(select(Outbox).where(col(Outbox.person_id) == xu.id))
        ).all() == []
        rows = []
        for table in (Issue, IssueEvent, Attachment, Person, Membership, Outbox):
            rows += (await session.exec(select(table))).all()
        everything = " ".join(str(v) for row in rows for v in row.model_dump().values())
    for trace in (PHONE, "138 1234 5678", "老许", "laoxu", str(tg)):
        assert trace not in everything


async def test_active_staff_cannot_be_forgotten(db: Database, clock: FakeClock) -> None:
    story = await _story(db, clock)
    async with db.session() as session:
        wang = await session.get(Person, story["wang"].id)
        with pytest.raises(StaffMustLeaveFirst):
            await forget_person(session, wang, now=clock())


async def test_export_holds_everything_about_the_person(db: Database, clock: FakeClock) -> None:
    story = await _story(db, clock)
    async with db.session() as session:
        xu = await session.get(Person, story["xu"].id)
        data = await export_person(session, xu, now=clock())
    assert data["profile"]["phone"] == PHONE and data["profile"]["name"] == "老许"
    assert data["memberships"][0]["room"] == "501"
    assert [i["number"] for i in data["issues_reported"]] == [1, 2]
    light = data["issues_reported"][0]
    assert light["satisfaction"] == "satisfied"
    assert [a["kind"] for a in light["attachments"]] == ["voice", "photo"]
    assert [e["step"] for e in light["public_history"]][:2] == ["reported", "added_info"]
    assert [(s["number"], s["category"]) for s in data["issues_supported"]] == [(3, "parking")]
    assert {s["step"] for s in data["your_steps_on_issues"]} >= {"added_info", "followed_up"}
    assert data["conversation_in_progress"][0]["flow"] == "report"
    assert data["messages_waiting_to_be_sent"] == 1


async def test_closed_issues_are_anonymised_after_the_retention_period(
    db: Database, clock: FakeClock
) -> None:
    story = await _story(db, clock)
    retention = timedelta(days=730)
    async with db.session() as session:
        assert (
            await anonymise_expired(session, now=clock() + timedelta(days=729), retention=retention)
            == 0
        )
    async with db.session() as session:
        later = clock() + timedelta(days=731)
        assert await anonymise_expired(session, now=later, retention=retention) == 1
        assert await anonymise_expired(session, now=later, retention=retention) == 0  # idempotent
    async with db.session() as session:
        light, noise, parking = (
            await session.exec(select(Issue).order_by(col(Issue.number)))
        ).all()
        assert light.reporter_id is None and light.anonymised_at is not None
        assert light.description == "我是***，电话***，楼道灯坏了"
        assert light.satisfaction == "satisfied"  # the facts stay
        # open issues keep their reporter, whatever their age
        assert noise.reporter_id == story["xu"].id and noise.anonymised_at is None
        assert parking.reporter_id == story["li"].id
        events = (
            await session.exec(select(IssueEvent).where(IssueEvent.issue_id == light.id))
        ).all()
        assert story["xu"].id not in {e.actor_id for e in events}
        assert story["wang"].id in {e.actor_id for e in events}  # the office's record stays
        # the person is still there, unchanged: only that old issue lost them
        xu = await session.get(Person, story["xu"].id)
        assert xu.full_name == "老许" and xu.phone == PHONE


def test_redaction_spares_words_that_merely_contain_a_name() -> None:
    assert redact("Li says the Light is out", ["Li"]) == "*** says the Light is out"
    assert redact("call +86 138-1234-5678 or 023-6388 1234", []) == "call *** or ***"
    assert redact("No. 100000001 at 2026", []) == "No. 100000001 at 2026"


async def test_phone_numbers_are_encrypted_at_rest(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    db.set_phone_key(None)
    with pytest.raises(StatementError) as err:  # no key: no phone is stored in clear
        async with db.session() as session:
            xu = await make_member(session, community)
            xu.phone = PHONE
            await session.flush()
    assert isinstance(err.value.orig, crypto.PhoneKeyError)
    db.set_phone_key(PHONE_KEY)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = PHONE
    async with db.session() as session:
        raw = dict(await crypto.raw_phones(session))[xu.id]
        assert raw.startswith("enc1:")
        assert PHONE not in raw and PHONE[-8:] not in raw
        assert (await session.get(Person, xu.id)).phone == PHONE  # code sees the plain string
        assert await crypto.check_key(session, db.phone_cipher) == 1
        with pytest.raises(crypto.PhoneKeyError, match="does not decrypt"):
            await crypto.check_key(session, crypto.PhoneCipher(crypto.new_key()))
        with pytest.raises(crypto.PhoneKeyError, match="not set"):
            await crypto.check_key(session, None)


async def test_keys_rotate_and_old_plaintext_is_sealed(db: Database, clock: FakeClock) -> None:
    community = await make_community(db, clock)
    db.set_phone_key(PHONE_KEY)
    async with db.session() as session:
        xu = await make_member(session, community, name="老许")
        xu.phone = PHONE
        await make_member(session, community, name="李阿姨")
    async with db.session() as session:  # a phone written before encryption existed
        await session.exec(
            crypto.sa.text("UPDATE person SET phone = '13900000000' WHERE id != :id").bindparams(
                id=xu.id
            )
        )
    new = crypto.new_key()
    db.set_phone_key(f"{new},{PHONE_KEY}")
    async with db.session() as session:
        assert await crypto.reseal_phones(session, db.phone_cipher) == 2
        assert await crypto.reseal_phones(session, db.phone_cipher) == 0
    db.set_phone_key(new)  # the old key can go now
    async with db.session() as session:
        phones = {p.phone for p in (await session.exec(select(Person))).all()}
        assert phones == {PHONE, "13900000000"}
        assert all(v.startswith("enc1:") for _, v in await crypto.raw_phones(session))


async def test_a_verified_household_is_in_the_export_and_gone_once_forgotten(
    db: Database, clock: FakeClock
) -> None:
    from storage import household_checks
    from storage.forgetting import forget_person
    from storage.households import verified_home
    from storage.models import Building, HouseholdEvent, Membership, Role, VerifiedHome

    community = await make_community(db, clock)
    async with db.session() as session:
        building = (await session.exec(select(Building))).first()
        assert building is not None and building.id is not None and community.id is not None
        worker = await make_member(session, community, Role.WORKER, name="王网格")
        resident = await make_member(session, community, name="老许")
        members = {m.person_id: m for m in (await session.exec(select(Membership))).all()}
        await household_checks.confirm(
            session,
            members[resident.id or 0],
            worker=members[worker.id or 0],
            building_id=building.id,
            unit_id=None,
            room="301",
            now=clock(),
        )
        await household_checks.undo(
            session,
            members[resident.id or 0],
            worker=members[worker.id or 0],
            reason="搬走了",
            now=clock() + timedelta(days=1),
        )
        await household_checks.confirm(
            session,
            members[resident.id or 0],
            worker=members[worker.id or 0],
            building_id=building.id,
            unit_id=None,
            room="302",
            now=clock() + timedelta(days=2),
        )
        data = await export_person(session, resident, now=clock())
        assert [(h["what"], h["room"], h["reason"]) for h in data["household_verification"]] == [
            ("verified", "301", None),
            ("undone", "301", "搬走了"),
            ("verified", "302", None),
        ]
        await forget_person(session, resident, now=clock())
        assert (
            await verified_home(session, person_id=resident.id or 0, community_id=community.id)
            is None
        )
        assert (await session.exec(select(VerifiedHome))).all() == []
        assert len((await session.exec(select(HouseholdEvent))).all()) == 3  # the record stays


def test_a_short_latin_name_is_found_only_as_a_word() -> None:
    from storage.forgetting import Traces

    li = Traces(
        words=["Li"], phone_digits="13812345678", telegram_id=1000004, phone_number="13812345678"
    )
    assert li.in_json({"text": "Auntie Li called"})
    assert not li.in_json({"text": "the delivery came", "n": 10000041})
    assert li.in_json({"from": {"id": 1000004}})
    assert li.in_json({"contact": {"phone_number": "+86 138-1234-5678"}})
    assert li.remove("Li: 138 1234 5678, or her son 139 0000 1111") == (
        "***: ***, or her son 139 0000 1111"
    )
    # the one phone recogniser (storage/phones.py): full-width digits and Chinese numerals too
    assert li.remove("找Li，电话１３８１２３４５６７８") == "找***，电话***"
    assert li.in_json({"text": "电话一三八一二三四五六七八"})
