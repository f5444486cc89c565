"""Telegram's HTML formatting (``parse_mode="HTML"``), validated strictly.

``parse_html(source)`` returns the plain text the recipient sees plus its entities (offsets in
UTF-16 units), so length limits can be checked after parsing as Telegram does. Anything
Telegram would reject raises :class:`EntityParseError` with a detail in Telegram's wording
("Unsupported start tag "x" at byte offset 3", ...). One deliberate difference: Telegram
leaves an unknown ``&name;`` or a bare ``&`` as literal text, while this parser rejects both,
because a bot that forgets to escape ``&`` will sooner or later also forget ``<``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulator.text import EntityParseError, JSONDict, ParsedText, byte_offset, sort_entities

# tag -> entity type; "span" is only valid as <span class="tg-spoiler">.
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{0,31});")
_URL_OK_RE = re.compile(r"^(?:https?|tg|ftp|mailto)://?[^\s]+$|^[^\s:/]+\.[^\s]+$", re.IGNORECASE)


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the output
    attrs: dict[str, str]
    byte_pos: int
    parts_index: int  # where this tag's text starts in the output parts
    language: str | None = None  # set by an inner <code class="language-x"> for <pre>


@dataclass
class _Output:
    parts: list[str] = field(default_factory=list)
    units: int = 0

    def append(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.units += len(chunk) + sum(1 for ch in chunk if ord(ch) > 0xFFFF)


def _decode_entity(source: str, index: int) -> tuple[str, int]:
    """Decode the character reference at ``source[index] == "&"``: (char, consumed length)."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        raise EntityParseError(
            f'Character "&" must be escaped as "&amp;" at byte offset {byte_offset(source, index)}'
        )
    body = match.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(
                f'Invalid character reference "{match.group(0)}" at byte offset '
                f"{byte_offset(source, index)}"
            )
        return chr(code), match.end() - index
    char = _NAMED_ENTITIES.get(body)
    if char is None:
        raise EntityParseError(
            f'Unsupported HTML entity "{match.group(0)}" at byte offset '
            f"{byte_offset(source, index)}"
        )
    return char, match.end() - index


def _decode_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            char, used = _decode_entity(value, i)
            out.append(char)
            i += used
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _skip_spaces(source: str, i: int) -> int:
    while i < len(source) and source[i].isspace():
        i += 1
    return i


def _parse_start_tag(source: str, begin: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="v" ...>`` starting at ``begin``; returns (name, attrs, next index)."""
    n = len(source)
    pos = byte_offset(source, begin)
    i = begin + 1
    j = i
    while j < n and not source[j].isspace() and source[j] != ">":
        j += 1
    if j >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {pos}")
    name = source[i:j].lower()
    if name not in _TAG_ENTITY:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {pos}')
    attrs: dict[str, str] = {}
    i = j
    while True:
        i = _skip_spaces(source, i)
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {pos}')
        if source[i] == ">":
            return name, attrs, i + 1
        attr_begin = i
        while i < n and not source[i].isspace() and source[i] not in "=>":
            i += 1
        attr_name = source[attr_begin:i].lower()
        if not attr_name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{name}" at byte offset '
                f"{byte_offset(source, attr_begin)}"
            )
        i = _skip_spaces(source, i)
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {pos}')
        if source[i] != "=":
            attrs[attr_name] = ""  # valueless attribute, e.g. <blockquote expandable>
            continue
        i = _skip_spaces(source, i + 1)
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {pos}')
        if source[i] in "\"'":
            quote = source[i]
            end = source.find(quote, i + 1)
            if end < 0:
                raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {pos}')
            raw_value = source[i + 1 : end]
            i = end + 1
        else:
            end = i
            while end < n and not source[end].isspace() and source[end] != ">":
                end += 1
            raw_value = source[i:end]
            i = end
        attrs[attr_name] = _decode_attribute(raw_value)


def _entity_for(tag: _OpenTag, end: int, text_so_far: str) -> JSONDict | None:
    """Build the entity a closed tag produces, or None when the tag yields none."""
    kind = _TAG_ENTITY[tag.name]
    entity: JSONDict = {"type": kind, "offset": tag.start, "length": end - tag.start}
    if tag.name == "a":
        href = tag.attrs.get("href", "")
        if not href:
            # Telegram uses the link text itself as the URL when href is missing.
            href = text_so_far
        if not _URL_OK_RE.match(href.strip()):
            return None  # Telegram silently drops links with unusable URLs.
        entity["url"] = href.strip()
    elif tag.name == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    return entity


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML into plain text + entities; raise EntityParseError when invalid."""
    out = _Output()
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    n = len(source)
    i = 0
    while i < n:
        char = source[i]
        if char == "&":
            decoded, used = _decode_entity(source, i)
            out.append(decoded)
            i += used
            continue
        if char != "<":
            # Copy the run of ordinary characters in one go.
            j = i
            while j < n and source[j] not in "<&":
                j += 1
            out.append(source[i:j])
            i = j
            continue
        begin = i
        pos = byte_offset(source, begin)
        if i + 1 >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {pos}")
        if source[i + 1] != "/":
            name, attrs, i = _parse_start_tag(source, begin)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {pos}'
                )
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise EntityParseError(
                    f'Tag "tg-emoji" must have attribute "emoji-id" with a custom emoji '
                    f"identifier at byte offset {pos}"
                )
            stack.append(_OpenTag(name, out.units, attrs, pos, len(out.parts)))
            continue
        # End tag: "</name>" (whitespace allowed before ">").
        j = i + 2
        while j < n and source[j] != ">" and not source[j].isspace():
            j += 1
        name = source[i + 2 : j].lower()
        j = _skip_spaces(source, j)
        if j >= n or source[j] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {pos}")
        i = j + 1
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {pos}")
        tag = stack.pop()
        if tag.name != name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {pos}, expected "</{tag.name}>", '
                f'found "</{name}>"'
            )
        inner_text = "".join(out.parts[tag.parts_index :])
        css_class = tag.attrs.get("class", "")
        if (
            tag.name == "code"
            and stack
            and stack[-1].name == "pre"
            and stack[-1].start == tag.start
        ):
            # <pre><code class="language-x">…</code></pre> is one pre entity (with a language).
            if css_class.startswith("language-"):
                stack[-1].language = css_class[len("language-") :]
            continue
        entity = _entity_for(tag, out.units, inner_text)
        if entity is not None:
            entities.append(entity)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return ParsedText("".join(out.parts), sort_entities(entities))
