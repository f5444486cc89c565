"""An issue's title: the one line that names it everywhere (the card, /my, the notebook page,
the digest, the exports). A voice message or photos alone say nothing in words; a worker (from
the card) or the resident (by typing) adds a one-line summary, and from then on the summary is
the title. Until then the title says what there is: a voice message of N seconds, or photos.

Plain rules over the stored text; the words ("voice message of 12 seconds from 老许") are the
handlers' (handlers/shared/issue_texts.py), in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Issue

SUMMARY_CHARS = 120  # one line
# How a voice message stands as the description (storage/reports.py: voice_description)
VOICE_MARK = re.compile(r"^🎤 (\d+):(\d{2})$")


class SummaryRefused(ValueError):
    """Empty words, or the issue already has a summary in words."""


@dataclass(frozen=True)
class Title:
    """What names an issue: `words` (the summary, or the first words the resident wrote), or
    else a voice message of `voice_seconds` (None: photos or nothing in words)."""

    words: str | None
    voice_seconds: int | None = None


def words_of(description: str | None) -> str:
    """The description without the lines that only stand for a voice message."""
    lines = (description or "").strip().splitlines()
    return "\n".join(line for line in lines if not VOICE_MARK.match(line.strip())).strip()


def voice_seconds(description: str | None) -> int | None:
    for line in (description or "").strip().splitlines():
        found = VOICE_MARK.match(line.strip())
        if found:
            return int(found.group(1)) * 60 + int(found.group(2))
    return None


def title_of(description: str | None, summary: str | None) -> Title:
    if summary:
        return Title(summary)
    words = words_of(description)
    if words:
        return Title(words)
    return Title(None, voice_seconds(description))


def needs_summary(issue: Issue) -> bool:
    """A report with nothing in words (a voice message, photos) and no summary yet."""
    return not issue.summary and not words_of(issue.description)


def one_line(text: str) -> str:
    """The summary as it is kept: the first line, trimmed, at most SUMMARY_CHARS."""
    lines = text.strip().splitlines()
    return " ".join(lines[0].split())[:SUMMARY_CHARS] if lines else ""


async def set_summary(
    session: AsyncSession, issue: Issue, text: str, *, now: datetime, replace: bool = True
) -> str:
    """Give the issue its one-line summary; it becomes the title everywhere. `replace` False:
    only when it has none yet (the resident's words never overwrite a worker's summary)."""
    line = one_line(text)
    if not line:
        raise SummaryRefused("no words")
    if not replace and not needs_summary(issue):
        raise SummaryRefused("already named")
    issue.summary = line
    issue.version = (issue.version or 0) + 1
    issue.last_activity_at = now
    session.add(issue)
    return line
