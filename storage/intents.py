"""What a resident's words in a private chat are: a new report, a greeting, thanks, a question
about progress, or not clear. Plain rules over phrases in Chinese and English, no model: the
router (handlers/residents/private_messages.py) starts a report only for words that read like
one, and asks once ("is this a new problem?") when it cannot tell.

The order of the rules:
1. words about progress ("我的问题办得怎么样了", "any news?") → PROGRESS;
2. words of a problem ("坏了", "漏水", "broken", "noise"…) → REPORT;
3. nothing but greetings, thanks and small acknowledgements ("好的，谢谢你们", "早上好") →
   THANKS when any thanks or acknowledgement is among them, else GREETING;
4. a longer message (a sentence, not a word or two) → REPORT: people describe problems;
5. anything else → UNCLEAR.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    REPORT = "report"
    GREETING = "greeting"
    THANKS = "thanks"
    PROGRESS = "progress"
    UNCLEAR = "unclear"


# Questions about an issue already reported.
PROGRESS_PHRASES = (
    "怎么样了",
    "怎样了",
    "办得怎么样",
    "办好了吗",
    "办了吗",
    "修好了吗",
    "处理了吗",
    "处理得怎么样",
    "进展",
    "进度",
    "有消息吗",
    "有结果吗",
    "什么时候能修",
    "什么时候修",
    "什么时候处理",
    "什么时候来",
    "还没修",
    "还没处理",
    "还没人管",
    "还没有人来",
    "查一下我的",
    "我的问题",
    "我反映的",
    "how is my",
    "how's my",
    "any news",
    "any update",
    "any progress",
    "what is the status",
    "what's the status",
    "status of my",
    "my issue",
    "my report",
    "my problem",
    "when will",
    "is it fixed",
    "has anyone",
)

# Words that name something wrong: with any of these the message reads like a report.
PROBLEM_WORDS = (
    "坏",
    "漏",
    "堵",
    "吵",
    "噪音",
    "扰民",
    "停水",
    "停电",
    "没水",
    "没电",
    "没有水",
    "没有电",
    "不亮",
    "太暗",
    "很暗",
    "不通",
    "不能用",
    "用不了",
    "不好使",
    "臭",
    "垃圾",
    "乱停",
    "乱放",
    "乱堆",
    "占用",
    "堆放",
    "危险",
    "隐患",
    "着火",
    "起火",
    "冒烟",
    "燃气",
    "煤气",
    "充电",
    "电瓶车",
    "电动车",
    "违建",
    "违章",
    "裂",
    "掉",
    "塌",
    "破",
    "投诉",
    "报修",
    "反映",
    "维修",
    "修一下",
    "麻烦处理",
    "帮忙处理",
    "老鼠",
    "蟑螂",
    "积水",
    "渗水",
    "broken",
    "break",
    "leak",
    "block",
    "clog",
    "noise",
    "noisy",
    "loud",
    "smell",
    "stink",
    "rubbish",
    "garbage",
    "trash",
    "litter",
    "dirty",
    "dark",
    "no water",
    "no power",
    "no electricity",
    "no light",
    "not working",
    "doesn't work",
    "does not work",
    "stuck",
    "danger",
    "fire",
    "gas",
    "charging",
    "e-bike",
    "crack",
    "fallen",
    "parking",
    "parked",
    "rats",
    "report",
    "complain",
    "problem",
    "repair",
    "fix",
    "help",
)

THANKS_PHRASES = (
    "谢谢",
    "感谢",
    "多谢",
    "谢了",
    "辛苦了",
    "辛苦",
    "麻烦了",
    "麻烦你们了",
    "thank",
    "thanks",
    "thx",
    "cheers",
)
ACK_PHRASES = (
    "好的",
    "好滴",
    "好嘞",
    "好",
    "行",
    "收到",
    "知道了",
    "明白",
    "嗯",
    "哦",
    "可以",
    "没问题",
    "没有问题",
    "no problem",
    "ok",
    "okay",
    "got it",
    "fine",
    "great",
    "noted",
    "sure",
    "yes",
    "alright",
)
GREETING_PHRASES = (
    "你好",
    "您好",
    "早上好",
    "上午好",
    "中午好",
    "下午好",
    "晚上好",
    "早安",
    "晚安",
    "早",
    "在吗",
    "在不在",
    "哈喽",
    "嗨",
    "喂",
    "hello",
    "hi",
    "hey",
    "good morning",
    "good afternoon",
    "good evening",
    "good night",
    "are you there",
)
# Words that only soften a greeting or a thanks ("好的，谢谢你们啊").
FILLER = (
    "你们",
    "你",
    "您",
    "大家",
    "社区",
    "同志",
    "小王",
    "小李",
    "非常",
    "太",
    "真",
    "了",
    "啊",
    "呀",
    "哈",
    "哦",
    "呢",
    "吧",
    "的",
    "so much",
    "very much",
    "a lot",
    "you all",
    "you",
    "all",
    "everyone",
    "very",
    "much",
    "so",
    "again",
    "there",
)
# "No problem" is no report.
NOT_PROBLEMS = ("没问题", "没有问题", "no problem", "not a problem", "no problems")
# What may be left of a greeting or a thanks besides polite words: a name ("谢谢小王").
SMALL_REST = 3
# A message at least this long (CJK characters, or words) reads as a description.
LONG_CJK = 10
LONG_WORDS = 5

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9']+")
_NOT_WORDS = re.compile(r"[^\w\u3400-\u9fff']+")


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def _has(text: str, phrases: tuple[str, ...]) -> bool:
    """A phrase in the text: Chinese anywhere, English as whole words."""
    for phrase in phrases:
        if _CJK.search(phrase):
            if phrase in text:
                return True
        elif re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text):
            return True
    return False


def _strip(text: str, phrases: tuple[str, ...]) -> str:
    # longest first, so that "好的" goes before "好"
    for phrase in sorted(phrases, key=len, reverse=True):
        if _CJK.search(phrase):
            text = text.replace(phrase, " ")
        else:
            text = re.sub(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", " ", text)
    return text


def is_long(text: str) -> bool:
    return len(_CJK.findall(text)) >= LONG_CJK or len(_WORD.findall(text.lower())) >= LONG_WORDS


def classify(text: str) -> Intent:
    """What these words are (see the module's docstring for the rules)."""
    words = _norm(text)
    if not _NOT_WORDS.sub("", words):
        return Intent.UNCLEAR  # only punctuation or emoji
    if _has(words, PROGRESS_PHRASES):
        return Intent.PROGRESS
    if _has(_strip(words, NOT_PROBLEMS), PROBLEM_WORDS):
        return Intent.REPORT
    polite = THANKS_PHRASES + ACK_PHRASES + GREETING_PHRASES
    rest = _NOT_WORDS.sub(" ", _strip(words, polite + FILLER)).strip()
    small = len(_CJK.findall(rest)) <= SMALL_REST and len(_WORD.findall(rest)) <= SMALL_REST
    if _has(words, polite) and small:  # "谢谢小王", "Thank you, Xiao Wang <3"
        if _has(_strip(words, GREETING_PHRASES), THANKS_PHRASES + ACK_PHRASES):
            return Intent.THANKS
        return Intent.GREETING
    if is_long(words):
        return Intent.REPORT
    return Intent.UNCLEAR
