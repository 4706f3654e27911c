"""Parse modes, entities in UTF-16 code units, auto-detected entities, text limits."""

from __future__ import annotations

import pytest

from devkit.telegram_emulator.errors import ApiError
from devkit.telegram_emulator.formatting import (
    detect_entities,
    format_text,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)


def test_html_entities_count_utf16_units() -> None:
    text, entities = parse_html(
        '😀 <b>bold <i>both</i></b> &lt;x&gt; <a href="https://e.org">link</a>'
    )
    assert text == "😀 bold both <x> link"
    assert utf16_len("😀") == 2
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "italic", "offset": 8, "length": 4},
        {"type": "text_link", "offset": 17, "length": 4, "url": "https://e.org"},
    ]


def test_html_pre_with_language_and_spoiler() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>s</tg-spoiler>'
    )
    assert text == "x = 1s"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 5, "length": 1},
    ]


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
def test_html_errors(source: str, detail: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_html(source)
    assert info.value.code == 400
    assert info.value.description == f"Bad Request: can't parse entities: {detail}"


def test_markdown_v2() -> None:
    text, entities = parse_markdown_v2(
        r"*bold* _it_ __under__ ||sp|| `c\`d` [l](https://x.io) 1\.5"
    )
    assert text == "bold it under sp c`d l 1.5"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://x.io"
    with pytest.raises(ApiError) as info:
        parse_markdown_v2("1.5")
    assert "Character '.' is reserved" in info.value.description
    with pytest.raises(ApiError) as info:
        parse_markdown_v2("*open")
    assert "Can't find end of Bold entity at byte offset 0" in info.value.description


def test_legacy_markdown() -> None:
    text, entities = parse_markdown("*b* _i_ `c` [t](https://u.io)")
    assert text == "b i c t"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]


def test_auto_detected_entities() -> None:
    text = "/close@topicdesk_test_bot see https://example.com or @someone #tag mail a@b.io"
    found = {
        (e["type"], text[e["offset"] : e["offset"] + e["length"]])
        for e in detect_entities(text, [])
    }
    assert found == {
        ("bot_command", "/close@topicdesk_test_bot"),
        ("url", "https://example.com"),
        ("mention", "@someone"),
        ("hashtag", "#tag"),
        ("email", "a@b.io"),
    }


def test_format_text_strips_and_enforces_limits() -> None:
    text, entities = format_text("  <b>hi</b>  ", "HTML", None, limit=4096)
    assert text == "hi" and entities == [{"type": "bold", "offset": 0, "length": 2}]
    with pytest.raises(ApiError, match="message text is empty"):
        format_text("<i> </i>", "HTML", None, limit=4096)
    with pytest.raises(ApiError, match="message is too long"):
        format_text("x" * 4097, None, None, limit=4096)
    with pytest.raises(ApiError, match="message caption is too long"):
        format_text("x" * 1025, None, None, limit=1024, kind="caption")
    with pytest.raises(ApiError, match="entity beyond the end"):
        format_text("abc", None, [{"type": "bold", "offset": 2, "length": 5}], limit=4096)
