"""moto's DynamoDB answers two conditional updates of one item as DynamoDB does: one after the
other, each with the item its own write left (``devkit/moto/dynamodb.py``)."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from devkit.moto import patch_dynamodb_requests

TABLE = "limits"


def _reserve(client: Any) -> int:
    """The limiter's busy-key write: move the TAT on by one, answer the new TAT."""
    answer = client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "bot"}},
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


def test_two_updates_of_one_item_at_once_get_one_new_value_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patch_dynamodb_requests()
    first_updated, second_updated = threading.Event(), threading.Event()
    calls = itertools.count()
    update_item = DynamoDBBackend.update_item

    def interleaved(self: Any, *args: Any, **kwargs: Any) -> Any:
        """The first update, once applied, gives way to the second before its answer is
        written (a switch of moto's threads there handed one slot to two senders); a second
        request that cannot run meanwhile lets it go on after half a second."""
        item = update_item(self, *args, **kwargs)
        if next(calls) == 0:
            first_updated.set()
            second_updated.wait(0.5)
        else:
            second_updated.set()
        return item

    monkeypatch.setattr(DynamoDBBackend, "update_item", interleaved)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName=TABLE, Item={"pk": {"S": "bot"}, "tat": {"N": "0"}})
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(_reserve, boto3.client("dynamodb", region_name="us-east-1"))
            assert first_updated.wait(10.0)
            second = pool.submit(_reserve, boto3.client("dynamodb", region_name="us-east-1"))
            answers = [first.result(10.0), second.result(10.0)]
        stored = client.get_item(TableName=TABLE, Key={"pk": {"S": "bot"}}, ConsistentRead=True)
    assert answers == [1, 2]
    assert stored["Item"]["tat"] == {"N": "2"}
