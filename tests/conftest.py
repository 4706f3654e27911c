"""Suite-wide settings, applied before any test module imports a Lambda handler.

Lambda sets these variables before importing a handler; Powertools reads them at import.
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Topicdesk/test")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "topicdesk-test")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Never reach a real AWS account from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_PROFILE", None)

import logging
from collections.abc import Iterator

import pytest

from devkit.moto import patch_dynamodb_requests, patch_sqs_receive
from devkit.telegram_emulator import DEFAULT_TOKEN
from tests.support.leakcheck import RecordingHandler, register_secret

patch_sqs_receive()  # real SQS's FIFO order for the in-process moto too
patch_dynamodb_requests()  # one DynamoDB request at a time (DynamoDB orders an item's writes)
register_secret(DEFAULT_TOKEN)


@pytest.fixture(autouse=True)
def no_secret_in_any_log_line() -> Iterator[None]:
    """Every log record any test produces, at the levels the code really logs at, is searched
    for every secret the suite knows (bot tokens, webhook secrets)."""
    handler = RecordingHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    leaks = handler.leaks()
    assert not leaks, "secret in a log line: " + "; ".join(sorted(set(leaks))[:5])
