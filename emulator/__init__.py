"""A Telegram Bot API emulator for tests: an HTTP server the real python-telegram-bot
Application talks to, enforcing Telegram's rules, plus drivers that act as users and groups.

Modules: ``server`` (the Bot API over aiohttp and all state), ``driver`` (BotApiEmulator,
UserDriver, GroupDriver), ``models`` (records such as BotMessage and each chat's transcript),
``html`` / ``markdown`` (Telegram's formatting parsers), ``text`` (UTF-16 lengths and entity
helpers), ``media`` (tiny valid files and image sniffing).
"""

from emulator.driver import BotApiEmulator, ChatDriver, GroupDriver, UserDriver
from emulator.html import parse_html
from emulator.models import (
    ApiCall,
    ApiErrorRecord,
    BotMessage,
    CallbackAnswer,
    InlineButton,
    MessageVersion,
    ReplyButton,
    StoredFile,
    TranscriptEntry,
)
from emulator.server import ApiError, EmulatorCore
from emulator.text import EntityParseError, ParsedText, utf16_len

__all__ = [
    "ApiCall",
    "ApiError",
    "ApiErrorRecord",
    "BotApiEmulator",
    "BotMessage",
    "CallbackAnswer",
    "ChatDriver",
    "EmulatorCore",
    "EntityParseError",
    "GroupDriver",
    "InlineButton",
    "MessageVersion",
    "ParsedText",
    "ReplyButton",
    "StoredFile",
    "TranscriptEntry",
    "UserDriver",
    "parse_html",
    "utf16_len",
]
