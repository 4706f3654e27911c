"""Watching the AWS calls the code under test makes, on moto in-process.

``AwsMeter`` wraps moto's botocore stubber (the ``before-send`` handler through which
``mock_aws`` answers every call) and, per call: counts it by ``service.Operation``, adds up the
CPU and wall time moto spends playing the AWS side (work that is not the Lambda's and is
subtracted from its measurements), the billed SQS requests (64 KiB chunks) and the DynamoDB
request units the call would consume on an on-demand table.

DynamoDB units, as DynamoDB bills them: a write is one WRU per started KiB of the item (two
in a transaction), a conditional write that fails still costs its WRU; a strongly consistent
read is one RRU per started 4 KiB returned, an eventually consistent one half that; a read
that finds nothing costs the minimum. Item sizes come from the request (writes) or the
response (reads); an UpdateItem is sized from its key and values (its items here are far
below 1 KiB, which ``max_item_bytes`` confirms by scanning the tables after the run).
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.cost import sqs_billed_requests

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
WRITE_OPERATIONS = frozenset({*_WRITES, "BatchWriteItem", "TransactWriteItems"})
"""Every DynamoDB operation that writes (what "limiter writes per Telegram call" counts)."""
_READS = {"GetItem", "Query", "Scan"}


@dataclass
class Usage:
    """What a stretch of code made AWS do."""

    calls: Counter[str] = field(default_factory=Counter)
    server_cpu_seconds: float = 0.0
    server_wall_seconds: float = 0.0
    sqs_billed_requests: int = 0
    dynamodb_read_units: float = 0.0
    dynamodb_write_units: float = 0.0
    dynamodb_by_table: Counter[str] = field(default_factory=Counter)
    """Calls per ``Operation table`` (BatchWriteItem: per table written)."""

    def copy(self) -> Usage:
        return Usage(
            calls=Counter(self.calls),
            server_cpu_seconds=self.server_cpu_seconds,
            server_wall_seconds=self.server_wall_seconds,
            sqs_billed_requests=self.sqs_billed_requests,
            dynamodb_read_units=self.dynamodb_read_units,
            dynamodb_write_units=self.dynamodb_write_units,
            dynamodb_by_table=Counter(self.dynamodb_by_table),
        )

    def minus(self, earlier: Usage) -> Usage:
        calls = Counter(self.calls)
        calls.subtract(earlier.calls)
        tables = Counter(self.dynamodb_by_table)
        tables.subtract(earlier.dynamodb_by_table)
        return Usage(
            calls=+calls,
            dynamodb_by_table=+tables,
            server_cpu_seconds=self.server_cpu_seconds - earlier.server_cpu_seconds,
            server_wall_seconds=self.server_wall_seconds - earlier.server_wall_seconds,
            sqs_billed_requests=self.sqs_billed_requests - earlier.sqs_billed_requests,
            dynamodb_read_units=self.dynamodb_read_units - earlier.dynamodb_read_units,
            dynamodb_write_units=self.dynamodb_write_units - earlier.dynamodb_write_units,
        )

    def add(self, other: Usage) -> None:
        self.calls.update(other.calls)
        self.dynamodb_by_table.update(other.dynamodb_by_table)
        self.server_cpu_seconds += other.server_cpu_seconds
        self.server_wall_seconds += other.server_wall_seconds
        self.sqs_billed_requests += other.sqs_billed_requests
        self.dynamodb_read_units += other.dynamodb_read_units
        self.dynamodb_write_units += other.dynamodb_write_units

    def count(self, service: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(f"{service}."))


def attribute_value_bytes(value: Mapping[str, Any]) -> int:
    """Size of one DynamoDB-JSON attribute value, as DynamoDB counts it (close enough)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data) if isinstance(data, bytes) else len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(attribute_value_bytes({"N": n}) for n in data)
    if kind == "BS":
        return sum(attribute_value_bytes({"B": b}) for b in data)
    if kind == "L":
        return 3 + sum(1 + attribute_value_bytes(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + item_bytes({k: v}) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_value_bytes(v) for name, v in item.items())


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def dynamodb_units(
    operation: str, request: Mapping[str, Any], response: Mapping[str, Any]
) -> tuple[float, float]:
    """(read units, write units) one DynamoDB call consumes on an on-demand table."""
    consistent = bool(request.get("ConsistentRead", False))
    if operation == "GetItem":
        return _read_units(item_bytes(response.get("Item", {})), consistent), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_bytes(item) for item in response.get("Items", []))
        return _read_units(size, consistent), 0.0
    if operation == "PutItem":
        return 0.0, _write_units(item_bytes(request.get("Item", {})))
    if operation == "UpdateItem":
        size = item_bytes(request.get("Key", {})) + sum(
            attribute_value_bytes(v) for v in request.get("ExpressionAttributeValues", {}).values()
        )
        size = max(size, item_bytes(response.get("Attributes", {})))
        return 0.0, _write_units(size)
    if operation == "DeleteItem":
        return 0.0, _write_units(item_bytes(request.get("Key", {})))
    if operation == "BatchWriteItem":
        units = 0.0
        for requests in request.get("RequestItems", {}).values():
            for entry in requests:
                put = entry.get("PutRequest", {}).get("Item")
                key = entry.get("DeleteRequest", {}).get("Key", {})
                units += _write_units(item_bytes(put if put is not None else key))
        return 0.0, units
    if operation == "BatchGetItem":
        size = sum(
            item_bytes(item) for items in response.get("Responses", {}).values() for item in items
        )
        return _read_units(size, consistent), 0.0
    if operation == "TransactWriteItems":
        units = 0.0
        for entry in request.get("TransactItems", []):
            ((_, action),) = entry.items()
            units += 2 * _write_units(item_bytes(action.get("Item") or action.get("Key", {})))
        return 0.0, units
    return 0.0, 0.0  # control-plane calls (CreateTable, DescribeTable, ...) are not billed so


def _json(body: Any) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class AwsMeter:
    """Install with ``installed()``; read ``usage`` (or ``usage.copy()`` and ``minus``)."""

    def __init__(self) -> None:
        self.usage = Usage()

    def observe(self, event_name: str, request: Any, response: Any) -> None:
        # event_name: "before-send.<service>.<Operation>"
        _, service, operation = event_name.split(".", 2)
        self.usage.calls[f"{service}.{operation}"] += 1
        request_body = request.body or b""
        response_body = response.content or b""
        if service == "sqs":
            payload = max(len(request_body), len(response_body))
            self.usage.sqs_billed_requests += sqs_billed_requests(payload)
        elif service == "dynamodb":
            sent = _json(request_body)
            for table in sent.get("RequestItems") or [sent.get("TableName", "?")]:
                self.usage.dynamodb_by_table[f"{operation} {table}"] += 1
            reads, writes = dynamodb_units(operation, sent, _json(response_body))
            self.usage.dynamodb_read_units += reads
            self.usage.dynamodb_write_units += writes

    @contextmanager
    def installed(self) -> Iterator[AwsMeter]:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        meter = self

        def metered(stub: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            cpu, wall = time.process_time(), time.perf_counter()
            response = original(stub, event_name, request, **kwargs)
            if response is not None:
                meter.observe(event_name, request, response)
            # The meter's own parsing of the bodies is not the caller's work either: it is
            # taken out with moto's (it was 0.2-0.7 ms of a consumer update's CPU).
            meter.usage.server_cpu_seconds += time.process_time() - cpu
            meter.usage.server_wall_seconds += time.perf_counter() - wall
            return response

        BotocoreStubber.__call__ = metered  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def max_item_bytes(dynamodb_client: Any, table: str) -> int:
    """The biggest item in a table (scanned after the run, outside any measurement)."""
    biggest = 0
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb_client.scan(**kwargs)
        for item in page.get("Items", []):
            biggest = max(biggest, item_bytes(item))
        if "LastEvaluatedKey" not in page:
            return biggest
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
