"""Checks a chat's transcript (the emulator's record of everything the bot and the user did
there, in order) for "exactly once, as the resident sees it". ``check_transcript`` returns a
list of plain-language violations, empty when the transcript passes.

The rules, each stated as the resident would notice it:

(a) No message twice. Two messages the bot *sent* (not edits) with the same text and the same
    inline button labels, with no message from the user between them, are one message sent
    twice. A message from the user (text, photo, command...) is what may legitimately earn the
    same answer again; a button press does not separate them, because a press answers the
    message it is on (the report flow edits that message in place) and never asks for a fresh
    copy of an earlier one. A repeated answer to a repeated user message is not a duplicate.

(b) Never back to an older text. Each message's versions (as sent, then after every edit) are
    compared by text and button labels: a version equal to an earlier one, after a different
    one, is a step backwards (a stale edit replayed after a newer one). One exception: when
    the latest thing that happened to that message before the step back is the user pressing
    one of its buttons, the user asked to go back (the report's "« Back" and "Change").

(c) No live button on a superseded copy. At the end of the transcript, a message still carrying
    callback buttons is stale when the bot later sent a message with the same text and labels
    as this one had when it was sent (the same prompt again: pressing the old copy answers
    the stale-button alert). And, when ``flow_buttons`` names the labels of a flow's prompts (the
    report draft's ✅ Send, Cancel, categories...), at most ``open_prompts`` messages may still
    carry any of them at the end: one draft is open at a time, and after a finished
    conversation none is.

Deleted messages are out of the resident's sight and skipped by (c).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from emulator import TranscriptEntry

Content = tuple[str, tuple[tuple[str, ...], ...]]


def _content(entry: TranscriptEntry) -> Content:
    return entry.text, entry.labels


def _quote(text: str) -> str:
    line = text.replace("\n", " ")
    return repr(line if len(line) <= 80 else line[:80] + "…")


def check_transcript(
    transcript: Sequence[TranscriptEntry],
    *,
    flow_buttons: Collection[str] = (),
    open_prompts: int = 1,
) -> list[str]:
    """Violations of rules (a), (b), (c) above in one chat's transcript, oldest first."""
    return [
        *_sent_twice(transcript),
        *_edited_backwards(transcript),
        *_stale_buttons(transcript, flow_buttons, open_prompts),
    ]


def _sent_twice(transcript: Sequence[TranscriptEntry]) -> list[str]:
    problems: list[str] = []
    since_user: dict[Content, TranscriptEntry] = {}  # sent since the user's last message
    for entry in transcript:
        if entry.kind == "user":
            since_user.clear()
        elif entry.kind == "sent":
            earlier = since_user.get(_content(entry))
            if earlier is not None:
                problems.append(
                    f"message #{entry.message_id} repeats #{earlier.message_id} "
                    f"{_quote(entry.text)} with no message from the user in between"
                )
            else:
                since_user[_content(entry)] = entry
    return problems


def _edited_backwards(transcript: Sequence[TranscriptEntry]) -> list[str]:
    problems: list[str] = []
    versions: dict[int, list[Content]] = {}
    last_event: dict[int, str] = {}  # message id -> kind of the latest entry about it
    for entry in transcript:
        if entry.kind == "sent":
            versions[entry.message_id] = [_content(entry)]
        elif entry.kind == "edited" and entry.message_id in versions:
            history = versions[entry.message_id]
            now = _content(entry)
            asked = last_event.get(entry.message_id) == "press"
            if now != history[-1] and now in history[:-1] and not asked:
                problems.append(
                    f"message #{entry.message_id} went back to an older text "
                    f"{_quote(entry.text)} after {_quote(history[-1][0])}"
                )
            history.append(now)
        last_event[entry.message_id] = entry.kind
    return problems


def _stale_buttons(
    transcript: Sequence[TranscriptEntry], flow_buttons: Collection[str], open_prompts: int
) -> list[str]:
    problems: list[str] = []
    sent: dict[int, TranscriptEntry] = {}
    current: dict[int, TranscriptEntry] = {}
    for entry in transcript:
        if entry.kind == "sent":
            sent[entry.message_id] = entry
            current[entry.message_id] = entry
        elif entry.kind == "edited" and entry.message_id in current:
            current[entry.message_id] = entry
        elif entry.kind == "deleted":
            current.pop(entry.message_id, None)
    live = [entry for entry in current.values() if entry.live_buttons]
    for entry in live:
        first = sent[entry.message_id]
        newer = next(
            (
                later
                for later in sent.values()
                if later.seq > first.seq and _content(later) == _content(first)
            ),
            None,
        )
        if newer is not None:
            labels = [label for row in entry.labels for label in row]
            shown = ", ".join(labels[:3]) + (
                f" and {len(labels) - 3} more" if len(labels) > 3 else ""
            )
            problems.append(
                f"message #{entry.message_id} {_quote(entry.text)} still has live buttons "
                f"({shown}) though #{newer.message_id} replaced it"
            )
    if flow_buttons:
        wanted = set(flow_buttons)
        prompts = [
            entry for entry in live if any(label in wanted for row in entry.labels for label in row)
        ]
        if len(prompts) > open_prompts:
            ids = ", ".join(f"#{entry.message_id} {_quote(entry.text)}" for entry in prompts)
            problems.append(
                f"{len(prompts)} message(s) still carry the flow's buttons at the end "
                f"(at most {open_prompts} may): {ids}"
            )
    return problems
