"""Direct tests of tests/transcripts.py on hand-made transcripts: each rule has a transcript
that breaks it and one that passes, so the crash test's check is shown able to fail."""

from __future__ import annotations

from typing import Any

from emulator import TranscriptEntry
from tests.transcripts import check_transcript

CHAT = 1_000_001
QUESTION = "What is the problem about?\n«lamp broken»"
CHECK = "Please check your report:\nProblem: Public facilities"
DONE = "Thank you! Your issue is No. 56."


def keyboard(*labels: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": label} for label in labels]]}


class Chat:
    """Builds a transcript the way the emulator records one."""

    def __init__(self) -> None:
        self.entries: list[TranscriptEntry] = []
        self.next_id = 1

    def _add(self, kind: Any, message_id: int, text: str, markup: Any = None, **kw: Any) -> int:
        self.entries.append(
            TranscriptEntry(len(self.entries) + 1, kind, CHAT, message_id, text, markup, **kw)
        )
        return message_id

    def user(self, text: str) -> int:
        self.next_id += 1
        return self._add("user", self.next_id - 1, text, user_id=CHAT)

    def sent(self, text: str, *labels: str) -> int:
        self.next_id += 1
        return self._add("sent", self.next_id - 1, text, keyboard(*labels) if labels else None)

    def edited(self, message_id: int, text: str, *labels: str) -> None:
        self._add("edited", message_id, text, keyboard(*labels) if labels else None)

    def press(self, message_id: int, label: str) -> None:
        self._add("press", message_id, label, keyboard(label), user_id=CHAT, data=label)

    def deleted(self, message_id: int, text: str) -> None:
        self._add("deleted", message_id, text)


def test_a_question_sent_twice_for_one_message_is_a_violation() -> None:
    chat = Chat()
    chat.user("lamp broken")
    first = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.press(first, "Public facilities")  # a press does not ask for the question again
    second = chat.sent(QUESTION, "Public facilities", "Cancel")
    assert check_transcript(chat.entries, open_prompts=2) == [
        f"message #{second} repeats #{first} 'What is the problem about? «lamp broken»' with "
        "no message from the user in between",
        f"message #{first} 'What is the problem about? «lamp broken»' still has live buttons "
        f"(Public facilities, Cancel) though #{second} replaced it",
    ]


def test_the_same_answer_to_each_of_two_messages_is_not_a_duplicate() -> None:
    chat = Chat()
    chat.user("hello")
    chat.sent("Please use the buttons.")
    chat.user("hello?")
    chat.sent("Please use the buttons.")
    chat.sent("Please use the buttons!")  # a different text in the same step is fine too
    assert check_transcript(chat.entries) == []


def test_an_edit_back_to_an_older_text_is_a_violation() -> None:
    chat = Chat()
    chat.user("lamp broken")
    question = chat.sent(QUESTION, "Public facilities")
    chat.press(question, "Public facilities")
    chat.edited(question, CHECK, "✅ Send", "Cancel")
    chat.press(question, "✅ Send")
    chat.edited(question, DONE)
    chat.edited(question, CHECK, "✅ Send", "Cancel")  # an owed edit replayed after a restart
    chat.edited(question, DONE)
    assert check_transcript(chat.entries) == [
        f"message #{question} went back to an older text 'Please check your report: Problem: "
        "Public facilities' after 'Thank you! Your issue is No. 56.'",
        f"message #{question} went back to an older text 'Thank you! Your issue is No. 56.' "
        "after 'Please check your report: Problem: Public facilities'",
    ]


def test_going_back_at_the_users_press_is_not_a_violation() -> None:
    chat = Chat()
    chat.user("lamp broken")
    question = chat.sent(CHECK, "✅ Send", "Change")
    chat.press(question, "Change")
    chat.edited(question, "What would you like to change?", "« Back")
    chat.press(question, "« Back")
    chat.edited(question, CHECK, "✅ Send", "Change")  # the user asked to go back
    chat.press(question, "✅ Send")
    chat.edited(question, DONE)
    assert check_transcript(chat.entries) == []


def test_live_buttons_on_a_superseded_copy_are_a_violation() -> None:
    chat = Chat()
    chat.user("lamp broken")
    first = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.user("lamp broken")  # even after a new message, the old copy must not stay live
    second = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.press(second, "Public facilities")
    chat.edited(second, DONE)
    assert check_transcript(chat.entries) == [
        f"message #{first} 'What is the problem about? «lamp broken»' still has live buttons "
        f"(Public facilities, Cancel) though #{second} replaced it"
    ]


def test_a_superseded_copy_without_buttons_or_deleted_passes() -> None:
    chat = Chat()
    chat.user("lamp broken")
    first = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.edited(first, "Cancelled. Nothing was sent.")
    chat.user("lamp broken")
    second = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.user("lamp broken")
    chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.deleted(second, QUESTION)
    assert check_transcript(chat.entries) == []


def test_more_open_prompts_of_a_flow_than_allowed_are_a_violation() -> None:
    chat = Chat()
    chat.user("lamp broken")
    done = chat.sent(QUESTION, "Public facilities", "Cancel")
    chat.press(done, "Public facilities")
    chat.edited(done, DONE)
    chat.user("water off")
    left = chat.sent("What is the problem about?\n«water off»", "Utilities", "Cancel")
    flow = {"Public facilities", "Utilities", "Cancel", "✅ Send"}
    assert check_transcript(chat.entries, flow_buttons=flow, open_prompts=1) == []
    assert check_transcript(chat.entries, flow_buttons=flow, open_prompts=0) == [
        f"1 message(s) still carry the flow's buttons at the end (at most 0 may): #{left} "
        "'What is the problem about? «water off»'"
    ]
