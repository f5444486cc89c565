"""The test-facing side of the emulator: simulated users and groups that talk to the bot.

``BotApiEmulator`` is the Bot API server (``EmulatorCore``) plus factories for ``UserDriver``
(a Telegram user and their private chat with the bot) and ``GroupDriver`` (a supergroup the
bot is in). Drivers produce exactly what a Telegram client would (entities for commands and
mentions, file ids for media, group privacy filtering) and wait for the bot's answers on the
emulator's change signal, so tests never sleep.
"""

# The driver API takes explicit `timeout=` arguments on purpose (tests read better that way).
# ruff: noqa: ASYNC109

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from emulator.media import image_size, tiny_ogg, tiny_png, tiny_webp
from emulator.models import (
    BotMessage,
    CallbackAnswer,
    ChatRecord,
    TranscriptEntry,
    UserRecord,
)
from emulator.server import EmulatorCore, Signal, member_dict
from emulator.text import JSONDict, user_entities

Predicate = Callable[[BotMessage], bool]
MessageRef = Any  # a BotMessage, a raw message dict, a PTB Message, or a message id
ReplyTarget = MessageRef  # or None

# How long an expectation waits for its event before it fails. Waiting ends at the event, so a
# passing test is no slower for a long limit; the limit only bounds a failing one. It is long
# enough for a busy 2-core machine running the suite on both databases at once.
DEFAULT_TIMEOUT = 15.0


def _text_body(key: str, text: str) -> JSONDict:
    body: JSONDict = {key: text}
    entities = user_entities(text)
    if entities:
        body["entities" if key == "text" else "caption_entities"] = entities
    return body


def _matches(message: BotMessage, contains: str | None, predicate: Predicate | None) -> bool:
    # A message matches if any of its versions did: it arrived with that text even if the bot
    # edited it before the test looked.
    if contains is not None and not any(contains in v.text for v in message.versions):
        return False
    return predicate is None or predicate(message)


class ChatDriver:
    """Expectations and button presses shared by private chats and groups."""

    def __init__(self, emulator: BotApiEmulator, chat: ChatRecord) -> None:
        self._emu = emulator
        self.chat = chat

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def messages(self) -> list[BotMessage]:
        """Everything the bot sent to this chat, in order (deleted ones included)."""
        return list(self.chat.bot_messages.values())

    @property
    def history(self) -> list[JSONDict]:
        """All messages of the chat, users' and the bot's, as raw Telegram dicts."""
        return list(self.chat.messages.values())

    @property
    def transcript(self) -> list[TranscriptEntry]:
        """What happened here, in order: messages and presses of users, every message the bot
        sent, edited or deleted, with the content at that moment (see ``TranscriptEntry``)."""
        return list(self.chat.transcript)

    @property
    def actions(self) -> list[str]:
        """Chat actions (typing, upload_photo, ...) the bot sent here."""
        return list(self.chat.actions)

    @staticmethod
    def _message_id_of(message: MessageRef) -> int:
        if isinstance(message, dict):
            return int(message["message_id"])
        if isinstance(message, int):
            return message
        message_id = getattr(message, "message_id", None)
        if message_id is None:
            raise TypeError(f"not a message: {message!r}")
        return int(message_id)

    def _resolve_reply(self, reply_to: ReplyTarget) -> JSONDict | None:
        if reply_to is None:
            return None
        message_id = self._message_id_of(reply_to)
        raw = self.chat.messages.get(message_id)
        if raw is None or message_id in self.chat.deleted:
            raise AssertionError(f"cannot reply to message {message_id}: not in this chat")
        return raw

    def _bot_message(self, message: MessageRef) -> BotMessage:
        message_id = self._message_id_of(message)
        found = self.chat.bot_messages.get(message_id)
        if found is None:
            raise AssertionError(f"message {message_id} was not sent by the bot in this chat")
        return found

    def dump(self, header: str) -> str:
        """A readable picture of the chat for assertion messages."""
        lines = [header, f"Bot messages in chat {self.chat.title or self.chat.id}:"]
        if not self.chat.bot_messages:
            lines.append("  (none)")
        for message in self.chat.bot_messages.values():
            mark = "  taken " if message.consumed else "  NEW   "
            lines.append(mark + message.describe())
        if self._emu.errors:
            lines.append("Errors the emulator returned to the bot (latest last):")
            lines.extend(f"  {error}" for error in self._emu.errors[-10:])
        recent = ", ".join(call.method for call in self._emu.calls[-12:])
        lines.append(f"Updates not yet confirmed: {self._emu.updates_pending()}")
        lines.append(f"Latest API calls: {recent or '(none)'}")
        return "\n".join(lines)

    async def expect_message(
        self,
        contains: str | None = None,
        *,
        predicate: Predicate | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> BotMessage:
        """Wait for the first bot message here not yet taken by expect_message that matches
        (``contains`` in its text/caption, and ``predicate``); take and return it."""
        found: list[BotMessage] = []

        def ready() -> bool:
            for message in self.chat.bot_messages.values():
                if not message.consumed and _matches(message, contains, predicate):
                    found.append(message)
                    return True
            return False

        try:
            await self._emu.signal.wait_for(ready, timeout)
        except TimeoutError:
            wanted = f"containing {contains!r}" if contains is not None else "matching"
            raise AssertionError(
                self.dump(f"No bot message {wanted} arrived within {timeout}s.")
            ) from None
        found[0].consumed = True
        return found[0]

    async def expect_no_message(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the bot is idle, then assert it sent nothing here that no
        expect_message has taken. See ``wait_idle`` for what "idle" can and cannot see."""
        try:
            await self._emu.wait_idle(timeout)
        except TimeoutError as exc:
            raise AssertionError(self.dump(str(exc))) from None
        fresh = [m for m in self.chat.bot_messages.values() if not m.consumed]
        if fresh:
            raise AssertionError(self.dump("The bot sent messages nobody expected."))

    async def expect_edit(
        self,
        message: MessageRef,
        contains: str | None = None,
        *,
        predicate: Predicate | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        new_edit: bool = True,
    ) -> BotMessage:
        """Wait until ``message`` has been edited (an edit not yet matched by expect_edit,
        unless ``new_edit=False``) and its current text contains ``contains``."""
        target = self._bot_message(message)

        def ready() -> bool:
            if new_edit and len(target.edits) <= target.edits_seen:
                return False
            if contains is not None and contains not in target.text:
                return False
            return predicate is None or predicate(target)

        try:
            await self._emu.signal.wait_for(ready, timeout)
        except TimeoutError:
            raise AssertionError(
                self.dump(
                    f"Message #{target.message_id} was not edited to contain {contains!r} "
                    f"within {timeout}s; it now reads {target.text!r}."
                )
            ) from None
        target.edits_seen = len(target.edits)
        return target

    def delete(self, message: MessageRef) -> None:
        """Someone in the chat deletes this message; the bot is not told."""
        self._emu.delete_by_member(self.chat, self._message_id_of(message))

    async def expect_deleted(self, message: MessageRef, timeout: float = DEFAULT_TIMEOUT) -> None:
        target = self._bot_message(message)
        try:
            await self._emu.signal.wait_for(lambda: target.deleted, timeout)
        except TimeoutError:
            raise AssertionError(
                self.dump(f"Message #{target.message_id} was not deleted within {timeout}s.")
            ) from None

    async def _press(
        self, user: UserRecord, message: MessageRef, data: str, timeout: float
    ) -> CallbackAnswer:
        target = self._bot_message(message)
        if target.deleted:
            raise AssertionError(f"message #{target.message_id} was deleted; it has no buttons")
        pending = self._emu.emit_callback_query(user, self.chat, target.raw, data)
        if pending is None:
            raise AssertionError("the bot's allowed_updates exclude callback_query")
        try:
            await self._emu.signal.wait_for(lambda: pending.answer is not None, timeout)
        except TimeoutError:
            raise AssertionError(
                self.dump(
                    f"The bot did not answer the callback query {data!r} within {timeout}s "
                    "(every callback query needs answerCallbackQuery)."
                )
            ) from None
        assert pending.answer is not None
        return pending.answer

    def _button_data(self, message: MessageRef, text: str | None, callback_data: str | None) -> str:
        target = self._bot_message(message)
        buttons = [button for row in target.buttons for button in row]
        if callback_data is not None:
            if not any(button.callback_data == callback_data for button in buttons):
                raise AssertionError(
                    f"no button with callback_data {callback_data!r} on #{target.message_id}: "
                    f"{[b.callback_data for b in buttons]}"
                )
            return callback_data
        if text is None:
            raise AssertionError("press() needs the button text or callback_data")
        button = target.button(text)
        if button is None:
            raise AssertionError(
                f"no button {text!r} on message #{target.message_id}; it has "
                f"{target.button_texts()}"
            )
        if button.callback_data is None:
            raise AssertionError(f"button {text!r} is not a callback button: {button.raw}")
        return button.callback_data


class UserDriver(ChatDriver):
    """A Telegram user and their private chat with the bot."""

    def __init__(self, emulator: BotApiEmulator, record: UserRecord, chat: ChatRecord) -> None:
        super().__init__(emulator, chat)
        self.record = record

    def __repr__(self) -> str:
        return f"UserDriver(id={self.id}, first_name={self.first_name!r})"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def first_name(self) -> str:
        return self.record.first_name

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def language_code(self) -> str | None:
        return self.record.language_code

    def to_dict(self) -> JSONDict:
        return self.record.to_dict()

    @property
    def keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard currently shown to this user, or None."""
        markup = self.chat.reply_keyboard
        if markup is None:
            return None
        return [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            for row in markup["keyboard"]
        ]

    def _post(self, body: JSONDict, reply_to: ReplyTarget = None, **kwargs: Any) -> JSONDict:
        return self._emu.post_user_message(
            self.chat, self.record, body, reply_to=self._resolve_reply(reply_to), **kwargs
        )

    async def send(self, text: str, *, reply_to: ReplyTarget = None) -> JSONDict:
        """Send a text message (entities computed as a client would)."""
        return self._post(_text_body("text", text), reply_to)

    async def send_photo(
        self, caption: str | None = None, *, data: bytes | None = None, reply_to: ReplyTarget = None
    ) -> JSONDict:
        return self._post(self._emu.user_photo_body(data, caption), reply_to)

    async def send_document(
        self,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        *,
        data: bytes | None = None,
        caption: str | None = None,
        reply_to: ReplyTarget = None,
    ) -> JSONDict:
        return self._post(
            self._emu.user_document_body(filename, mime_type, data, caption), reply_to
        )

    async def send_voice(
        self, duration: int = 3, *, data: bytes | None = None, reply_to: ReplyTarget = None
    ) -> JSONDict:
        return self._post(self._emu.user_voice_body(duration, data), reply_to)

    async def send_sticker(self, emoji: str = "👍") -> JSONDict:
        return self._post(self._emu.user_sticker_body(emoji))

    async def send_location(
        self, latitude: float, longitude: float, *, reply_to: ReplyTarget = None
    ) -> JSONDict:
        return self._post({"location": {"latitude": latitude, "longitude": longitude}}, reply_to)

    async def share_contact(
        self,
        phone: str = "+8613800000000",
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> JSONDict:
        """Share this user's own contact (what a request_contact button sends)."""
        contact: JSONDict = {
            "phone_number": phone,
            "first_name": first_name or self.record.first_name,
            "user_id": self.record.id,
        }
        if last_name or self.record.last_name:
            contact["last_name"] = last_name or self.record.last_name
        return self._post({"contact": contact})

    async def send_media_group(self, photos: int = 2, caption: str | None = None) -> list[JSONDict]:
        """An album: ``photos`` photo messages sharing one media_group_id, caption on the first."""
        group_id = self._emu.next_media_group_id()
        sent = []
        for index in range(photos):
            body = self._emu.user_photo_body(None, caption if index == 0 else None)
            sent.append(self._post(body, media_group_id=group_id))
        return sent

    async def tap(self, text: str) -> JSONDict:
        """Press a button of the reply keyboard the bot is showing this user."""
        markup = self.chat.reply_keyboard
        if markup is None:
            raise AssertionError("the bot is not showing this user a reply keyboard")
        for row in markup["keyboard"]:
            for button in row:
                data: JSONDict = button if isinstance(button, dict) else {"text": button}
                if data.get("text") != text:
                    continue
                if data.get("request_contact"):
                    return await self.share_contact()
                if data.get("request_location"):
                    return await self.send_location(29.5630, 106.5516)
                return await self.send(text)
        raise AssertionError(f"no keyboard button {text!r}; the keyboard is {self.keyboard}")

    def commands(self) -> list[str]:
        """The commands this user's menu shows in the private chat ("/my"…), in the user's
        Telegram language, as Telegram picks them among the scopes."""
        seen = self._emu.commands_seen(self.chat.id, self.id, self.language_code or "")
        return ["/" + c["command"] for c in seen]

    async def expect_commands(
        self, predicate: Callable[[list[str]], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> list[str]:
        """Wait until this user's command menu satisfies `predicate` (the bot sets menus after
        the update's commit); the menu."""
        try:
            await self._emu.signal.wait_for(lambda: predicate(self.commands()), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the menu did not change as expected: {self.commands()}"
            ) from None
        return self.commands()

    def reactions(self, message: JSONDict) -> list[str]:
        """The bot's reaction on one of this user's messages (👌 …)."""
        return self._emu.reactions(self.chat.id, int(message["message_id"]))

    async def expect_reaction(
        self, message: JSONDict, timeout: float = DEFAULT_TIMEOUT
    ) -> list[str]:
        """Wait until the bot reacted to one of this user's messages."""
        await self._emu.signal.wait_for(lambda: bool(self.reactions(message)), timeout)
        return self.reactions(message)

    async def edit(self, message: JSONDict, text: str) -> JSONDict:
        """Edit one of this user's text messages (the bot gets an edited_message update)."""
        return self._emu.edit_user_message(self.chat, message, text)

    async def press(
        self,
        message: MessageRef,
        text: str | None = None,
        *,
        callback_data: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CallbackAnswer:
        """Press an inline button (by text or callback_data); return the bot's answer."""
        data = self._button_data(message, text, callback_data)
        return await self._press(self.record, message, data, timeout)

    async def press_data(
        self, message: MessageRef, data: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> CallbackAnswer:
        """Send any callback_data for ``message``, as a forged client could."""
        return await self._press(self.record, message, data, timeout)

    def block_bot(self) -> None:
        """Block the bot: sends fail with 403; the bot gets a my_chat_member update."""
        if not self.record.blocked:
            self.record.blocked = True
            self._emu.emit_my_chat_member(self.chat, self.record.to_dict(), "member", "kicked")

    def unblock_bot(self) -> None:
        if self.record.blocked:
            self.record.blocked = False
            self._emu.emit_my_chat_member(self.chat, self.record.to_dict(), "kicked", "member")


class GroupDriver(ChatDriver):
    """A group or supergroup with the bot in it; members speak through it."""

    def __repr__(self) -> str:
        return f"GroupDriver(id={self.id}, title={self.title!r})"

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def title(self) -> str:
        return self.chat.title or ""

    def _actor(self, by: UserDriver | None) -> UserRecord:
        if by is not None:
            return by.record
        owner_id = self.chat.extra.get("owner_id")
        if owner_id is None:
            owner = self._emu.user(first_name="Group Owner", language_code="en")
            self.chat.members[owner.id] = "creator"
            self.chat.extra["owner_id"] = owner.id
            return owner.record
        return self._emu.users[owner_id]

    def _post(self, member: UserDriver, body: JSONDict, reply_to: ReplyTarget = None) -> JSONDict:
        return self._emu.post_user_message(
            self.chat, member.record, body, reply_to=self._resolve_reply(reply_to)
        )

    async def send(
        self, member: UserDriver, text: str, *, reply_to: ReplyTarget = None
    ) -> JSONDict:
        """``member`` writes ``text`` here; privacy mode decides whether the bot sees it."""
        return self._post(member, _text_body("text", text), reply_to)

    async def send_photo(
        self,
        member: UserDriver,
        caption: str | None = None,
        *,
        data: bytes | None = None,
        reply_to: ReplyTarget = None,
    ) -> JSONDict:
        return self._post(member, self._emu.user_photo_body(data, caption), reply_to)

    async def send_document(
        self,
        member: UserDriver,
        filename: str = "document.pdf",
        mime_type: str = "application/pdf",
        *,
        data: bytes | None = None,
        caption: str | None = None,
    ) -> JSONDict:
        return self._post(member, self._emu.user_document_body(filename, mime_type, data, caption))

    async def send_voice(
        self, member: UserDriver, duration: int = 3, *, data: bytes | None = None
    ) -> JSONDict:
        return self._post(member, self._emu.user_voice_body(duration, data))

    async def send_location(
        self, member: UserDriver, latitude: float, longitude: float
    ) -> JSONDict:
        return self._post(member, {"location": {"latitude": latitude, "longitude": longitude}})

    async def edit(self, member: UserDriver, message: JSONDict, text: str) -> JSONDict:
        return self._emu.edit_user_message(self.chat, message, text)

    async def press(
        self,
        member: UserDriver,
        message: MessageRef,
        text: str | None = None,
        *,
        callback_data: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CallbackAnswer:
        data = self._button_data(message, text, callback_data)
        return await self._press(member.record, message, data, timeout)

    async def press_data(
        self,
        member: UserDriver,
        message: MessageRef,
        data: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CallbackAnswer:
        return await self._press(member.record, message, data, timeout)

    def commands(self, user: UserDriver) -> list[str]:
        """The commands this member's menu shows in the group, as Telegram picks them."""
        seen = self._emu.commands_seen(self.chat.id, user.id, user.language_code or "")
        return ["/" + c["command"] for c in seen]

    async def expect_commands(
        self,
        user: UserDriver,
        predicate: Callable[[list[str]], bool],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[str]:
        """Wait until this member's command menu here satisfies `predicate`; the menu."""
        try:
            await self._emu.signal.wait_for(lambda: predicate(self.commands(user)), timeout)
        except TimeoutError:
            shown = self.commands(user)
            raise AssertionError(f"the menu did not change as expected: {shown}") from None
        return self.commands(user)

    def set_member(self, user: UserDriver, status: str = "member") -> None:
        """Silently set a user's membership status (creator/administrator/member/left/kicked)."""
        self.chat.members[user.id] = status

    async def add_bot(self, by: UserDriver | None = None) -> JSONDict:
        """Someone adds the bot: my_chat_member (left -> member) and a new_chat_members message."""
        actor = self._actor(by)
        self.chat.bot_status = "member"
        self._emu.emit_my_chat_member(self.chat, actor.to_dict(), "left", "member")
        return self._emu.post_user_message(
            self.chat, actor, {"new_chat_members": [self._emu.bot_user_dict()]}
        )

    async def remove_bot(self, by: UserDriver | None = None) -> None:
        """Someone removes the bot: it gets my_chat_member (-> kicked) and nothing more."""
        actor = self._actor(by)
        old = self.chat.bot_status
        self.chat.bot_status = "kicked"
        self._emu.emit_my_chat_member(self.chat, actor.to_dict(), old, "kicked")

    async def promote_bot(
        self,
        *,
        can_delete_messages: bool = True,
        can_restrict_members: bool = True,
        by: UserDriver | None = None,
    ) -> None:
        """Make the bot an admin (admins see every group message, privacy mode or not)."""
        actor = self._actor(by)
        old = self.chat.bot_status
        self.chat.bot_status = "administrator"
        self.chat.bot_can_delete = can_delete_messages
        self.chat.bot_can_restrict = can_restrict_members
        self._emu.emit_my_chat_member(self.chat, actor.to_dict(), old, "administrator")

    async def add_member(self, user: UserDriver, by: UserDriver | None = None) -> JSONDict:
        """``user`` joins (or is added by ``by``): a new_chat_members service message."""
        actor = by.record if by is not None else user.record
        old = self.chat.members.get(user.id, "left")
        self.chat.members[user.id] = "member"
        self._emu.emit_chat_member(self.chat, actor, user.record, old, "member")
        return self._emu.post_user_message(
            self.chat, actor, {"new_chat_members": [user.record.to_dict()]}
        )

    async def remove_member(self, user: UserDriver, by: UserDriver | None = None) -> JSONDict:
        actor = by.record if by is not None else user.record
        old = self.chat.members.get(user.id, "member")
        new = "kicked" if by is not None and by.id != user.id else "left"
        self.chat.members[user.id] = new
        self._emu.emit_chat_member(self.chat, actor, user.record, old, new)
        # The service message is posted by the actor; a user who left is no longer a member.
        raw = self._emu.post_user_message(
            self.chat, actor, {"left_chat_member": user.record.to_dict()}
        )
        self.chat.members[user.id] = new
        return raw


class BotApiEmulator(EmulatorCore):
    """The emulated Bot API server plus simulated users and groups.

    ``async with BotApiEmulator(token=..., bot_username=...) as emu:`` then point the
    Application at ``emu.base_url`` / ``emu.base_file_url``."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "emulator_bot",
        bot_first_name: str = "Emulator Bot",
        *,
        privacy_mode: bool = True,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_insecure_webhooks: bool = True,
    ) -> None:
        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        super().__init__(
            token,
            bot_username,
            bot_first_name,
            privacy_mode=privacy_mode,
            host=host,
            port=port,
            allow_insecure_webhooks=allow_insecure_webhooks,
            **kwargs,
        )
        self._next_user_id = 1_000_001
        self._next_group = 1

    @property
    def signal(self) -> Signal:
        """The change signal drivers wait on."""
        return self._signal

    def user(
        self,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        user_id: int | None = None,
        started: bool = True,
    ) -> UserDriver:
        """A new Telegram user (ids auto-increment). Nothing is sent until the test says so.

        ``started=False`` models someone who never opened a chat with the bot: until they
        write to it, the bot's messages to them fail with "bot can't initiate conversation"."""
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id in self.users:
            raise ValueError(f"user {user_id} exists already")
        record = UserRecord(user_id, first_name, last_name, username, language_code)
        record.started = started
        self.users[user_id] = record
        chat = ChatRecord(id=user_id, type="private", user=record)
        self.chats[user_id] = chat
        return UserDriver(self, record, chat)

    def group(
        self,
        title: str = "Group",
        *,
        username: str | None = None,
        supergroup: bool = True,
        owner: UserDriver | None = None,
        members: Iterable[UserDriver] = (),
        admins: Iterable[UserDriver] = (),
        bot_member: bool = True,
        bot_is_admin: bool = False,
        bot_can_delete_messages: bool = True,
        bot_can_restrict_members: bool = True,
    ) -> GroupDriver:
        """A group with the bot already in it (no update is emitted; use add_bot() for that)."""
        number = self._next_group
        self._next_group += 1
        chat_id = -(1_001_000_000_000 + number) if supergroup else -(4_000_000_000 + number)
        chat = ChatRecord(
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
        )
        chat.bot_status = ("administrator" if bot_is_admin else "member") if bot_member else "left"
        chat.bot_can_delete = bot_is_admin and bot_can_delete_messages
        chat.bot_can_restrict = bot_is_admin and bot_can_restrict_members
        if owner is not None:
            chat.members[owner.id] = "creator"
            chat.extra["owner_id"] = owner.id
        for member in members:
            chat.members.setdefault(member.id, "member")
        for admin in admins:
            chat.members[admin.id] = "administrator"
        self.chats[chat_id] = chat
        return GroupDriver(self, chat)

    def chat(self, chat_id: int) -> ChatRecord:
        return self.chats[chat_id]

    def history(self, chat_id: int) -> list[JSONDict]:
        return list(self.chats[chat_id].messages.values())

    def bot_messages(self, chat_id: int | None = None) -> list[BotMessage]:
        chats = [self.chats[chat_id]] if chat_id is not None else list(self.chats.values())
        return [message for chat in chats for message in chat.bot_messages.values()]

    # --- bodies of user messages ---------------------------------------------------------------

    def user_photo_body(self, data: bytes | None, caption: str | None) -> JSONDict:
        data = data if data is not None else tiny_png(4, 3)
        width, height = image_size(data) or (100, 100)
        stored = self.store_file(data, "photo", mime_type="image/jpeg", width=width, height=height)
        body = self.media_body(stored, "photo")
        if caption:
            body.update(_text_body("caption", caption))
        return body

    def user_document_body(
        self, filename: str, mime_type: str, data: bytes | None, caption: str | None
    ) -> JSONDict:
        data = data if data is not None else f"emulated document {filename}\n".encode()
        stored = self.store_file(data, "document", filename=filename, mime_type=mime_type)
        body = self.media_body(stored, "document")
        if caption:
            body.update(_text_body("caption", caption))
        return body

    def user_voice_body(self, duration: int, data: bytes | None) -> JSONDict:
        data = data if data is not None else tiny_ogg(duration)
        stored = self.store_file(data, "voice", mime_type="audio/ogg", duration=duration)
        return self.media_body(stored, "voice")

    def user_sticker_body(self, emoji: str) -> JSONDict:
        stored = self.store_file(tiny_webp(), "sticker", width=512, height=512)
        body = self.media_body(stored, "sticker")
        body["sticker"]["emoji"] = emoji
        return body

    def edit_user_message(self, chat: ChatRecord, message: JSONDict, text: str) -> JSONDict:
        message_id = int(message["message_id"])
        raw = chat.messages.get(message_id)
        if raw is None or "text" not in raw or raw.get("from", {}).get("id") == self.bot_id:
            raise AssertionError(f"message {message_id} is not a user's text message here")
        raw.update(_text_body("text", text))
        if "entities" not in _text_body("text", text):
            raw.pop("entities", None)
        raw["edit_date"] = int(self.clock())
        if self.should_deliver(chat, raw):
            self.emit_update("edited_message", dict(raw))
        self.signal.fire()
        return raw

    def emit_chat_member(
        self, chat: ChatRecord, actor: UserRecord, user: UserRecord, old: str, new: str
    ) -> None:
        """chat_member update (only delivered if the bot asked for it in allowed_updates)."""
        if chat.bot_status != "administrator":
            return  # Telegram sends chat_member updates to admin bots only
        self.emit_update(
            "chat_member",
            {
                "chat": chat.to_dict(),
                "from": actor.to_dict(),
                "date": int(self.clock()),
                "old_chat_member": member_dict(user.to_dict(), old),
                "new_chat_member": member_dict(user.to_dict(), new),
            },
        )
