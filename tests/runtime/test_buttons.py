"""The callback-data codec (runtime/buttons.py): short, typed, versioned data; anything that is
not exactly a button's shape is refused, so a forged or stale press reaches no feature."""

from __future__ import annotations

from enum import Enum

import pytest

from runtime.buttons import LIMIT, VERSION, Button


class Half(Enum):
    AM = "am"
    PM = "pm"


TOGGLE = Button("test.toggle", int, int, Half)
PICK = Button("test.pick", str, ("yes", "no"))
PLAIN = Button("test.plain")


def test_values_come_back_with_their_types() -> None:
    data = TOGGLE.data(12, 3, Half.PM)
    assert data == f"{VERSION}test.toggle:12:3:pm"
    assert TOGGLE.parse(data) == (12, 3, Half.PM)
    assert PICK.parse(PICK.data("water", "no")) == ("water", "no")
    assert PLAIN.parse(PLAIN.data()) == ()


@pytest.mark.parametrize(
    "data",
    [
        "test.toggle:12:3:pm",  # no version: a button from before the codec
        "9test.toggle:12:3:pm",  # another version
        "1test.toggle:12:3",  # a value missing
        "1test.toggle:12:3:pm:4",  # one too many
        "1test.toggle:x:3:pm",  # not a number
        "1test.toggle:-1:3:pm",
        "1test.toggle:123456789012:3:pm",  # longer than any id
        "1test.toggle:12:3:noon",  # not one of the enum's values
        "1test.pick:water:maybe",
        "1test.pick:wa ter:yes",
        "1test.plainx",
        "",
        None,
    ],
)
def test_data_of_any_other_shape_is_refused(data: str | None) -> None:
    assert TOGGLE.parse(data) is None
    assert PICK.parse(data) is None or data is None
    assert all(button.parse(data) is None for button in (TOGGLE, PICK))


def test_a_button_that_would_break_telegrams_limits_is_never_made() -> None:
    with pytest.raises(ValueError):
        PICK.data("a" * 41, "yes")  # longer than a word may be
    with pytest.raises(ValueError):
        PICK.data("two words", "yes")
    with pytest.raises(ValueError):
        PICK.data("water", "maybe")
    with pytest.raises(ValueError):
        TOGGLE.data(-1, 3, Half.AM)
    with pytest.raises(ValueError):
        TOGGLE.data(1, 3)
    long = Button("test.long", str, str)
    with pytest.raises(ValueError):
        long.data("a" * 30, "b" * 30)
    assert len(long.data("a" * 25, "b" * 25).encode()) <= LIMIT


def test_two_features_cannot_share_a_name() -> None:
    with pytest.raises(ValueError):
        Button("test.toggle", int)
    with pytest.raises(ValueError):
        Button("Has Spaces")


def test_every_button_of_the_notebook_goes_through_the_codec() -> None:
    """No feature builds callback data or a press pattern by hand: each `callback_data=` is a
    Button's `.data(…)` (or a name a helper was handed one in), never a string, an f-string or
    a concatenation; and each press handler is a Button's `.handler(…)` (the fallback, which
    answers every press nobody took, has no pattern)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "handlers"
    by_hand: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            for keyword in node.keywords:
                if keyword.arg == "callback_data":
                    value = keyword.value
                    through_codec = isinstance(value, ast.Name) or (
                        isinstance(value, ast.Call)
                        and isinstance(value.func, ast.Attribute)
                        and value.func.attr == "data"
                    )
                    if not through_codec:
                        by_hand.append(f"{where} callback_data")
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name == "CallbackQueryHandler" and (node.keywords or len(node.args) > 1):
                by_hand.append(f"{where} CallbackQueryHandler with a pattern")
    assert by_hand == []
