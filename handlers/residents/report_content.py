"""What a private message brings to a report draft: its words, voice, photos or location.

Used by the report's conversation (report.py) and by the one private-message router
(private_messages.py), which asks whether a message can start a report at all.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Message

from runtime.context import NotebookContext
from storage.issues import NewAttachment
from storage.reports import ReportDraft, voice_description

IMAGE_MIME_PREFIX = "image/"
MESSAGES_KEPT = 20  # the messages a draft remembers, to mark them as filed
RECEIVED = "👌"  # the reaction on every message filed into an issue
MARKED_AT_MOST = 10  # the last messages of a report marked as received


async def react(context: NotebookContext, chat_id: int, message_ids: list[int]) -> None:
    """Mark each message filed as received, so the resident sees it arrived (after the
    commit, like every call of an update)."""
    for message_id in message_ids[-MARKED_AT_MOST:]:
        await context.bot.set_message_reaction(chat_id, message_id, RECEIVED)


def absorb(draft: ReportDraft, message: Message) -> bool:
    """Take the words, voice, photos or location of `message` into the draft. Returns False for
    the later messages of an album already seen (they are taken silently, without a reply)."""
    if message.message_id not in draft.message_ids:
        draft.message_ids = [*draft.message_ids, message.message_id][-MESSAGES_KEPT:]
    first_of_album = True
    if message.media_group_id:
        first_of_album = message.media_group_id not in draft.media_groups
        if first_of_album:
            draft.media_groups.append(message.media_group_id)
    if message.voice is not None:
        voice = message.voice
        if draft.description is None:
            draft.description = voice_description(seconds(voice.duration))
        draft.add_attachment(
            NewAttachment(
                kind="voice",
                telegram_file_id=voice.file_id,
                file_unique_id=voice.file_unique_id,
                mime_type=voice.mime_type,
            )
        )
    if message.photo:
        photo = message.photo[-1]  # the largest size
        draft.add_attachment(
            NewAttachment(
                kind="photo",
                telegram_file_id=photo.file_id,
                file_unique_id=photo.file_unique_id,
                mime_type="image/jpeg",
                caption=message.caption,
            )
        )
    if message.document is not None and is_image_document(message):
        doc = message.document
        draft.add_attachment(
            NewAttachment(
                kind="document",
                telegram_file_id=doc.file_id,
                file_unique_id=doc.file_unique_id,
                mime_type=doc.mime_type,
                caption=message.caption,
            )
        )
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        draft.latitude, draft.longitude = location.latitude, location.longitude
    words = message.text or message.caption
    if words:
        draft.add_text(words)
    return first_of_album


def seconds(duration: int | timedelta) -> int:
    return int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)


def is_image_document(message: Message) -> bool:
    """A photo sent "as a file" (uncompressed) is still a photo of the problem."""
    doc = message.document
    return doc is not None and (doc.mime_type or "").startswith(IMAGE_MIME_PREFIX)


def has_report_content(message: Message) -> bool:
    return bool(
        message.text
        or message.voice
        or message.photo
        or message.location
        or message.venue
        or is_image_document(message)
    )


def has_media(message: Message) -> bool:
    """A photo, voice message, location or image file: something only a report takes."""
    return bool(
        message.voice
        or message.photo
        or message.location
        or message.venue
        or is_image_document(message)
    )
