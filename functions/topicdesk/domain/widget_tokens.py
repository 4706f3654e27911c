"""Widget session tokens: ``<session id>.<expiry epoch s>.<signature>``.

The signature is HMAC-SHA256 (URL-safe base64, unpadded) over ``<session id>.<expiry>`` with the
stage's signing key (a Secrets Manager secret). The secret may hold several keys, one a line:
the first signs, every one verifies, so a key can be rotated without logging every visitor
out (add the new key first, move the old one below it, drop it 30 days later).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from topicdesk.domain.widget import SESSION_ID_PATTERN

MAX_TOKEN_CHARS = 200


def signing_keys(secret: str) -> tuple[bytes, ...]:
    """The keys in a secret's value (one a line, blank lines ignored)."""
    return tuple(line.strip().encode() for line in secret.splitlines() if line.strip())


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TokenSigner:
    keys: Sequence[bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("no signing key")

    def issue(self, session_id: str, expires_at: int) -> str:
        payload = f"{session_id}.{expires_at}"
        return f"{payload}.{_signature(self.keys[0], payload)}"

    def verify(self, token: object, now: float) -> str | None:
        """The session id of a genuine, unexpired token; None for anything else."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        session_id, expiry, signature = parts
        if not SESSION_ID_PATTERN.fullmatch(session_id) or not expiry.isdigit():
            return None
        payload = f"{session_id}.{expiry}"
        if not any(hmac.compare_digest(_signature(key, payload), signature) for key in self.keys):
            return None
        return session_id if int(expiry) >= now else None
