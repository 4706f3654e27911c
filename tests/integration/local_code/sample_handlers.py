"""Tiny handlers the local runtime's tests run in their own processes."""

from __future__ import annotations

import os
import time
from typing import Any


def environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "stage": os.environ.get("SAMPLE_STAGE"),
        "remaining": context.get_remaining_time_in_millis(),
    }


def partial(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails the records whose body is "fail" (ReportBatchItemFailures)."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "fail"
        ]
    }


def explode(event: dict[str, Any], context: Any) -> None:
    raise RuntimeError("kaboom")


def slow(event: dict[str, Any], context: Any) -> None:
    time.sleep(5)


def url(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 201,
        "headers": {"x-method": event["requestContext"]["http"]["method"]},
        "body": event.get("body") or "",
    }
