"""What the sandbox page sees: the emulator's chats and messages as plain JSON, and a tracker
that tells an event stream what changed since it last looked.

Texts go out as Telegram delivers them to a client (plain text plus entities), never as HTML:
the page builds elements from the entities, so nothing anybody typed can become markup.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from emulator.models import ChatRecord
from emulator.text import JSONDict

if TYPE_CHECKING:
    from sandbox.runtime import Sandbox

SNIPPET = 100  # characters of a replied-to message shown above a reply
_MEDIA_KINDS = ("document", "voice", "audio", "video", "animation", "video_note", "sticker")


def file_url(file_id: str) -> str:
    return f"/api/files/{quote(file_id, safe='')}"


def display_name(user: JSONDict) -> str:
    return " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)


def _media(raw: JSONDict) -> JSONDict | None:
    if raw.get("photo"):
        biggest = raw["photo"][-1]
        return {
            "kind": "photo",
            "url": file_url(biggest["file_id"]),
            "width": biggest.get("width"),
            "height": biggest.get("height"),
        }
    for kind in _MEDIA_KINDS:
        if kind in raw:
            item = raw[kind]
            return {
                "kind": kind,
                "url": file_url(item["file_id"]),
                "filename": item.get("file_name"),
                "mime_type": item.get("mime_type"),
                "size": item.get("file_size"),
                "duration": item.get("duration"),
                "emoji": item.get("emoji"),
            }
    if "location" in raw:
        return {"kind": "location", **raw["location"]}
    if "contact" in raw:
        contact = raw["contact"]
        return {
            "kind": "contact",
            "phone_number": contact.get("phone_number"),
            "name": display_name(contact),
        }
    return None


def _service(raw: JSONDict) -> JSONDict | None:
    if "new_chat_members" in raw:
        return {"kind": "joined", "names": [display_name(u) for u in raw["new_chat_members"]]}
    if "left_chat_member" in raw:
        return {"kind": "left", "names": [display_name(raw["left_chat_member"])]}
    if "new_chat_title" in raw:
        return {"kind": "title", "names": [str(raw["new_chat_title"])]}
    return None


def _inline_keyboard(raw: JSONDict) -> list[list[JSONDict]]:
    rows = (raw.get("reply_markup") or {}).get("inline_keyboard") or []
    return [
        [
            {
                "text": str(button.get("text", "")),
                "callback_data": button.get("callback_data"),
                "url": button.get("url"),
            }
            for button in row
        ]
        for row in rows
    ]


def _reply_to(raw: JSONDict) -> JSONDict | None:
    target = raw.get("reply_to_message")
    if not target:
        return None
    text = str(target.get("text") or target.get("caption") or "")
    media = _media(target)
    return {
        "id": target["message_id"],
        "from_name": display_name(target.get("from") or {}),
        "text": text[:SNIPPET],
        "media": media["kind"] if media else None,
    }


def message_view(chat: ChatRecord, message_id: int) -> JSONDict:
    """One message as the page shows it (users' and the bot's alike), current version."""
    raw = chat.messages[message_id]
    sender = raw.get("from") or {}
    bot_message = chat.bot_messages.get(message_id)
    has_text = "text" in raw
    markup = bot_message.reply_markup if bot_message else None
    return {
        "id": message_id,
        "chat_id": chat.id,
        "from": {
            "id": sender.get("id"),
            "name": display_name(sender),
            "is_bot": bool(sender.get("is_bot")),
        },
        "date": raw.get("date"),
        "edited": "edit_date" in raw,
        "deleted": message_id in chat.deleted,
        "text": str(raw.get("text") if has_text else raw.get("caption") or ""),
        "entities": list(raw.get("entities" if has_text else "caption_entities") or []),
        "media": _media(raw),
        "service": _service(raw),
        "inline_keyboard": _inline_keyboard(raw),
        "force_reply": bool(markup and markup.get("force_reply")),
        "reply_to": _reply_to(raw),
    }


def chat_view(chat: ChatRecord, *, bot_name: str) -> JSONDict:
    """A chat without its messages: who is in it, and the reply keyboard it shows."""
    keyboard = chat.reply_keyboard
    return {
        "id": chat.id,
        "type": chat.type,
        "title": bot_name if chat.type == "private" else chat.title or "",
        "user_id": chat.id if chat.type == "private" else None,
        "members": {str(user_id): status for user_id, status in chat.members.items()},
        "bot_status": chat.bot_status,
        "reply_keyboard": _reply_keyboard(keyboard) if keyboard else None,
    }


def _reply_keyboard(markup: JSONDict) -> JSONDict:
    rows = []
    for row in markup.get("keyboard") or []:
        buttons = []
        for button in row:
            data: JSONDict = button if isinstance(button, dict) else {"text": button}
            buttons.append(
                {
                    "text": str(data.get("text", "")),
                    "request_contact": bool(data.get("request_contact")),
                    "request_location": bool(data.get("request_location")),
                }
            )
        rows.append(buttons)
    return {
        "rows": rows,
        "one_time": bool(markup.get("one_time_keyboard")),
        "placeholder": markup.get("input_field_placeholder"),
    }


def clock_view(sandbox: Sandbox) -> JSONDict:
    now = sandbox.clock()
    policy = sandbox.settings.reminder_policy
    return {
        "now": now.isoformat(),
        "epoch_ms": int(now.timestamp() * 1000),
        "follows_real_time": sandbox.clock.follows_real_time,
        "timezone": sandbox.settings.timezone,
        "digest_weekday": policy.digest_weekday,
        "digest_time": policy.digest_at.strftime("%H:%M"),
    }


def commands_view(sandbox: Sandbox) -> dict[str, list[JSONDict]]:
    """The command menu of a private chat by language ("" = everyone else), as a resident's
    Telegram client shows it (staff see their own in their chats)."""
    private_chats = json.dumps({"type": "all_private_chats"})
    return {
        language: list(commands)
        for (scope, language), commands in sandbox.emulator.commands.items()
        if scope == private_chats
    }


def _message_fingerprint(chat: ChatRecord, message_id: int) -> tuple[Any, ...]:
    bot_message = chat.bot_messages.get(message_id)
    version = (
        len(bot_message.versions) if bot_message else chat.messages[message_id].get("edit_date")
    )
    return (version, message_id in chat.deleted)


class ChangeTracker:
    """Remembers what one page was last sent, and works out what is new since."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._messages: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._chats: dict[int, str] = {}
        self._clock_revision = -1
        self._users: frozenset[int] = frozenset()
        self._pending: list[tuple[str, JSONDict]] = []

    @property
    def _bot_name(self) -> str:
        return self._sandbox.emulator.bot_first_name

    def snapshot(self) -> JSONDict:
        """Everything, and remember it as seen."""
        emulator = self._sandbox.emulator
        chats = []
        for chat in list(emulator.chats.values()):
            view = chat_view(chat, bot_name=self._bot_name)
            self._chats[chat.id] = json.dumps(view, sort_keys=True)
            messages = []
            for message_id in sorted(chat.messages):
                self._messages[(chat.id, message_id)] = _message_fingerprint(chat, message_id)
                messages.append(message_view(chat, message_id))
            chats.append({**view, "messages": messages})
        self._clock_revision = self._sandbox.clock.revision
        self._users = frozenset(emulator.users)
        return {
            "bot": {
                "id": emulator.bot_id,
                "name": emulator.bot_first_name,
                "username": emulator.bot_username,
            },
            "clock": clock_view(self._sandbox),
            "commands": commands_view(self._sandbox),
            "chats": chats,
        }

    def collect(self) -> bool:
        """Queue events for whatever changed since the last look; True if there are any."""
        emulator = self._sandbox.emulator
        if self._sandbox.clock.revision != self._clock_revision:
            self._clock_revision = self._sandbox.clock.revision
            self._pending.append(("clock", clock_view(self._sandbox)))
        users = frozenset(emulator.users)
        if users != self._users:
            self._users = users
            self._pending.append(("users", {"ids": sorted(users)}))
        for chat in list(emulator.chats.values()):
            view = chat_view(chat, bot_name=self._bot_name)
            encoded = json.dumps(view, sort_keys=True)
            if self._chats.get(chat.id) != encoded:
                self._chats[chat.id] = encoded
                self._pending.append(("chat", view))
            for message_id in sorted(chat.messages):
                fingerprint = _message_fingerprint(chat, message_id)
                if self._messages.get((chat.id, message_id)) != fingerprint:
                    self._messages[(chat.id, message_id)] = fingerprint
                    self._pending.append(("message", message_view(chat, message_id)))
        return bool(self._pending)

    def take(self) -> list[tuple[str, JSONDict]]:
        pending, self._pending = self._pending, []
        return pending
