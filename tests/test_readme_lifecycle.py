"""The staff guide's lifecycle table (docs/staff.md) says what `storage.issues.TRANSITIONS` does,
row for row."""

from __future__ import annotations

import re
from pathlib import Path

from storage.issue_lifecycle import TRANSITIONS, Action
from storage.models import IssueStatus

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "staff.md"
UNCHANGED = "(unchanged)"


def _guide_table() -> dict[str, tuple[frozenset[str], str]]:
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## The issue lifecycle", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    rows: dict[str, tuple[frozenset[str], str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*`([a-z_]+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if match is None:
            continue
        action, sources, target = match.groups()
        assert action not in rows, f"{action} appears twice in the guide's table"
        rows[action] = (
            frozenset(s.strip() for s in sources.split(",") if s.strip()),
            target.strip(),
        )
    return rows


def test_the_guides_table_matches_the_state_machine() -> None:
    table = _guide_table()
    expected = {
        str(action): (
            frozenset(str(s) for s in sources),
            str(target) if target is not None else UNCHANGED,
        )
        for action, (sources, target) in TRANSITIONS.items()
    }
    assert set(table) == set(expected), "actions differ between docs/staff.md and TRANSITIONS"
    for action, row in expected.items():
        assert table[action] == row, f"docs/staff.md row for {action!r} disagrees with TRANSITIONS"


def test_the_table_names_only_real_states_and_actions() -> None:
    states = {str(s) for s in IssueStatus} | {UNCHANGED}
    for action, (sources, target) in _guide_table().items():
        Action(action)
        assert sources <= states and target in states, action
