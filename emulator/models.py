"""Records the emulator keeps: users, chats, files, what the bot sent (``BotMessage``), the
answer to a callback query, each chat's transcript (``TranscriptEntry``: everything the bot and
the chat's users did there, in order), and the log of API calls and errors tests inspect.

Raw Telegram objects are kept as the JSON dicts the Bot API would return (``raw``), so tests
can see exactly what the bot would have seen; the dataclasses add convenient views on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from emulator.text import JSONDict

TranscriptKind = Literal["user", "press", "sent", "edited", "deleted"]


@dataclass
class ApiCall:
    """One request the bot made: method as sent, decoded parameters, uploaded file names."""

    method: str
    params: JSONDict
    files: dict[str, str] = field(default_factory=dict)  # form field -> file name


@dataclass
class ApiErrorRecord:
    """One non-2xx answer the emulator gave the bot."""

    method: str
    params: JSONDict
    error_code: int
    description: str

    def __str__(self) -> str:
        return f"{self.method} -> {self.error_code} {self.description}"


@dataclass
class StoredFile:
    """A file the emulator holds: uploaded by the bot or made up for a simulated user."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str  # photo, document, voice, sticker, video, audio, animation
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class UserRecord:
    """A simulated Telegram user."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    blocked: bool = False  # the user blocked the bot
    started: bool = False  # the user has written to the bot, so the bot may write back

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class InlineButton:
    """A button of an inline keyboard the bot sent."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: JSONDict = field(default_factory=dict, repr=False)


@dataclass
class ReplyButton:
    """A button of a reply keyboard the bot sent."""

    text: str
    request_contact: bool = False
    request_location: bool = False
    raw: JSONDict = field(default_factory=dict, repr=False)


@dataclass
class MessageVersion:
    """The content of a bot message at one point: as sent, or after an edit."""

    text: str
    html: str | None
    parse_mode: str | None
    entities: list[JSONDict]
    reply_markup: JSONDict | None
    date: int


@dataclass(eq=False)
class BotMessage:
    """A message the bot sent, live: edits and deletion update the same object.

    ``text`` is what the user reads (HTML/Markdown already parsed, or the caption of a media
    message); ``html`` is the text or caption exactly as the bot sent it."""

    chat_id: int
    message_id: int
    text: str
    html: str | None
    parse_mode: str | None
    entities: list[JSONDict]
    reply_markup: JSONDict | None
    date: int
    raw: JSONDict = field(repr=False)
    media_type: str | None = None
    file: StoredFile | None = field(default=None, repr=False)
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    request: JSONDict = field(default_factory=dict, repr=False)  # parameters of the send call
    versions: list[MessageVersion] = field(default_factory=list, repr=False)
    deleted: bool = False
    consumed: bool = field(default=False, repr=False)  # taken by expect_message
    edits_seen: int = field(default=0, repr=False)  # edits already matched by expect_edit

    @property
    def edits(self) -> list[MessageVersion]:
        """Every edit, oldest first (the state after each one)."""
        return self.versions[1:]

    @property
    def caption(self) -> str | None:
        return self.text if self.media_type else None

    @property
    def buttons(self) -> list[list[InlineButton]]:
        """Rows of the inline keyboard currently attached (empty if none)."""
        markup = self.reply_markup or {}
        rows: list[list[InlineButton]] = []
        for row in markup.get("inline_keyboard") or []:
            rows.append(
                [
                    InlineButton(
                        text=str(button.get("text", "")),
                        callback_data=button.get("callback_data"),
                        url=button.get("url"),
                        raw=button,
                    )
                    for button in row
                ]
            )
        return rows

    @property
    def keyboard(self) -> list[list[ReplyButton]] | None:
        """Rows of the reply keyboard sent with this message, or None."""
        markup = self.reply_markup or {}
        if "keyboard" not in markup:
            return None
        rows: list[list[ReplyButton]] = []
        for row in markup["keyboard"]:
            buttons: list[ReplyButton] = []
            for button in row:
                data: JSONDict = button if isinstance(button, dict) else {"text": button}
                buttons.append(
                    ReplyButton(
                        text=str(data.get("text", "")),
                        request_contact=bool(data.get("request_contact")),
                        request_location=bool(data.get("request_location")),
                        raw=data,
                    )
                )
            rows.append(buttons)
        return rows

    def button(self, text: str) -> InlineButton | None:
        """The inline button whose text is exactly ``text``, else the only one containing it."""
        flat = [button for row in self.buttons for button in row]
        for button in flat:
            if button.text == text:
                return button
        partial = [button for button in flat if text in button.text]
        return partial[0] if len(partial) == 1 else None

    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    def _media_bytes(self, kind: str) -> bytes | None:
        return self.file.data if self.file is not None and self.media_type == kind else None

    @property
    def photo(self) -> bytes | None:
        return self._media_bytes("photo")

    @property
    def document(self) -> bytes | None:
        return self._media_bytes("document")

    @property
    def voice(self) -> bytes | None:
        return self._media_bytes("voice")

    @property
    def filename(self) -> str | None:
        return self.file.filename if self.file is not None else None

    @property
    def mime_type(self) -> str | None:
        return self.file.mime_type if self.file is not None else None

    def describe(self) -> str:
        """One line for assertion dumps."""
        flags = []
        if self.deleted:
            flags.append("deleted")
        if self.edits:
            flags.append(f"edited x{len(self.edits)}")
        if self.media_type:
            flags.append(self.media_type)
        head = f"#{self.message_id}" + (f" [{', '.join(flags)}]" if flags else "")
        body = self.text if len(self.text) <= 300 else self.text[:300] + "…"
        buttons = self.button_texts()
        tail = f"  buttons={buttons}" if buttons else ""
        return f"{head} {body!r}{tail}"


def inline_labels(markup: JSONDict | None) -> tuple[tuple[str, ...], ...]:
    """The labels of an inline keyboard, row by row (empty if there is none)."""
    rows = (markup or {}).get("inline_keyboard") or []
    return tuple(tuple(str(button.get("text", "")) for button in row) for row in rows)


def has_callback_buttons(markup: JSONDict | None) -> bool:
    rows = (markup or {}).get("inline_keyboard") or []
    return any("callback_data" in button for row in rows for button in row)


@dataclass(frozen=True)
class TranscriptEntry:
    """One thing that happened in a chat, as its users saw it, in order.

    ``kind``: ``user`` (a user sent a message), ``press`` (a user pressed an inline button of
    message ``message_id``; ``data`` is its callback data, ``text`` its label), ``sent`` (the
    bot sent a message), ``edited`` (the bot changed one; the entry holds the new content),
    ``deleted`` (the bot deleted a message, its own or a user's). ``text`` and
    ``reply_markup`` are the message's content at that moment; ``date`` is the emulator's
    clock; ``seq`` orders entries across all chats."""

    seq: int
    kind: TranscriptKind
    chat_id: int
    message_id: int
    text: str
    reply_markup: JSONDict | None = None
    date: int = 0
    user_id: int | None = None  # who acted, for user and press entries
    data: str | None = None  # callback data of a press
    media_type: str | None = None

    @property
    def labels(self) -> tuple[tuple[str, ...], ...]:
        """Labels of the inline keyboard the message carried at this point."""
        return inline_labels(self.reply_markup)

    @property
    def live_buttons(self) -> bool:
        """True if the message carried inline buttons that still call the bot back."""
        return has_callback_buttons(self.reply_markup)

    def describe(self) -> str:
        body = self.text if len(self.text) <= 120 else self.text[:120] + "…"
        labels = [label for row in self.labels for label in row]
        tail = f" buttons={labels}" if labels and self.kind != "press" else ""
        return f"{self.kind} #{self.message_id} {body!r}{tail}"


@dataclass
class CallbackAnswer:
    """What the bot passed to answerCallbackQuery."""

    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass
class PendingCallback:
    """A callback query sent to the bot, waiting for its answer."""

    id: str
    user_id: int
    data: str | None
    created: float  # the emulator's clock: the answer deadline runs on it
    answer: CallbackAnswer | None = None


@dataclass(eq=False)
class ChatRecord:
    """A chat the emulator knows: private (with ``user``), group or supergroup."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: UserRecord | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> member status
    bot_status: str = "member"  # member, administrator, left, kicked
    bot_can_delete: bool = False
    bot_can_restrict: bool = False  # an administrator bot allowed to ban and unban members
    messages: dict[int, JSONDict] = field(default_factory=dict)  # id -> raw, current state
    bot_messages: dict[int, BotMessage] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    next_message_id: int = 1
    reply_keyboard: JSONDict | None = None
    actions: list[str] = field(default_factory=list)  # sendChatAction calls, in order
    menu_button: JSONDict | None = None
    transcript: list[TranscriptEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def to_dict(self) -> JSONDict:
        if self.type == "private" and self.user is not None:
            data: JSONDict = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title or ""}
        if self.username:
            data["username"] = self.username
        return data
