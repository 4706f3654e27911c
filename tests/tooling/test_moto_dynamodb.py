"""moto's DynamoDB answers two conditional updates of one item as DynamoDB does: one after the
other, each with the item its own write left (``devkit/moto/dynamodb.py``)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.parsing.validators import UpdateExpressionValidator
from topicdesk.contract import LIMITS_TABLE

from devkit.moto import patch_dynamodb_requests
from infra.definitions import create_table

TABLE = "limits"
KEY = {LIMITS_TABLE.partition_key: {"S": "bot"}}


def _reserve(client: Any) -> int:
    """The limiter's busy-key write: move the TAT on by one, answer the new TAT."""
    answer = client.update_item(
        TableName=TABLE,
        Key=KEY,
        UpdateExpression="SET #t = #t + :cost",
        ConditionExpression="#t BETWEEN :now AND :latest",
        ExpressionAttributeNames={"#t": "tat"},
        ExpressionAttributeValues={
            ":cost": {"N": "1"},
            ":now": {"N": "0"},
            ":latest": {"N": "100"},
        },
        ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["tat"]["N"])


def _paused_once(
    original: Callable[..., Any], paused: threading.Event, resume: threading.Event
) -> Any:
    """``original``, but its first call, once done, waits (up to half a second) for ``resume``."""
    calls = itertools.count()

    def call(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if next(calls) == 0:
            paused.set()
            resume.wait(0.5)
        return result

    return call


class _Validator(UpdateExpressionValidator):
    """What moto's UpdateItem builds after the condition passed; ``validate`` works out the new
    values from the item as it is then."""

    pause: Any = None

    def validate(self) -> Any:
        return type(self).pause(super().validate)


@pytest.mark.parametrize(
    "switch",
    [
        "after the new value is worked out",  # both write old + cost: one update lost (the bench's)
        "after the update, before the answer",  # both answer the second's new value
    ],
)
def test_two_updates_of_one_item_at_once_get_one_new_value_each(
    monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    """moto's threads switched at either point handed one slot to two senders; the second
    request now waits for the first, which goes on after half a second."""
    patch_dynamodb_requests()
    paused, resume = threading.Event(), threading.Event()
    if switch.startswith("after the new value"):
        monkeypatch.setattr(
            _Validator, "pause", staticmethod(_paused_once(lambda run: run(), paused, resume))
        )
        monkeypatch.setattr(models, "UpdateExpressionValidator", _Validator)
    else:
        monkeypatch.setattr(
            DynamoDBBackend,
            "update_item",
            _paused_once(DynamoDBBackend.update_item, paused, resume),
        )
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE, LIMITS_TABLE, ttl=False)
        client.put_item(TableName=TABLE, Item={**KEY, "tat": {"N": "0"}})
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_reserve, boto3.client("dynamodb", region_name="us-east-1"))
            assert paused.wait(10.0)
            second = pool.submit(_reserve, boto3.client("dynamodb", region_name="us-east-1"))
            answers = [second.result(10.0)]
            resume.set()
            answers.insert(0, first.result(10.0))
        stored = client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
    assert answers == [1, 2]
    assert stored["Item"]["tat"] == {"N": "2"}
