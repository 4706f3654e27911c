"""The one small Bot API HTTP client outside the relay (standard library only, no PTB).

Used where python-telegram-bot is not wanted: the deploy-time webhook registration (custom
resource) and the operations CLI (webhook, getMe). One call is one POST with a JSON body;
the caller decides about retries (`BotApiError.code` / `.retry_after`).

The bot token appears in every request URL, so it never appears in an error: each message
and description passes through `redact`, which removes the token (and any other secret the
caller names). `looks_like_token` is the one test of a token's shape.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from topicdesk.contract import DEFAULT_TELEGRAM_API_URL

__all__ = [
    "TOKEN_PATTERN",
    "BotApiClient",
    "BotApiError",
    "looks_like_token",
    "redact",
]

# BotFather tokens look like 123456789:AAH... (digits, a colon, then the secret part).
TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{8,}$")
REDACTED = "***"


def looks_like_token(text: str) -> bool:
    """True for something shaped like a bot token (a placeholder or free text is not)."""
    return bool(TOKEN_PATTERN.match(text.strip()))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ***, the longest first."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class BotApiError(Exception):
    """A Bot API call that failed; every text in it is already redacted.

    ``code`` is Telegram's error code (the HTTP status when the answer has none), or None
    when the server could not be reached; ``retry_after`` is set on a 429."""

    def __init__(
        self, method: str, code: int | None, description: str, retry_after: int | None = None
    ) -> None:
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after
        super().__init__(
            f"{method}: " + (f"{code} {description}" if code is not None else description)
        )

    @property
    def unreachable(self) -> bool:
        return self.code is None


class BotApiClient:
    """POSTs Bot API methods for one bot token to ``api_url`` (Telegram's by default)."""

    def __init__(
        self, token: str, api_url: str = DEFAULT_TELEGRAM_API_URL, *, timeout: float = 30.0
    ) -> None:
        self._token = token
        self.api_url = (api_url or DEFAULT_TELEGRAM_API_URL).rstrip("/")
        self.timeout = timeout

    def redact(self, text: str, *others: str) -> str:
        return redact(text, (self._token, *others))

    def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """One call: Telegram's ``result``, or a `BotApiError` (None-valued params are left
        out of the request)."""
        body = {key: value for key, value in (params or {}).items() if value is not None}
        request = urllib.request.Request(  # noqa: S310 - the stage's configured Bot API URL
            f"{self.api_url}/bot{self._token}/{method}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as answer:  # noqa: S310
                payload = _json_object(answer.read())
                status = int(answer.status)
        except urllib.error.HTTPError as error:
            payload = _json_object(error.read())
            status = error.code
            if not payload.get("description"):
                payload["description"] = str(error.reason)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise BotApiError(
                method, None, self.redact(f"cannot reach the Bot API ({reason})")
            ) from None
        if payload.get("ok") is True:
            return payload.get("result")
        parameters = payload.get("parameters")
        retry_after = (
            _int_or_none(parameters.get("retry_after")) if isinstance(parameters, Mapping) else None
        )
        code = _int_or_none(payload.get("error_code"))
        raise BotApiError(
            method,
            code if code is not None else status,
            self.redact(str(payload.get("description"))),
            retry_after,
        )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw.decode("utf-8", errors="replace") or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
