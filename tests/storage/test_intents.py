"""What a resident's words are taken as (storage/intents.py): a report only when they read
like one, in Chinese and in English."""

from __future__ import annotations

import pytest

from storage.intents import Intent, classify


@pytest.mark.parametrize(
    "words",
    [
        "好的，谢谢你们",
        "谢谢小王",
        "辛苦了！",
        "收到",
        "ok",
        "Thanks a lot!",
        "Thank you, Xiao Wang <3",
        "no problem, thanks",
    ],
)
def test_thanks_and_acknowledgements(words: str) -> None:
    assert classify(words) is Intent.THANKS


@pytest.mark.parametrize("words", ["早上好", "您好", "在吗？", "hi", "hello 你好", "Good morning!"])
def test_greetings(words: str) -> None:
    assert classify(words) is Intent.GREETING


@pytest.mark.parametrize(
    "words",
    [
        "我的问题办得怎么样了？",
        "上次反映的路灯修好了吗",
        "楼道灯什么时候修",  # a question about what was reported, not a new report
        "How is my issue going?",
        "any news?",
    ],
)
def test_questions_about_progress(words: str) -> None:
    assert classify(words) is Intent.PROGRESS


@pytest.mark.parametrize(
    "words",
    [
        "楼道灯坏了三天了",
        "楼上王家天天半夜吵架",
        "电瓶车在楼道里充电",
        "谢谢，但是灯还是坏的",  # thanks, and a problem: the problem wins
        "您好，楼道灯不亮",
        "The stairwell light is broken",
        "Noise upstairs",
        "Cars block the fire lane every night.",
        "How do I pay the medical insurance for my grandson?",  # a sentence: a desk matter
        "3号楼东边那个大门一直关不上",  # ten characters and more: described, so a report
    ],
)
def test_reports(words: str) -> None:
    assert classify(words) is Intent.REPORT


@pytest.mark.parametrize("words", ["1栋门口", "Something odd", "👍", "？？", "楼道灯好暗"])
def test_anything_else_is_asked_about(words: str) -> None:
    assert classify(words) is Intent.UNCLEAR
