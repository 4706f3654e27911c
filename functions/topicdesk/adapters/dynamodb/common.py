"""What every DynamoDB adapter shares: AWS errors become the domain's error here, and the
little conversions between DynamoDB's Decimals and Python's numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.domain.errors import StorageUnavailable


def decimal(value: float) -> Decimal:
    """A float as DynamoDB takes it (millisecond precision is plenty for timestamps)."""
    return Decimal(str(round(value, 3)))


def conditional_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn AWS failures (after boto3's own retries) into the domain's error."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        raise StorageUnavailable(f"DynamoDB {code}") from error
    except BotoCoreError as error:
        raise StorageUnavailable(f"DynamoDB unreachable: {type(error).__name__}") from error


def conditionally(write: Callable[[], object]) -> bool:
    """Run a conditional write; False when its condition did not hold."""
    try:
        with storage_errors():
            write()
    except StorageUnavailable as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and conditional_failed(cause):
            return False
        raise
    return True


def as_int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | Decimal) else default


def as_optional_int(value: Any) -> int | None:
    return as_int(value) if value is not None else None


def query_all(table: Any, partition: str, **extra: Any) -> list[dict[str, Any]]:
    """Every item of one partition, page by page."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": partition},
        **extra,
    }
    items: list[dict[str, Any]] = []
    while True:
        with storage_errors():
            page = table.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def as_float(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else default


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def update_expression(fields: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    return f"SET {assignments}", names, values
