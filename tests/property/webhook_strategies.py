"""Hypothesis strategies for webhook requests: headers, body encodings, sizes, JSON shapes and
one plausible update of every type the Bot API spec defines.

JSON strings carry any code point, including the ones SQS refuses in a message body (lone
UTF-16 surrogates, as JSON escapes; U+FFFE, U+FFFF) with a bias towards them, and forged ids
carry any text; ``update_id`` spans every JSON type and integers far past 64 bits.
"""

from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from topicdesk.domain.webhook import MAX_BODY_BYTES, MAX_UPDATE_ID, SECRET_HEADER

from devkit.telegram_emulator.spec import SPEC_PATH

SPEC_TYPES: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))["types"]
UPDATE_FIELDS: dict[str, list[str]] = SPEC_TYPES["Update"]["fields"]
UPDATE_TYPES: list[str] = sorted(name for name in UPDATE_FIELDS if name != "update_id")

# Fields through which an update names its chat or its user (always generated on the
# update's own object, so every update carries the ids it is routed by).
ID_CARRYING_FIELDS = ("chat", "from", "user", "voter_chat", "message")

SQS_ID_CHARACTERS = string.ascii_letters + string.digits + string.punctuation

# Characters Telegram's JSON might carry, biased towards the awkward ones: lone surrogates
# (valid JSON escapes), the code points SQS refuses, NUL, line separators, astral emoji.
EDGE_CHARACTERS = ["\ud800", "\udbff", "\udc00", "\udfff", "\ufffe", "\uffff", "\x00", "\u2028"]
TEXT_CHARACTERS = st.characters(exclude_categories=()) | st.sampled_from(
    [*EDGE_CHARACTERS, "\U0001f600", "\u00e9"]
)
texts = st.text(TEXT_CHARACTERS, max_size=16)
# What an HTTP header value can hold once Lambda has decoded it (no surrogates).
HEADER_CHARACTERS = st.characters(codec="utf-8")

# --------------------------------------------------------------------------- spec objects

_MAX_OPTIONAL_DEPTH = 2
"""Below this depth objects get their required fields only (keeps examples small)."""


def _is_id_field(field: str) -> bool:
    return field == "id" or field.endswith("_id")


def _scalar(draw: st.DrawFn, type_name: str, field: str) -> Any:
    if type_name == "Integer":
        if _is_id_field(field):
            # Telegram ids fit in 52 bits; group chats are negative.
            return draw(st.integers(-(2**52), 2**52))
        if field.endswith("date"):
            return draw(st.integers(0, 2**31 - 1))
        return draw(st.integers(-1000, 10**6))
    if type_name == "String":
        if _is_id_field(field):
            return draw(st.from_regex(r"[0-9]{1,19}", fullmatch=True))
        return draw(texts)
    if type_name == "Boolean":
        return draw(st.booleans())
    if type_name == "True":
        return True
    if type_name == "Float":
        return draw(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
    raise AssertionError(f"unknown scalar {type_name}")


def spec_value(draw: st.DrawFn, types: list[str], field: str, depth: int) -> Any:
    """A value of one of ``types`` (spec type names) for ``field``."""
    type_name = draw(st.sampled_from(types))
    if type_name.startswith("Array of "):
        item = type_name[len("Array of ") :]
        size = draw(st.integers(0, 2 if depth < _MAX_OPTIONAL_DEPTH else 1))
        return [spec_value(draw, [item], field, depth + 1) for _ in range(size)]
    if type_name not in SPEC_TYPES:
        return _scalar(draw, type_name, field)
    entry = SPEC_TYPES[type_name]
    if "fields" not in entry and entry.get("subtypes"):
        # A union's member need not be an object: RichText is a String, an Array of RichText
        # or one of its object types.
        return spec_value(draw, entry["subtypes"], field, depth)
    return spec_object(draw, type_name, depth)


def spec_object(
    draw: st.DrawFn, type_name: str, depth: int, *, carry_ids: bool = False
) -> dict[str, Any]:
    entry = SPEC_TYPES[type_name]
    if "fields" not in entry:
        subtypes: list[str] = entry.get("subtypes", [])
        if not subtypes:
            return {}  # a type with no fields (e.g. ForumTopicClosed)
        return spec_object(draw, draw(st.sampled_from(subtypes)), depth, carry_ids=carry_ids)
    fields: dict[str, list[str]] = entry["fields"]
    required: list[str] = list(entry.get("required", []))
    chosen = list(required)
    optional = sorted(set(fields) - set(required))
    if carry_ids:
        carriers = [f for f in ID_CARRYING_FIELDS if f in optional]
        if carriers:
            # At least one, so the update always names a chat or a user; sometimes only the
            # fallback one (e.g. a poll answer with a user but no voter chat).
            least = 0 if any(f in required for f in ID_CARRYING_FIELDS) else 1
            chosen += draw(st.lists(st.sampled_from(carriers), min_size=least, unique=True))
    if depth < _MAX_OPTIONAL_DEPTH and optional:
        chosen += draw(st.lists(st.sampled_from(optional), max_size=2, unique=True))
    value: dict[str, Any] = {}
    for name in dict.fromkeys(chosen):
        value[name] = spec_value(draw, fields[name], name, depth + 1)
    for name, const in entry.get("const", {}).items():
        value[name] = const
    if type_name == "Chat" and "type" in value:
        value["type"] = draw(st.sampled_from(["private", "group", "supergroup", "channel"]))
    return value


@st.composite
def spec_updates(draw: st.DrawFn, kinds: list[str] | None = None) -> dict[str, Any]:
    """One plausible update of a type the spec defines, with its chat/user ids present."""
    kind = draw(st.sampled_from(kinds or UPDATE_TYPES))
    (type_name,) = UPDATE_FIELDS[kind]
    return {
        "update_id": draw(st.integers(0, 2**31 - 1)),
        kind: spec_object(draw, type_name, 0, carry_ids=True),
    }


def ids_in(value: Any) -> set[str]:
    """Every ``id`` (int or str) anywhere in a JSON value, as strings."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key == "id" and isinstance(child, int | str) and not isinstance(child, bool):
                    found.add(str(child))
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return found


# --------------------------------------------------------------------------- JSON junk

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=12,
)

# update_ids the webhook takes: 0 .. 2**63-1 (Telegram's are 32-bit).
update_ids = (
    st.integers(0, 2**31 - 1)
    | st.integers(0, MAX_UPDATE_ID)
    | st.sampled_from([0, 2**31 - 1, 2**53 + 1, MAX_UPDATE_ID])
)
out_of_range_update_ids = st.integers(min_value=MAX_UPDATE_ID + 1) | st.sampled_from(
    [MAX_UPDATE_ID + 1, 2**64 + 1, 10**127, 10**128, 10**4000]
)
negative_ints = st.integers(max_value=-1) | st.just(-(10**100))
# update_id values that are not an integer in range (of every other JSON type).
bad_update_ids = (
    st.none()
    | st.booleans()
    | negative_ints
    | out_of_range_update_ids
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.lists(json_scalars, max_size=3)
    | st.dictionaries(texts, json_scalars, max_size=3)
    | st.sampled_from([0.0, 1.0, "1", "0x10", True, False, [1], {"id": 1}, -0.0, 1e300])
)

# Ids a forged update may put where routing looks: any JSON, any text.
junk_ids = (
    st.integers()
    | texts
    | st.text(SQS_ID_CHARACTERS, max_size=140)
    | st.text(st.sampled_from("_:"), min_size=1, max_size=3)
    | st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(json_scalars, max_size=2)
)
_id_holder = st.dictionaries(st.just("id"), junk_ids, max_size=1) | json_values
_junk_body = st.fixed_dictionaries(
    {},
    optional={
        "chat": _id_holder,
        "from": _id_holder,
        "user": _id_holder,
        "voter_chat": _id_holder,
        "message": st.fixed_dictionaries({}, optional={"chat": _id_holder}) | json_values,
        "id": junk_ids,
        "text": texts,
    },
)


@st.composite
def junk_updates(draw: st.DrawFn) -> dict[str, Any]:
    """Objects with a valid ``update_id`` and anything else: known or unknown type keys with
    junk values, several type keys at once, none at all."""
    update: dict[str, Any] = dict(draw(st.dictionaries(texts, json_values, max_size=2)))
    keys = draw(
        st.lists(st.sampled_from([*UPDATE_TYPES, "future_update_type"]), max_size=2, unique=True)
    )
    for key in keys:
        update[key] = draw(_junk_body | json_values)
    update["update_id"] = draw(update_ids)
    return update


# --------------------------------------------------------------------------- bodies


@dataclass(frozen=True)
class Body:
    """One request body as the Function URL hands it over, and what an authenticated POST
    carrying it must be answered (None: 200 or 400, the test cannot tell in advance)."""

    label: str
    body: str | bytes | None
    is_base64: bool
    expect: int | None
    update: dict[str, Any] | None = None
    """The update this body carries, when the test knows it is one."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _compact(value: Any) -> str:
    """Compact JSON as a UTF-8 sender writes it: lone surrogates can only travel escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


@st.composite
def carried(draw: st.DrawFn, update: dict[str, Any]) -> Body:
    """An update in one of the encodings that carry it intact."""
    how = draw(st.sampled_from(["plain", "pretty", "ascii", "base64", "bytes"]))
    if how == "plain":
        return Body(how, _compact(update), False, 200, update)
    if how == "pretty":
        return Body(how, json.dumps(update, indent=2), False, 200, update)
    if how == "ascii":
        return Body(how, json.dumps(update), False, 200, update)
    raw = _compact(update).encode("utf-8")
    if how == "base64":
        return Body(how, _b64(raw), True, 200, update)
    return Body(how, raw, False, 200, update)  # binary body: Lambda base64-encodes if needed


@st.composite
def broken_bodies(draw: st.DrawFn) -> Body:
    """Bodies that are never an update: each must be answered 400."""
    update = draw(spec_updates())
    raw = _compact(update).encode("utf-8")
    how = draw(
        st.sampled_from(
            [
                "empty",
                "empty_base64",
                "none",
                "none_base64",
                "bad_base64_char",
                "bad_base64_length",
                "plain_marked_base64",
                "invalid_utf8",
                "invalid_utf8_base64",
                "not_json",
                "non_object",
                "no_update_id",
                "bad_update_id",
                "too_many_digits",
                "truncated",
            ]
        )
    )
    if how == "empty":
        return Body(how, "", False, 400)
    if how == "empty_base64":
        return Body(how, "", True, 400)
    if how == "none":
        return Body(how, None, False, 400)
    if how == "none_base64":
        return Body(how, None, True, 400)
    if how == "bad_base64_char":
        encoded = _b64(raw)
        at = draw(st.integers(0, len(encoded)))
        junk = draw(st.sampled_from(list('!*?~\\"{}. \n\t\u00e9')))
        return Body(how, encoded[:at] + junk + encoded[at:], True, 400)
    if how == "bad_base64_length":
        encoded = _b64(raw).rstrip("=")
        cut = draw(st.integers(1, len(encoded)))
        text = encoded[:cut]
        if len(text) % 4 == 0:
            text = text[:-1]
        return Body(how, text, True, 400)
    if how == "plain_marked_base64":
        return Body(how, _compact(update), True, 400)  # JSON braces are not base64
    if how in ("invalid_utf8", "invalid_utf8_base64"):
        text = _compact(update)
        quote = text.index('"', 1)  # inside the first key: still in a string
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        broken = text[: quote + 1].encode() + bad + text[quote + 1 :].encode()
        if how == "invalid_utf8":
            return Body(how, broken, False, 400)  # function_url_event base64-encodes it
        return Body(how, _b64(broken), True, 400)
    if how == "not_json":
        text = draw(texts.filter(_not_json))
        return Body(how, text, False, 400)
    if how == "non_object":
        value = draw(
            json_scalars | st.lists(json_values, max_size=3) | st.just([update]) | st.just([])
        )
        return Body(how, json.dumps(value), False, 400)
    if how == "no_update_id":
        extra = draw(st.dictionaries(texts, json_values, max_size=3))
        extra.pop("update_id", None)
        body = {k: v for k, v in update.items() if k != "update_id"} | extra
        return Body(how, json.dumps(body), False, 400)
    if how == "bad_update_id":
        return Body(how, json.dumps(update | {"update_id": draw(bad_update_ids)}), False, 400)
    if how == "too_many_digits":
        # Python refuses to parse integers over 4300 digits: a 400, not a crash.
        digits = draw(st.integers(4301, 20_000))
        return Body(how, '{"update_id":1' + "0" * digits + "}", False, 400)
    text = _compact(update)
    cut = draw(st.integers(0, len(text) - 1))
    return Body(how, text[:cut], False, 400)


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@st.composite
def odd_bodies(draw: st.DrawFn) -> Body:
    """Bodies whose answer the test does not predict (200 or 400): deep nesting, NaN,
    duplicate keys, other Unicode encodings, BOMs, number spellings."""
    update_id = draw(update_ids)
    how = draw(
        st.sampled_from(["deep", "nan", "duplicate_keys", "utf16", "utf32", "bom", "numbers"])
    )
    if how == "deep":
        # Within the size limit: Python's parser gives up (RecursionError) long before.
        if draw(st.booleans()):
            depth = draw(st.integers(1, 60_000))
            inner = "[" * depth + "]" * depth
        else:
            depth = draw(st.integers(1, 30_000))
            inner = '{"a":' * depth + "1" + "}" * depth
        return Body(how, f'{{"update_id":{update_id},"message":{inner}}}', False, None)
    if how == "nan":
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
        return Body(how, f'{{"update_id":{update_id},"x":{token}}}', False, None)
    if how == "duplicate_keys":
        other = json.dumps(draw(json_values))
        first, second = draw(st.permutations([str(update_id), other]))
        return Body(how, f'{{"update_id":{first},"update_id":{second}}}', False, None)
    if how in ("utf16", "utf32"):
        text = json.dumps({"update_id": update_id, "message": {"text": draw(texts)}})
        width = how.removeprefix("utf")
        codec = draw(st.sampled_from([f"utf-{width}-le", f"utf-{width}-be", f"utf-{width}"]))
        return Body(how, _b64(text.encode(codec)), True, None)
    if how == "bom":
        text = _compact({"update_id": update_id})
        return Body(how, _b64(b"\xef\xbb\xbf" + text.encode()), True, None)
    spelled = draw(st.sampled_from([f"{update_id}.0", f"{update_id}e0", f"-{update_id}", "1E2"]))
    return Body(how, f'{{"update_id":{spelled}}}', False, None)


def any_bodies() -> st.SearchStrategy[Body]:
    return (
        spec_updates().flatmap(carried)
        | junk_updates().flatmap(carried)
        | broken_bodies()
        | odd_bodies()
    )


def padded_update(update_id: int, size: int) -> dict[str, Any]:
    """A private message whose compact JSON is exactly ``size`` bytes (size >= 128)."""
    message: dict[str, Any] = {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": 4242, "type": "private"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Ann"},
        "text": "",
    }
    base = {"update_id": update_id, "message": message}
    overhead = len(_compact(base).encode("utf-8"))
    message["text"] = "x" * (size - overhead)
    assert len(_compact(base).encode("utf-8")) == size
    return base


def sizes_around_limit() -> st.SearchStrategy[int]:
    return st.integers(MAX_BODY_BYTES - 64, MAX_BODY_BYTES + 64) | st.sampled_from(
        [MAX_BODY_BYTES, MAX_BODY_BYTES + 1, 262_144, 262_145, 400_000, 1_100_000]
    )


# --------------------------------------------------------------------------- headers

SECRET_NAME_VARIANTS = st.sampled_from(
    [SECRET_HEADER, SECRET_HEADER.upper(), "X-Telegram-Bot-Api-Secret-Token"]
) | st.builds(
    lambda flips: "".join(
        c.upper() if flip else c for c, flip in zip(SECRET_HEADER, flips, strict=False)
    ),
    st.lists(st.booleans(), min_size=len(SECRET_HEADER), max_size=len(SECRET_HEADER)),
)

_header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,24}", fullmatch=True).filter(
    lambda name: name.lower() != SECRET_HEADER
)
junk_headers = st.dictionaries(
    _header_names,
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=6,
) | st.just({"content-type": "application/json", "user-agent": "TelegramBot (like TwitterBot)"})


@st.composite
def presented_secrets(draw: st.DrawFn, secret: str) -> str | None:
    """What a request presents: None (no header), the secret, or something that is not it."""
    how = draw(
        st.sampled_from(
            [
                "absent",
                "exact",
                "exact",
                "case",
                "padded",
                "prefix",
                "extended",
                "empty",
                "other",
                "unicode",
            ]
        )
    )
    if how == "absent":
        return None
    if how == "exact":
        return secret
    if how == "case":
        flips = draw(st.lists(st.booleans(), min_size=len(secret), max_size=len(secret)))
        varied = "".join(c.swapcase() if f else c for c, f in zip(secret, flips, strict=True))
        return varied if varied != secret else secret.swapcase()
    if how == "padded":
        return draw(st.sampled_from([" ", "\t", "  "])) + secret + draw(st.sampled_from(["", " "]))
    if how == "prefix":
        return secret[: draw(st.integers(0, len(secret) - 1))]
    if how == "extended":
        return secret + draw(st.text(SQS_ID_CHARACTERS, min_size=1, max_size=8))
    if how == "empty":
        return ""
    if how == "unicode":
        return draw(
            st.text(HEADER_CHARACTERS, min_size=1, max_size=40).filter(lambda s: s != secret)
        )
    return draw(
        st.text(string.ascii_letters + string.digits + "_-", max_size=256).filter(
            lambda s: s != secret
        )
    )


@dataclass(frozen=True)
class Headers:
    headers: dict[str, str]
    authenticated: bool
    raw_case: bool
    """Hand the header names over as written (Lambda lowercases them; decide must not care)."""


@st.composite
def request_headers(draw: st.DrawFn, secret: str) -> Headers:
    presented = draw(presented_secrets(secret))
    headers = dict(draw(junk_headers))
    if presented is not None:
        headers[draw(SECRET_NAME_VARIANTS)] = presented
    return Headers(headers, presented == secret, draw(st.booleans()))


methods = st.sampled_from(["POST", "POST", "POST", "post", "GET", "PUT", "DELETE", "HEAD", "PATCH"])
