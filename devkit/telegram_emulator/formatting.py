"""Message text as Telegram stores it: parse modes, entities, UTF-16 offsets.

* ``parse_mode`` ``HTML``, ``MarkdownV2`` and legacy ``Markdown`` are parsed into
  plain text plus ``MessageEntity`` objects, refusing malformed markup with
  Telegram's ``can't parse entities: ...`` answers;
* entity offsets and lengths count UTF-16 code units;
* like Telegram, it detects ``bot_command``, ``mention``, ``hashtag``, ``cashtag``,
  ``url`` and ``email`` entities in any text (so PTB's ``CommandHandler`` sees
  ``/close`` typed by an operator);
* leading and trailing whitespace is removed, entities shifted.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

Entity = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    type: str
    start: int  # utf-16 offset in output
    extra: dict[str, Any]
    tag: str = ""


def _entity_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


# ------------------------------------------------------------------------ HTML

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)\s*(/?)>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY_REF_RE = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);")


def _unescape_html(chunk: str, base_byte: int) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("#") or name in {"lt", "gt", "amp", "quot"}:
            return html.unescape(match.group(0))
        return match.group(0)

    if "<" in chunk or ">" in chunk:
        pos = min(i for i in (chunk.find("<"), chunk.find(">")) if i >= 0)
        offset = base_byte + len(chunk[:pos].encode())
        raise _entity_error(f"Unexpected end of name token at byte offset {offset}")
    return _ENTITY_REF_RE.sub(repl, chunk)


def parse_html(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0
    stack: list[_Open] = []
    entities: list[Entity] = []
    pos = 0
    for match in _TAG_RE.finditer(source):
        text = _unescape_html(source[pos : match.start()], len(source[:pos].encode()))
        out.append(text)
        out_len += utf16_len(text)
        pos = match.end()
        closing, name, attrs_raw, _ = match.groups()
        name = name.lower()
        byte_offset = len(source[: match.start()].encode())
        if closing:
            if not stack or stack[-1].tag != name:
                raise _entity_error(f"Unexpected end tag at byte offset {byte_offset}")
            opened = stack.pop()
            length = out_len - opened.start
            if length > 0 and opened.type:
                entities.append(
                    {"type": opened.type, "offset": opened.start, "length": length, **opened.extra}
                )
            continue
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
        attrs = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTR_RE.finditer(attrs_raw or "")
        }
        kind = _HTML_TAGS[name]
        extra: dict[str, Any] = {}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}'
            )
        if name == "a":
            href = attrs.get("href", "")
            if href.startswith("tg://user?id="):
                kind, extra = "text_mention", {"user": {"id": int(href.split("=", 1)[1] or 0)}}
            else:
                extra = {"url": href}
        elif name == "code" and stack and stack[-1].tag == "pre":
            language = attrs.get("class", "").removeprefix("language-")
            if language:
                stack[-1].extra["language"] = language
            kind = ""  # the <pre> carries the entity
        elif name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        elif name == "tg-emoji":
            extra = {"custom_emoji_id": attrs.get("emoji-id", "")}
        elif name == "tg-time":
            extra = {"unix_time": int(attrs.get("unix", "0") or 0)}
            if attrs.get("format"):
                extra["date_time_format"] = attrs["format"]
        stack.append(_Open(kind, out_len, extra, tag=name))
    tail = _unescape_html(source[pos:], len(source[:pos].encode()))
    out.append(tail)
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(out), _sorted(entities)


# ------------------------------------------------------------------ MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0
    entities: list[Entity] = []
    stack: list[_Open] = []
    names = {
        "*": "bold",
        "_": "italic",
        "__": "underline",
        "~": "strikethrough",
        "||": "spoiler",
    }
    i, n = 0, len(source)
    line_start = True
    quote: _Open | None = None

    def emit(text: str) -> None:
        nonlocal out_len
        out.append(text)
        out_len += utf16_len(text)

    def byte_at(index: int) -> int:
        return len(source[:index].encode())

    while i < n:
        ch = source[i]
        if line_start and ch == ">" and quote is None:
            quote = _Open("blockquote", out_len, {})
            i += 1
            line_start = False
            continue
        line_start = False
        if ch == "\\" and i + 1 < n:
            emit(source[i + 1])
            i += 2
            continue
        if ch == "\n":
            emit(ch)
            i += 1
            line_start = True
            if quote is not None and not source.startswith(">", i):
                entities.append(
                    {
                        "type": "blockquote",
                        "offset": quote.start,
                        "length": out_len - quote.start - 1,
                    }
                )
                quote = None
            elif quote is not None:
                i += 1
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end < 0:
                raise _entity_error(f"Can't find end of Pre entity at byte offset {byte_at(i)}")
            body = source[i + 3 : end]
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            body = re.sub(r"\\([`\\])", r"\1", body)
            start = out_len
            emit(body)
            entity: Entity = {"type": "pre", "offset": start, "length": out_len - start}
            if language:
                entity["language"] = language
            entities.append(entity)
            i = end + 3
            continue
        if ch == "`":
            end = i + 1
            while end < n and source[end] != "`":
                end += 2 if source[end] == "\\" else 1
            if end >= n:
                raise _entity_error(f"Can't find end of Code entity at byte offset {byte_at(i)}")
            body = re.sub(r"\\([`\\])", r"\1", source[i + 1 : end])
            start = out_len
            emit(body)
            entities.append({"type": "code", "offset": start, "length": out_len - start})
            i = end + 1
            continue
        if ch == "[" or (ch == "!" and source.startswith("![", i)):
            is_emoji = ch == "!"
            stack.append(_Open("custom_emoji" if is_emoji else "text_link", out_len, {}, tag="["))
            i += 2 if is_emoji else 1
            continue
        if ch == "]" and stack and stack[-1].tag == "[":
            opened = stack.pop()
            if not source.startswith("(", i + 1):
                raise _entity_error(f"Can't find end of a URL at byte offset {byte_at(i)}")
            end = source.find(")", i + 2)
            if end < 0:
                raise _entity_error(f"Can't find end of a URL at byte offset {byte_at(i)}")
            url = re.sub(r"\\([)\\])", r"\1", source[i + 2 : end])
            if opened.type == "custom_emoji":
                extra: dict[str, Any] = {"custom_emoji_id": url.rsplit("id=", 1)[-1]}
            elif url.startswith("tg://user?id="):
                opened.type = "text_mention"
                extra = {"user": {"id": int(url.split("=", 1)[1] or 0)}}
            else:
                extra = {"url": url}
            length = out_len - opened.start
            if length:
                entities.append(
                    {"type": opened.type, "offset": opened.start, "length": length, **extra}
                )
            i = end + 1
            continue
        token = "__" if source.startswith("__", i) else "||" if source.startswith("||", i) else ch
        if token in names:
            if stack and stack[-1].tag == token:
                opened = stack.pop()
                if out_len > opened.start:
                    entities.append(
                        {
                            "type": opened.type,
                            "offset": opened.start,
                            "length": out_len - opened.start,
                        }
                    )
            else:
                stack.append(_Open(names[token], out_len, {"byte": byte_at(i)}, tag=token))
            i += len(token)
            continue
        if ch in _MDV2_RESERVED:
            raise _entity_error(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(ch)
        i += 1
    if quote is not None:
        entities.append(
            {"type": "blockquote", "offset": quote.start, "length": out_len - quote.start}
        )
    if stack:
        opened = stack[-1]
        label = opened.type.replace("_", " ").title().replace(" ", "")
        byte = opened.extra.get("byte", 0)
        raise _entity_error(f"Can't find end of {label} entity at byte offset {byte}")
    return "".join(out), _sorted(entities)


# -------------------------------------------------------------- legacy Markdown


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    out_len = 0
    entities: list[Entity] = []
    i, n = 0, len(source)
    marks = {"*": "bold", "_": "italic"}
    while i < n:
        ch = source[i]
        start_byte = len(source[:i].encode())
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {start_byte}"
                )
            body = source[i + 3 : end]
            entities.append({"type": "pre", "offset": out_len, "length": utf16_len(body)})
            out.append(body)
            out_len += utf16_len(body)
            i = end + 3
        elif ch in marks or ch == "`":
            end = source.find(ch, i + 1)
            if end < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {start_byte}"
                )
            body = source[i + 1 : end]
            if body:
                kind = "code" if ch == "`" else marks[ch]
                entities.append({"type": kind, "offset": out_len, "length": utf16_len(body)})
            out.append(body)
            out_len += utf16_len(body)
            i = end + 1
        elif ch == "[":
            close = source.find("](", i)
            end = source.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {start_byte}"
                )
            label = source[i + 1 : close]
            entities.append(
                {
                    "type": "text_link",
                    "offset": out_len,
                    "length": utf16_len(label),
                    "url": source[close + 2 : end],
                }
            )
            out.append(label)
            out_len += utf16_len(label)
            i = end + 1
        elif ch == "\\" and i + 1 < n and source[i + 1] in "*_`[":
            out.append(source[i + 1])
            out_len += 1
            i += 2
        else:
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
    return "".join(out), _sorted(entities)


# ------------------------------------------------------------ auto detection

_AUTO_PATTERNS = [
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("email", re.compile(r"(?<![\w.@])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    (
        "url",
        re.compile(
            r"(?<![\w@])(?:https?://)[^\s<>]+|(?<![\w@/.])(?:[a-z0-9-]+\.)+(?:com|org|net|io|me|ru|dev|app)(?:/[^\s<>]*)?\b"
        ),
    ),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#[^\W\d_][\w]{0,255}")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{3,8}\b")),
]


def _utf16_offset(text: str, index: int) -> int:
    return utf16_len(text[:index])


def detect_entities(text: str, existing: list[Entity]) -> list[Entity]:
    """Add the entities Telegram detects by itself where no other entity lies."""
    taken: list[tuple[int, int]] = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing
        if e["type"] in {"code", "pre", "text_link", "url", "email", "bot_command", "mention"}
    ]
    found: list[Entity] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start = _utf16_offset(text, match.start())
            end = start + utf16_len(match.group(0))
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return _sorted(existing + found)


# ---------------------------------------------------------------------- entry


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    stripped_left = text.lstrip()
    shift = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    out: list[Entity] = []
    for e in entities:
        start = max(0, e["offset"] - shift)
        end = min(total, e["offset"] + e["length"] - shift)
        if end > start:
            out.append({**e, "offset": start, "length": end - start})
    return result, out


def format_text(
    text: str,
    parse_mode: str | None,
    entities: list[Entity] | None,
    *,
    limit: int,
    kind: str = "text",
) -> tuple[str, list[Entity]]:
    """Turn a text or caption as sent into Telegram's stored form.

    Raises the matching ``400`` for unknown parse modes, bad markup, empty text
    and too long text or caption.
    """
    if parse_mode and not entities:
        mode = parse_mode.strip().lower()
        if mode == "html":
            text, found = parse_html(text)
        elif mode == "markdownv2":
            text, found = parse_markdown_v2(text)
        elif mode == "markdown":
            text, found = parse_markdown(text)
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
        entities = found
    ents = [dict(e) for e in (entities or [])]
    total = utf16_len(text)
    for e in ents:
        if e["offset"] < 0 or e["length"] < 0 or e["offset"] + e["length"] > total:
            raise bad_request("can't parse entities: entity beyond the end of the text")
    text, ents = _strip(text, ents)
    if kind == "text" and not text:
        raise bad_request("message text is empty")
    if len(text) > limit:
        raise bad_request(
            "message is too long" if kind == "text" else "message caption is too long"
        )
    return text, detect_entities(text, ents)


def format_caption(params: dict[str, Any]) -> dict[str, Any]:
    """A media message's caption fields from a request's ``caption``, ``parse_mode`` and
    ``caption_entities``: none when there is no caption or it is empty once formatted."""
    caption = params.get("caption")
    if caption is None:
        return {}
    text, entities = format_text(
        caption,
        params.get("parse_mode"),
        params.get("caption_entities"),
        limit=MAX_CAPTION,
        kind="caption",
    )
    out: dict[str, Any] = {}
    if text:
        out["caption"] = text
        if entities:
            out["caption_entities"] = entities
    return out
