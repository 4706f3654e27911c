"""No secret in any log line: every log record, whoever makes it, is redacted before any
handler sees it (``logging.Logger.makeRecord`` wrapped once per process: unlike a record
factory, it sees the ``extra`` fields too).

What is redacted: Bot API URLs (``/bot<token>/sendMessage``: HTTP libraries log URLs at INFO,
and Lambda may run every logger at INFO), and the value of every secret the function read
(``register``: the bot token and the webhook secret, wherever they appear: the message, its
arguments, an exception's text and traceback (PTB's ``InvalidToken`` carries the token), and
extra fields).

Traces are kept clean by patching only botocore for X-Ray (``TRACED_MODULES``): httpx's
subsegments would carry the Bot API URL, token included.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

TRACED_MODULES = ("botocore",)
"""What Powertools' Tracer patches (never httpx: its URLs carry the bot token)."""

REDACTED = "<redacted>"
_TOKEN_IN_URL = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register(secret: str) -> str:
    """Redact ``secret``'s value from every log record from now on; returns it."""
    if len(secret) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(secret)
    install()
    return secret


def redact(text: str) -> str:
    if "/bot" in text:
        text = _TOKEN_IN_URL.sub(f"/bot{REDACTED}", text)
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _clean(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logging's problem to report, not ours
        return record
    cleaned = redact(message)
    if record.exc_info and record.exc_info[1] is not None:
        # The traceback text is redacted and kept in the message; the exception object
        # (whose text may carry the token) is not handed to formatters.
        trace = "".join(traceback.format_exception(*record.exc_info))
        cleaned = f"{cleaned}\n{redact(trace)}"
        record.exc_info, record.exc_text = None, None
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    for name, value in list(record.__dict__.items()):
        if name not in _STANDARD:
            record.__dict__[name] = _clean_value(value)
    return record


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    if isinstance(value, dict):
        return {key: _clean_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean_value(item) for item in value)
    return value


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        make_record = logging.Logger.makeRecord

        def redacting(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
            return _clean(make_record(self, *args, **kwargs))

        logging.Logger.makeRecord = redacting  # type: ignore[method-assign]
        _installed = True
