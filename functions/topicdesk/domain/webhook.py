"""The webhook's decision, as a pure function of the request: accept (and enqueue) or refuse.

Limits, and why:
- ``MAX_BODY_BYTES`` = 256 000 bytes. A Telegram update is small: a message's text is at most
  4096 characters (≤ 16 KiB of UTF-8) plus entities, and media arrive as file ids, so real
  updates are a few KiB. SQS FIFO takes at most 256 KiB per message including attributes;
  refusing bigger bodies here (413) means every accepted update can be queued.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from topicdesk.domain.routing import group_key, update_type

MAX_BODY_BYTES = 256_000
MAX_UPDATE_ID = 2**63 - 1  # far above Telegram's; keeps the dedup id within SQS's 128 chars
# Characters SQS refuses in a message body (it takes #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
# #x10000-#x10FFFF). json.dumps escapes the control characters itself; lone surrogates (valid
# JSON escapes) and U+FFFE/U+FFFF are escaped here so the queued JSON means the same update.
_SQS_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)


@dataclass(frozen=True)
class Accepted:
    update: dict[str, Any]
    update_id: int
    group_id: str
    update_type: str
    body: str
    """The exact JSON to enqueue (the update as Telegram sent it)."""


@dataclass(frozen=True)
class Refused:
    status: int
    reason: str
    """Short machine-friendly reason: the metric dimension and the log field."""
    message: str
    """What the caller is told."""


def _decode_body(body: str | None, is_base64: bool) -> bytes | Refused:
    raw = (body or "").encode("utf-8", errors="surrogatepass")
    if not is_base64:
        return raw
    # base64 is 4/3 of the payload: refuse oversized bodies before decoding them.
    if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
        return Refused(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return Refused(400, "bad_base64", "body is not valid base64")


def canonical_json(update: dict[str, Any]) -> str:
    """Compact JSON that SQS accepts byte for byte (see ``_SQS_UNSAFE``)."""
    text = json.dumps(update, ensure_ascii=False, separators=(",", ":"))
    return _SQS_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def secret_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty expected secret never matches."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def decide(
    *,
    method: str,
    headers: Mapping[str, str],
    body: str | None,
    is_base64: bool,
    expected_secret: str,
) -> Accepted | Refused:
    """Check one Function URL request. Order: method, secret, size, JSON, update."""
    if method.upper() != "POST":
        return Refused(405, "method", "only POST is accepted")
    lowered = {key.lower(): value for key, value in headers.items()}
    if not secret_matches(lowered.get(SECRET_HEADER), expected_secret):
        return Refused(401, "secret", "missing or wrong secret token")
    raw = _decode_body(body, is_base64)
    if isinstance(raw, Refused):
        return raw
    if len(raw) > MAX_BODY_BYTES:
        return Refused(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Refused(400, "not_json", "body is not JSON")
    if not isinstance(parsed, dict):
        return Refused(400, "not_object", "body is not a JSON object")
    update_id = parsed.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        return Refused(400, "no_update_id", "no integer update_id")
    if not 0 <= update_id <= MAX_UPDATE_ID:
        return Refused(400, "no_update_id", "update_id out of range")
    kind = update_type(parsed) or "unknown"
    text = canonical_json(parsed)
    if len(text.encode("utf-8")) > MAX_BODY_BYTES:
        return Refused(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
    return Accepted(
        update=parsed,
        update_id=update_id,
        group_id=group_key(parsed),
        update_type=kind,
        body=text,
    )
