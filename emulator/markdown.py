"""Telegram's MarkdownV2 and legacy Markdown formatting, validated strictly.

The HTML parser is the thorough one (the project formats with HTML); these cover the common
syntax so a bot using MarkdownV2 still gets Telegram's most frequent complaint, an unescaped
reserved character ("Character '.' is reserved and must be escaped with the preceding '\\'").
Offsets are UTF-16 units, as everywhere in the emulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.text import EntityParseError, JSONDict, ParsedText, byte_offset, sort_entities

_RESERVED_V2 = set("_*[]()~`>#+-=|{}.!")

_ENTITY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
}


@dataclass
class _Out:
    parts: list[str] = field(default_factory=list)
    units: int = 0

    def append(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.units += len(chunk) + sum(1 for ch in chunk if ord(ch) > 0xFFFF)


@dataclass
class _Open:
    kind: str
    start: int
    byte_pos: int
    parts_index: int


def _read_code(source: str, i: int, fence: str, out: _Out, strict: bool) -> int:
    """Copy code content from ``i`` until ``fence``; returns the index after the fence or -1.
    In MarkdownV2 only "`" and "\\" may (must) be escaped inside code."""
    n = len(source)
    while i < n:
        if source.startswith(fence, i):
            return i + len(fence)
        if strict and source[i] == "\\" and i + 1 < n and source[i + 1] in "`\\":
            out.append(source[i + 1])
            i += 2
            continue
        out.append(source[i])
        i += 1
    return -1


def _read_url(source: str, i: int) -> tuple[str, int]:
    """Read "(url)" starting at ``source[i] == "("``; returns (url, index after ")")."""
    url: list[str] = []
    j = i + 1
    while j < len(source):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in ")\\":
            url.append(source[j + 1])
            j += 2
            continue
        if source[j] == ")":
            return "".join(url), j + 1
        url.append(source[j])
        j += 1
    raise EntityParseError(f"Can't find end of a url at byte offset {byte_offset(source, i)}")


def parse_markdown_v2(source: str) -> ParsedText:
    """Parse MarkdownV2; raise EntityParseError like Telegram for unescaped reserved chars."""
    out = _Out()
    stack: list[_Open] = []
    entities: list[JSONDict] = []
    quote_start: int | None = None
    n = len(source)
    i = 0

    def toggle(kind: str) -> None:
        if stack and stack[-1].kind == kind:
            opened = stack.pop()
            entities.append(
                {"type": kind, "offset": opened.start, "length": out.units - opened.start}
            )
        else:
            stack.append(_Open(kind, out.units, byte_offset(source, i), len(out.parts)))

    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            out.append(source[i + 1])
            i += 2
            continue
        if char == "\n" and quote_start is not None and not source.startswith(">", i + 1):
            entities.append(
                {"type": "blockquote", "offset": quote_start, "length": out.units - quote_start}
            )
            quote_start = None
        if char not in _RESERVED_V2:
            out.append(char)
            i += 1
            continue
        pos = byte_offset(source, i)
        if char == "`":
            fence = "```" if source.startswith("```", i) else "`"
            start = out.units
            j = i + len(fence)
            language = None
            if fence == "```":
                newline = source.find("\n", j)
                header = source[j:newline] if newline >= 0 else ""
                if newline >= 0 and header and not any(c.isspace() for c in header):
                    language = header
                    j = newline + 1
                elif newline == j:
                    j = newline + 1
            j = _read_code(source, j, fence, out, strict=True)
            if j < 0:
                name = "Pre" if fence == "```" else "Code"
                raise EntityParseError(f"Can't find end of {name} entity at byte offset {pos}")
            entity: JSONDict = {
                "type": "pre" if fence == "```" else "code",
                "offset": start,
                "length": out.units - start,
            }
            if language:
                entity["language"] = language
            entities.append(entity)
            i = j
            continue
        if char == "[":
            stack.append(_Open("text_link", out.units, pos, len(out.parts)))
            i += 1
            continue
        if char == "]" and stack and stack[-1].kind == "text_link":
            opened = stack.pop()
            if i + 1 < n and source[i + 1] == "(":
                url, i = _read_url(source, i + 1)
            else:
                url = "".join(out.parts[opened.parts_index :])
                i += 1
            entities.append(
                {
                    "type": "text_link",
                    "offset": opened.start,
                    "length": out.units - opened.start,
                    "url": url,
                }
            )
            continue
        if char == "*":
            toggle("bold")
            i += 1
            continue
        if char == "_":
            if source.startswith("__", i) and not (stack and stack[-1].kind == "italic"):
                toggle("underline")
                i += 2
            else:
                toggle("italic")
                i += 1
            continue
        if char == "~":
            toggle("strikethrough")
            i += 1
            continue
        if char == "|" and source.startswith("||", i):
            toggle("spoiler")
            i += 2
            continue
        if char == ">" and (i == 0 or source[i - 1] == "\n"):
            if quote_start is None:
                quote_start = out.units
            i += 1
            continue
        raise EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )
    if stack:
        opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_ENTITY_NAMES[opened.kind]} entity at byte offset "
            f"{opened.byte_pos}"
        )
    if quote_start is not None:
        entities.append(
            {"type": "blockquote", "offset": quote_start, "length": out.units - quote_start}
        )
    return ParsedText("".join(out.parts), sort_entities(entities))


def parse_markdown(source: str) -> ParsedText:
    """Parse legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _Out()
    entities: list[JSONDict] = []
    n = len(source)
    i = 0
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            i += 1
            continue
        pos = byte_offset(source, i)
        start = out.units
        error = EntityParseError(f"Can't find end of the entity starting at byte offset {pos}")
        if char == "`":
            fence = "```" if source.startswith("```", i) else "`"
            j = _read_code(source, i + len(fence), fence, out, strict=False)
            if j < 0:
                raise error
            kind = "pre" if fence == "```" else "code"
            entities.append({"type": kind, "offset": start, "length": out.units - start})
            i = j
            continue
        if char == "[":
            end = source.find("]", i + 1)
            if end < 0:
                raise error
            out.append(source[i + 1 : end])
            if end + 1 < n and source[end + 1] == "(":
                close = source.find(")", end + 2)
                if close < 0:
                    raise error
                url = source[end + 2 : close]
                entities.append(
                    {"type": "text_link", "offset": start, "length": out.units - start, "url": url}
                )
                i = close + 1
            else:
                i = end + 1
            continue
        end = source.find(char, i + 1)
        if end < 0:
            raise error
        out.append(source[i + 1 : end])
        kind = "bold" if char == "*" else "italic"
        entities.append({"type": kind, "offset": start, "length": out.units - start})
        i = end + 1
    return ParsedText("".join(out.parts), sort_entities(entities))
