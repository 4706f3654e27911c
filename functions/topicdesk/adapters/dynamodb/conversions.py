"""boto3's DynamoDB resource conversions (Python values <-> DynamoDB's typed values), made
where our calls put them instead of found by walking the operation's model.

A ``Table`` converts every request and response through handlers that boto3 registers on
the resource's client: a deep copy of the parameters, then two walks over the whole input
shape (one looking for condition objects, one for attribute values) and one over the output
shape: about 0.08 ms of a call's 0.5 to 0.7 ms of CPU (issue 16). For the
operations the adapters use, the values sit in known places (``Key``, ``Item``,
``ExpressionAttributeValues``, ``ExclusiveStartKey``, a batch's or a transaction's items and
their answers), so ``install`` replaces those handlers (under boto3's own ids, so a later
``Table`` does not add them back) with ones that convert just those places, with boto3's own
``TypeSerializer``/``TypeDeserializer``. A condition built with ``boto3.dynamodb.conditions``
is turned into an expression by boto3's handler, and its values are then converted here.
Anything else - another operation, a legacy parameter (``Expected``, ``KeyConditions`` ...),
an answer with item collection metrics - goes through boto3's handlers as before. A refusal's
``Item`` (a failed condition's ``ALL_OLD``) stays typed, as boto3 leaves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

Values = Mapping[str, Any]
logger = Logger(child=True)

_PARAMS_COPY = ("provide-client-params.dynamodb", "dynamodb-create-params-copy")
_CONDITIONS = ("before-parameter-build.dynamodb", "dynamodb-condition-expression")
_INPUT = ("before-parameter-build.dynamodb", "dynamodb-attr-value-input")
_OUTPUT = ("after-call.dynamodb", "dynamodb-attr-value-output")
_HANDLER_IDS = (_PARAMS_COPY, _CONDITIONS, _INPUT, _OUTPUT)

_MAPS_IN: dict[str, tuple[str, ...]] = {
    "GetItem": ("Key",),
    "PutItem": ("Item", "ExpressionAttributeValues"),
    "UpdateItem": ("Key", "ExpressionAttributeValues"),
    "DeleteItem": ("Key", "ExpressionAttributeValues"),
    "Query": ("ExclusiveStartKey", "ExpressionAttributeValues"),
    "Scan": ("ExclusiveStartKey", "ExpressionAttributeValues"),
    "BatchWriteItem": (),
    "BatchGetItem": (),
    "TransactWriteItems": (),
}
"""The operations converted here, and the parameters that are maps of attribute values."""
_EXPRESSIONS = ("ConditionExpression", "KeyConditionExpression", "FilterExpression")
_LEGACY = ("Expected", "AttributeUpdates", "KeyConditions", "QueryFilter", "ScanFilter")
_TRANSACT_ACTIONS = ("Put", "Update", "Delete", "ConditionCheck")

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _to_typed(values: Values) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}


def _from_typed(values: Values) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in values.items()}


def converted_here(operation: str, params: Values) -> bool:
    """Whether this module converts ``operation``'s request with these parameters."""
    if operation not in _MAPS_IN:
        return False
    if any(not isinstance(params.get(name, ""), str) for name in _EXPRESSIONS):
        return False  # a boto3 condition object: boto3 builds the expression
    if operation == "TransactWriteItems":
        return all(
            isinstance(item.get(action, {}).get("ConditionExpression", ""), str)
            for item in params.get("TransactItems", ())
            for action in _TRANSACT_ACTIONS
        )
    return not any(name in params for name in _LEGACY)


def _transact_action(action: Values) -> dict[str, Any]:
    typed = dict(action)
    for name in ("Item", "Key", "ExpressionAttributeValues"):
        if name in action:
            typed[name] = _to_typed(action[name])
    return typed


def _each_write(
    requests: Values, convert: Callable[[Values], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """A BatchWriteItem's ``RequestItems`` (or its answer's ``UnprocessedItems``), with
    ``convert`` applied to each put's item and each delete's key."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, writes in requests.items():
        out[table] = []
        for write in writes:
            if "PutRequest" in write:
                out[table].append({"PutRequest": {"Item": convert(write["PutRequest"]["Item"])}})
            else:
                out[table].append(
                    {"DeleteRequest": {"Key": convert(write["DeleteRequest"]["Key"])}}
                )
    return out


def _keys(requests: Values, convert: Callable[[Values], dict[str, Any]]) -> dict[str, Any]:
    """A BatchGetItem's ``RequestItems`` (or ``UnprocessedKeys``) with its keys converted."""
    return {
        table: {**wanted, "Keys": [convert(key) for key in wanted["Keys"]]}
        for table, wanted in requests.items()
    }


def to_typed(operation: str, params: dict[str, Any]) -> None:
    """Replace ``params``' Python values with typed ones (new containers: the caller's own
    nested dicts are not touched, so a shallow copy of the parameters is enough)."""
    for name in _MAPS_IN[operation]:
        if name in params:
            params[name] = _to_typed(params[name])
    if operation == "BatchWriteItem":
        params["RequestItems"] = _each_write(params["RequestItems"], _to_typed)
    elif operation == "BatchGetItem":
        params["RequestItems"] = _keys(params["RequestItems"], _to_typed)
    elif operation == "TransactWriteItems":
        params["TransactItems"] = [
            {kind: _transact_action(action) for kind, action in item.items()}
            for item in params["TransactItems"]
        ]


def from_typed(operation: str, parsed: dict[str, Any]) -> bool:
    """Turn an answer's typed values into Python ones in place; False when it holds some this
    module does not know where to find (left for boto3)."""
    if operation not in _MAPS_IN or "ItemCollectionMetrics" in parsed:
        return False
    if "Error" in parsed:
        # A refusal (a failed condition's ALL_OLD ``Item``): boto3 walks the operation's
        # output shape, which has no such member, and leaves it typed. So does this.
        return True
    for name in ("Item", "Attributes", "LastEvaluatedKey"):
        if name in parsed:
            parsed[name] = _from_typed(parsed[name])
    if "Items" in parsed:
        parsed["Items"] = [_from_typed(item) for item in parsed["Items"]]
    if "UnprocessedItems" in parsed:
        parsed["UnprocessedItems"] = _each_write(parsed["UnprocessedItems"], _from_typed)
    if "Responses" in parsed:
        parsed["Responses"] = {
            table: [_from_typed(item) for item in items]
            for table, items in parsed["Responses"].items()
        }
    if "UnprocessedKeys" in parsed:
        parsed["UnprocessedKeys"] = _keys(parsed["UnprocessedKeys"], _from_typed)
    return True


class Conversions:
    """The four handlers, each falling back to boto3's own."""

    def __init__(self) -> None:
        self._boto3 = TransformationInjector()

    def copy_params(self, params: dict[str, Any], model: Any, **kwargs: Any) -> dict[str, Any]:
        if converted_here(model.name, params):
            return dict(params)
        copied: dict[str, Any] = copy_dynamodb_params(params)
        return copied

    def conditions(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if not converted_here(model.name, params):
            self._boto3.inject_condition_expressions(params, model)

    def values_in(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if converted_here(model.name, params):
            to_typed(model.name, params)
        else:
            self._boto3.inject_attribute_value_input(params, model)

    def values_out(self, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if not from_typed(model.name, parsed):
            self._boto3.inject_attribute_value_output(parsed, model)


def install(resource: Any) -> Any:
    """Put these conversions on a DynamoDB resource's client (every ``Table`` made from the
    resource shares it), in place of boto3's; returns the resource.

    boto3 comes with the Lambda runtime, not with our bundle, and the handlers' ids are
    boto3's own, not an API: a boto3 that named them differently would keep its handlers
    beside ours, and every value would be converted twice (every call broken). So the swap
    is checked on one value each way; failing, ours are taken out (boto3's, under other ids,
    may still be there), and failing again boto3's own are put under the ids. A client that
    converts no value exactly once stops the container's init instead of every call."""
    client = resource.meta.client
    events = client.meta.events
    ours = Conversions()
    injector = TransformationInjector()
    candidates: tuple[tuple[Callable[..., Any] | None, ...], ...] = (
        (ours.copy_params, ours.conditions, ours.values_in, ours.values_out),
        (None, None, None, None),
        (
            copy_dynamodb_params,
            injector.inject_condition_expressions,
            injector.inject_attribute_value_input,
            injector.inject_attribute_value_output,
        ),
    )
    for attempt, handlers in enumerate(candidates):
        for (event, unique_id), handler in zip(_HANDLER_IDS, handlers, strict=True):
            events.unregister(event, unique_id=unique_id)
            if handler is not None:
                events.register(event, handler, unique_id=unique_id)
        if _converts_once(client):
            if attempt:
                logger.warning("DynamoDB values left to boto3: its handlers moved")
            return resource
    raise RuntimeError("no set of handlers converts DynamoDB values exactly once")


def _converts_once(client: Any) -> bool:
    """One key through the client's request and answer handlers, as a GetItem's would go."""
    model = client.meta.service_model.operation_model("GetItem")
    params: dict[str, Any] = {"TableName": "probe", "Key": {"probe": "probe"}}
    parsed: dict[str, Any] = {"Item": {"probe": {"S": "probe"}}}
    events = client.meta.events
    try:
        events.emit(
            "before-parameter-build.dynamodb.GetItem", params=params, model=model, context={}
        )
        events.emit(
            "after-call.dynamodb.GetItem",
            http_response=None,  # botocore's retry quota keeps nothing for an answer without one
            parsed=parsed,
            model=model,
            context={},
        )
    except Exception:  # a second conversion fails on typed values: not converted once
        return False
    return bool(params["Key"] == {"probe": {"S": "probe"}} and parsed["Item"] == {"probe": "probe"})
