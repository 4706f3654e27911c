"""The DynamoDB resource's conversions made in place (``adapters.dynamodb.conversions``): the
same requests and answers as boto3's own handlers, what they do not know left to boto3."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params
from botocore.config import Config
from moto import mock_aws
from topicdesk.adapters.dynamodb.conversions import converted_here, from_typed, install, to_typed
from topicdesk.contract import DATA_TABLE

from infra.definitions import create_tables

PK, SK = DATA_TABLE.partition_key, str(DATA_TABLE.sort_key)
ITEM: dict[str, Any] = {
    PK: "PERSON#5",
    SK: "MSG#5#10",
    "peer_chat_id": -1001234567890,
    "when": Decimal("1712345678.123"),
    "tags": {"a", "b"},
    "steps": ["x", 1, None, True],
    "nested": {"m": {"n": Decimal("2")}, "b": b"\x00\x01"},
}

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"TableName": "t", "Key": {PK: "a", SK: "b"}, "ConsistentRead": True}),
    (
        "PutItem",
        {"TableName": "t", "Item": ITEM, "ConditionExpression": "attribute_not_exists(pk)"},
    ),
    (
        "UpdateItem",
        {
            "TableName": "t",
            "Key": {PK: "a", SK: "b"},
            "UpdateExpression": "SET #f0 = :v0 ADD n :one",
            "ExpressionAttributeNames": {"#f0": "x"},
            "ExpressionAttributeValues": {":v0": ITEM["nested"], ":one": 1},
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("DeleteItem", {"TableName": "t", "Key": {PK: "a", SK: "b"}}),
    (
        "Query",
        {
            "TableName": "t",
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": "PERSON#5"},
            "ExclusiveStartKey": {PK: "PERSON#5", SK: "MSG#1"},
        },
    ),
    (
        "BatchWriteItem",
        {
            "RequestItems": {
                "t": [
                    {"PutRequest": {"Item": ITEM}},
                    {"DeleteRequest": {"Key": {PK: "a", SK: "b"}}},
                ]
            }
        },
    ),
    (
        "BatchGetItem",
        {"RequestItems": {"t": {"Keys": [{PK: "a", SK: "b"}], "ConsistentRead": True}}},
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": ITEM}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {PK: "a", SK: "b"},
                        "UpdateExpression": "ADD n :minus",
                        "ConditionExpression": "n > :zero",
                        "ExpressionAttributeValues": {":minus": -1, ":zero": 0},
                    }
                },
                {"Delete": {"TableName": "t", "Key": {PK: "c", SK: "d"}}},
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {PK: "e", SK: "f"},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        },
    ),
]


def typed(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in values.items()}


ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("GetItem", {"Item": typed(ITEM)}),
    ("GetItem", {}),
    ("UpdateItem", {"Attributes": typed({"n": 3, "x": ITEM["nested"]})}),
    ("PutItem", {}),
    (
        "Query",
        {"Items": [typed(ITEM)], "Count": 1, "LastEvaluatedKey": typed({PK: "a", SK: "b"})},
    ),
    ("BatchWriteItem", {"UnprocessedItems": {"t": [{"PutRequest": {"Item": typed(ITEM)}}]}}),
    (
        "BatchGetItem",
        {
            "Responses": {"t": [typed(ITEM)]},
            "UnprocessedKeys": {"t": {"Keys": [typed({PK: "a", SK: "b"})]}},
        },
    ),
    ("TransactWriteItems", {}),
]


def sets_in_order(value: Any) -> Any:
    """A typed value with its string, number and binary sets sorted: a set has no order, and a
    deep copy of a Python set may iterate in another order than the set it copied."""
    if isinstance(value, dict):
        return {
            key: sorted(inner) if key in ("SS", "NS", "BS") else sets_in_order(inner)
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [sets_in_order(inner) for inner in value]
    return value


@pytest.fixture(scope="module")
def model() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1").meta.service_model


@pytest.mark.parametrize(("operation", "params"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_a_request_is_converted_as_boto3_converts_it_and_the_callers_values_stay(
    model: Any, operation: str, params: dict[str, Any]
) -> None:
    boto3_way = copy.deepcopy(params)
    injector = TransformationInjector()
    injector.inject_condition_expressions(boto3_way, model.operation_model(operation))
    injector.inject_attribute_value_input(boto3_way, model.operation_model(operation))
    original = copy.deepcopy(params)
    ours = dict(params)  # the shallow copy the handler makes
    assert converted_here(operation, ours)
    to_typed(operation, ours)
    assert sets_in_order(ours) == sets_in_order(boto3_way)
    assert params == original


@pytest.mark.parametrize(("operation", "answer"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_an_answer_is_converted_as_boto3_converts_it(
    model: Any, operation: str, answer: dict[str, Any]
) -> None:
    boto3_way = copy.deepcopy(answer)
    TransformationInjector().inject_attribute_value_output(
        boto3_way, model.operation_model(operation)
    )
    ours = copy.deepcopy(answer)
    assert from_typed(operation, ours)
    assert ours == boto3_way


def test_what_it_does_not_know_is_left_to_boto3() -> None:
    assert not converted_here("Scan", {"ScanFilter": {}})
    assert not converted_here("Query", {"KeyConditionExpression": Key(PK).eq("a")})
    assert not converted_here("PutItem", {"Item": {}, "Expected": {}})
    assert not converted_here("DescribeTable", {"TableName": "t"})
    assert not converted_here(
        "TransactWriteItems",
        {"TransactItems": [{"Put": {"Item": {}, "ConditionExpression": Attr("a").exists()}}]},
    )
    assert not from_typed("PutItem", {"ItemCollectionMetrics": {}})


@pytest.fixture
def tables() -> Iterator[tuple[Any, Any]]:
    """(a table with these conversions, the same table with boto3's own). Ours is made after
    ``install``: making it registers boto3's handlers again, which must not add them back (a
    value converted twice would be stored as a map of its typed form)."""
    with mock_aws():
        config = Config(parameter_validation=False, region_name="us-east-1")
        ours = install(boto3.resource("dynamodb", config=config))
        theirs = boto3.resource("dynamodb", config=config)
        name = create_tables(ours.meta.client, lambda suffix: f"t-{suffix}").data
        yield ours.Table(name), theirs.Table(name)


def test_a_table_reads_and_writes_through_them_as_through_boto3s(tables: tuple[Any, Any]) -> None:
    ours, theirs = tables
    ours.put_item(Item=ITEM)
    key = {PK: ITEM[PK], SK: ITEM[SK]}
    assert ours.get_item(Key=key, ConsistentRead=True)["Item"] == ITEM
    assert theirs.get_item(Key=key, ConsistentRead=True)["Item"] == ITEM
    with ours.batch_writer() as batch:
        batch.put_item(Item={**ITEM, SK: "MSG#5#11"})
        batch.delete_item(Key=key)
    answer = ours.update_item(
        Key={PK: ITEM[PK], SK: "MSG#5#11"},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="ALL_NEW",
    )
    assert answer["Attributes"] == {**ITEM, SK: "MSG#5#11", "n": 1}
    pages = ours.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": ITEM[PK]}
    )
    assert pages["Items"] == theirs.query(KeyConditionExpression=Key(PK).eq(ITEM[PK]))["Items"]
    # A boto3 condition object still works: boto3's own handlers take that call.
    assert ours.query(KeyConditionExpression=Key(PK).eq(ITEM[PK]))["Items"] == pages["Items"]
    got = ours.meta.client.batch_get_item(
        RequestItems={ours.name: {"Keys": [{PK: ITEM[PK], SK: "MSG#5#11"}]}}
    )
    assert got["Responses"][ours.name] == pages["Items"]
    ours.meta.client.transact_write_items(
        TransactItems=[{"Delete": {"TableName": ours.name, "Key": {PK: ITEM[PK], SK: "MSG#5#11"}}}]
    )
    assert "Item" not in theirs.get_item(Key={PK: ITEM[PK], SK: "MSG#5#11"})


def test_a_refusals_old_item_stays_typed_as_boto3_leaves_it(tables: tuple[Any, Any]) -> None:
    ours, theirs = tables
    ours.put_item(Item={PK: "a", SK: "b", "tat": 5})
    refusals = []
    for table in (ours, theirs):
        with pytest.raises(table.meta.client.exceptions.ConditionalCheckFailedException) as error:
            table.update_item(
                Key={PK: "a", SK: "b"},
                UpdateExpression="SET tat = :t",
                ConditionExpression="tat < :t0",
                ExpressionAttributeValues={":t": 6, ":t0": 1},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        refusals.append(error.value.response.get("Item"))
    assert refusals[0] == refusals[1] == {PK: {"S": "a"}, SK: {"S": "b"}, "tat": {"N": "5"}}


def _probe(resource: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"TableName": "t", "Key": {PK: "x"}}
    model = resource.meta.client.meta.service_model.operation_model("GetItem")
    resource.meta.client.meta.events.emit(
        "before-parameter-build.dynamodb.GetItem", params=params, model=model, context={}
    )
    return params


def test_a_boto3_whose_handlers_moved_keeps_its_own_and_values_convert_once() -> None:
    """boto3 comes with the Lambda runtime: if its handlers' ids changed, ours must not run
    beside them (a value converted twice breaks every call)."""
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        events = resource.meta.client.meta.events
        injector = TransformationInjector()
        # A boto3 that names its handlers otherwise: the same handlers under new ids.
        for event, unique_id, handler in (
            ("provide-client-params.dynamodb", "dynamodb-create-params-copy", copy_dynamodb_params),
            (
                "before-parameter-build.dynamodb",
                "dynamodb-condition-expression",
                injector.inject_condition_expressions,
            ),
            (
                "before-parameter-build.dynamodb",
                "dynamodb-attr-value-input",
                injector.inject_attribute_value_input,
            ),
            (
                "after-call.dynamodb",
                "dynamodb-attr-value-output",
                injector.inject_attribute_value_output,
            ),
        ):
            events.unregister(event, unique_id=unique_id)
            events.register(event, handler, unique_id=f"renamed-{unique_id}")
        install(resource)
        assert _probe(resource)["Key"] == {PK: {"S": "x"}}
        parsed: dict[str, Any] = {"Item": {PK: {"S": "x"}}}
        model = resource.meta.client.meta.service_model.operation_model("GetItem")
        events.emit(
            "after-call.dynamodb.GetItem",
            http_response=None,
            parsed=parsed,
            model=model,
            context={},
        )
        assert parsed == {"Item": {PK: "x"}}


def test_a_client_that_cannot_convert_once_stops_the_init() -> None:
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        # Something converting every value again, under an id nothing here knows.
        resource.meta.client.meta.events.register(
            "before-parameter-build.dynamodb",
            TransformationInjector().inject_attribute_value_input,
            unique_id="another-conversion",
        )
        with pytest.raises(RuntimeError, match="exactly once"):
            install(resource)
