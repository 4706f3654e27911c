"""No secret value reaches a log line: message, arguments, exception text and traceback,
extra fields; Bot API URLs lose their token."""

from __future__ import annotations

import io
import json
import logging

from aws_lambda_powertools import Logger
from topicdesk.adapters import redaction

TOKEN = "123456789:AAH-redaction-test-token_abcdefghijklmn"


class Everything(logging.Handler):
    """Every record as text: its message and every attribute (extras included)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


def test_a_registered_secret_is_redacted_everywhere_in_a_record() -> None:
    redaction.register(TOKEN)
    log = logging.getLogger("test.redaction.std")
    log.setLevel(logging.INFO)
    handler = Everything()
    log.addHandler(handler)
    log.warning("token %s in args", TOKEN)
    log.warning("in extra", extra={"reason": f"InvalidToken: {TOKEN} was rejected"})
    try:
        raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
    except ValueError:
        log.exception("in an exception")
    log.info("HTTP Request: POST https://api.telegram.org/bot999:zzz_other-token/getMe")
    log.removeHandler(handler)
    text = "\n".join(handler.lines)
    assert len(handler.lines) == 4
    assert TOKEN not in text
    assert "999:zzz_other-token" not in text  # URL tokens, registered or not
    assert text.count(redaction.REDACTED) >= 4
    assert "ValueError" in text  # the traceback is kept, redacted


def test_powertools_json_lines_are_redacted_too() -> None:
    redaction.register(TOKEN)
    stream = io.StringIO()
    logger = Logger(service="redaction-test", logger_handler=logging.StreamHandler(stream))
    try:
        raise RuntimeError(f"Unauthorized: {TOKEN}")
    except RuntimeError as error:
        logger.exception("failed", extra={"error": error, "nested": {"why": TOKEN}})
    line = stream.getvalue()
    assert TOKEN not in line
    assert json.loads(line.splitlines()[0])["message"].startswith("failed")


def test_short_values_are_not_treated_as_secrets() -> None:
    redaction.register("abc")
    assert redaction.redact("abcdef") == "abcdef"


def test_traces_patch_only_botocore() -> None:
    assert redaction.TRACED_MODULES == ("botocore",)
