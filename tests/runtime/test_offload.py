"""Files and charts made in the bot's worker process (runtime/offload.py): what comes back is
what the bot's own thread would have made, in the reader's language."""

from __future__ import annotations

import io
import pickle

from openpyxl import load_workbook

from handlers.secretary.charts import digest_chart
from handlers.secretary.export import spreadsheet
from runtime.i18n import I18n
from runtime.offload import Offload
from storage.db import Database
from storage.digest import DigestPolicy, build_digest
from storage.models import Community
from storage.periods import Period
from tests.factories import FakeClock
from tests.known_month import CQ, build_known_month, cq

PNG = b"\x89PNG\r\n\x1a\n"
NOVEMBER = Period.month(2026, 11, CQ)


def test_a_translator_crosses_to_another_process_as_its_language_and_time_zone() -> None:
    english = I18n(default_locale="zh_Hans").translator("en", CQ)
    again = pickle.loads(pickle.dumps(english))
    assert (again.locale, again.tz) == ("en", CQ)
    assert again.gettext("Preparing the file…") == "Preparing the file…"
    chinese = pickle.loads(pickle.dumps(I18n(default_locale="zh_Hans").translator("zh_Hans", CQ)))
    assert chinese.gettext("Preparing the file…") == "正在准备文件……"


async def test_the_worker_process_makes_the_spreadsheet_and_the_chart(
    db: Database, clock: FakeClock
) -> None:
    month = await build_known_month(db, clock)
    zh = I18n(default_locale="zh_Hans").translator("zh_Hans", CQ)
    offload = Offload(in_process=True)
    offload.start(("handlers.secretary.documents", "handlers.secretary.charts"))  # as the bot
    try:
        async with db.reading() as reader:
            community = await reader.get(Community, month.community.id)
            assert community is not None and community.id is not None
            xlsx = await spreadsheet(
                reader, zh, community, NOVEMBER, "xlsx", now=cq(12, 1, 8), offload=offload
            )
            digest = await build_digest(
                reader,
                community_id=community.id,
                period=NOVEMBER,
                now=cq(12, 1, 8),
                policy=DigestPolicy(),
            )
        chart = await offload.run(digest_chart, zh, digest, community.name)
    finally:
        offload.close()
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None and sheet.max_row == 12  # the header and November's 11 issues
    assert sheet.cell(1, 1).value == "编号"  # in the reader's language
    assert chart.png.startswith(PNG)
    assert "各类新问题" in "".join(chart.texts)
