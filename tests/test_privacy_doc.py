"""docs/privacy.md lists every column of the models: those holding personal data in its tables
(where, why, how long, who sees it, /mydata, /forget), the rest under "What holds nothing
personal". A new column fails this test until the page says what it is; a column of a personal
kind cannot be filed as nothing personal."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table)
from storage.crypto import EncryptedString

PAGE = Path(__file__).resolve().parent.parent / "docs" / "privacy.md"
NOTHING_PERSONAL = "## What holds nothing personal"
# Names that are personal whatever their type (homes, names, places, files a person sent).
PERSONAL_NAMES = {
    "chat_id",
    "user_id",
    "telegram_user_id",
    "full_name",
    "username",
    "phone",
    "room",
    "owner_name",
    "proxy_name",
    "title",
    "latitude",
    "longitude",
    "telegram_file_id",
    "file_unique_id",
}
# Of a personal kind by type, but holding nothing personal by design (and said so on the page).
BY_DESIGN = {"inbox_update.last_error", "outbox.last_error", "heartbeat.data"}


def _columns() -> dict[str, sa.Column[object]]:
    return {
        f"{table.name}.{column.name}": column
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
    }


def _personal_kind(where: str, column: sa.Column[object]) -> bool:
    """A link to a person, a Telegram id, a phone, free text or JSON, or a personal name."""
    if where.startswith("person.") and column.name != "id":
        return True
    if any(fk.column.table.name == "person" for fk in column.foreign_keys):
        return True
    if isinstance(column.type, EncryptedString | sa.Text | sa.JSON):
        return True
    return column.name in PERSONAL_NAMES


def _listed() -> tuple[set[str], set[str]]:
    text = PAGE.read_text(encoding="utf-8")
    stored, _, rest = text.partition(NOTHING_PERSONAL)
    assert rest, f"docs/privacy.md has no {NOTHING_PERSONAL!r} section"
    cell = re.compile(r"`([a-z_]+\.[a-z_0-9]+)`")
    personal = {
        name
        for line in stored.splitlines()
        if line.startswith("| `")
        for name in cell.findall(line.split("|")[1])
    }
    return personal, set(cell.findall(rest))


def test_every_column_of_the_models_is_on_the_privacy_page() -> None:
    personal, nothing = _listed()
    columns = _columns()
    missing = sorted(set(columns) - personal - nothing)
    assert not missing, f"add these columns to docs/privacy.md: {missing}"
    assert not sorted(personal & nothing), "listed both as personal and as nothing personal"
    unknown = sorted((personal | nothing) - set(columns))
    assert not unknown, f"docs/privacy.md names columns the models no longer have: {unknown}"


def test_every_column_of_a_personal_kind_is_listed_as_personal_data() -> None:
    personal, _nothing = _listed()
    misfiled = sorted(
        where
        for where, column in _columns().items()
        if _personal_kind(where, column) and where not in personal | BY_DESIGN
    )
    assert not misfiled, f"personal data filed as nothing personal in docs/privacy.md: {misfiled}"


def test_every_personal_row_says_why_how_long_who_and_what_mydata_and_forget_do() -> None:
    text = PAGE.read_text(encoding="utf-8").partition(NOTHING_PERSONAL)[0]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 7 and all(cells), row
