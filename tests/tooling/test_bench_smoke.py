"""``make bench`` stays importable and its arithmetic right (no timing here, ever)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from topicdesk.contract import DATA_TABLE

from bench import cost, meter, webhook_bench
from bench.cost import LambdaUse, UpdateCost


@pytest.mark.parametrize(
    "module",
    [
        "bench",
        "bench.cost",
        "bench.meter",
        "bench.world",
        "bench.naive_webhook",
        "bench.webhook_bench",
    ],
)
def test_bench_modules_import(module: str) -> None:
    assert importlib.import_module(module).__doc__


def test_lambda_duration_is_billed_per_started_millisecond() -> None:
    assert cost.lambda_gb_seconds(10.2, 256) == pytest.approx(0.011 * 0.25)
    assert cost.lambda_gb_seconds(10.0, 1024) == pytest.approx(0.010)
    use = LambdaUse(invocations_per_update=0.1, ms_per_invocation=100.0, memory_mb=512)
    per_invocation = cost.LAMBDA_REQUEST_USD + 0.1 * 0.5 * cost.LAMBDA_ARM64_GB_SECOND_USD
    assert use.usd_per_update() == pytest.approx(0.1 * per_invocation)


def test_sqs_requests_are_counted_in_64_kib_chunks() -> None:
    assert [cost.sqs_billed_requests(n) for n in (0, 1, 65_536, 65_537, 256_000)] == [
        1,
        1,
        1,
        2,
        4,
    ]


def test_cost_per_million_on_fixed_inputs() -> None:
    update = UpdateCost(
        functions=(
            LambdaUse(1.0, 10.0, 256),  # webhook: 0.0025 GB-s + one request
            LambdaUse(0.1, 200.0, 512),  # consumer: batches of ten, 0.1 GB-s each
        ),
        sqs_requests=1.2,
        dynamodb_read_units=2.0,
        dynamodb_write_units=12.0,
        secrets_manager_calls=0.001,
    )
    breakdown = update.breakdown_per_million()
    gb_seconds = 0.0025 + 0.1 * 0.1
    requests = 1.0 + 0.1
    assert breakdown["lambda"] == pytest.approx(
        1e6 * (gb_seconds * 0.0000133334 + requests * 0.20 / 1e6)
    )
    assert breakdown["lambda"] == pytest.approx(0.220 + 166.6675 / 1000, rel=1e-6)
    assert breakdown["sqs"] == pytest.approx(0.60)
    assert breakdown["dynamodb"] == pytest.approx(2 * 0.125 + 12 * 0.625)
    assert breakdown["secrets_manager"] == pytest.approx(0.005)
    assert update.usd_per_million() == pytest.approx(sum(breakdown.values()))


def test_dynamodb_item_sizes_and_request_units() -> None:
    pk = DATA_TABLE.partition_key  # an item as the data table holds it
    item = {pk: {"S": "USER#42"}, "n": {"N": "12345"}, "ok": {"BOOL": True}}
    assert meter.item_bytes(item) == (len(pk) + 7) + (1 + 4) + (2 + 1)
    big = {pk: {"S": "x"}, "blob": {"S": "y" * 1500}}
    assert meter.dynamodb_units("PutItem", {"Item": big}, {}) == (0.0, 2.0)
    assert meter.dynamodb_units("GetItem", {"ConsistentRead": True}, {"Item": item}) == (1.0, 0)
    assert meter.dynamodb_units("GetItem", {}, {}) == (0.5, 0.0)
    assert meter.dynamodb_units(
        "TransactWriteItems", {"TransactItems": [{"Put": {"Item": item}}]}, {}
    ) == (
        0.0,
        2.0,
    )
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": item}}, {"PutRequest": {"Item": big}}]}}
    assert meter.dynamodb_units("BatchWriteItem", batch, {}) == (0.0, 3.0)
    assert meter.dynamodb_units("DescribeTable", {}, {}) == (0.0, 0.0)


def test_the_meter_counts_calls_units_and_chunks() -> None:
    aws = meter.AwsMeter()
    put = b'{"TableName": "data", "Item": {"pk": {"S": "a"}}}'
    aws.observe(
        "before-send.dynamodb.PutItem", SimpleNamespace(body=put), SimpleNamespace(content=b"{}")
    )
    aws.observe(
        "before-send.sqs.SendMessage",
        SimpleNamespace(body=b"x" * 70_000),
        SimpleNamespace(content=b"{}"),
    )
    earlier = aws.usage.copy()
    aws.observe(
        "before-send.sqs.ReceiveMessage", SimpleNamespace(body=b"{}"), SimpleNamespace(content=b"")
    )
    assert aws.usage.calls == {
        "dynamodb.PutItem": 1,
        "sqs.SendMessage": 1,
        "sqs.ReceiveMessage": 1,
    }
    assert aws.usage.dynamodb_by_table == {"PutItem data": 1}
    assert (aws.usage.dynamodb_write_units, aws.usage.sqs_billed_requests) == (1.0, 3)
    assert aws.usage.count("sqs") == 2
    later = aws.usage.minus(earlier)
    assert later.calls == {"sqs.ReceiveMessage": 1} and later.sqs_billed_requests == 1


def test_report_helpers() -> None:
    values = [float(v) for v in range(1, 101)]
    assert webhook_bench.percentile(values, 0.50) == 50.0
    assert webhook_bench.percentile(values, 0.99) == 99.0
    assert webhook_bench.percentile([3.0], 0.99) == 3.0
    assert webhook_bench.ratio(3.0, 2.0) == "1.50"
    assert webhook_bench.ratio(1.0, 0.0) == "-"
    lines = webhook_bench.table([("a", "1", "2", "0.50")]).splitlines()
    assert len(lines) == 3 and all(len(line) == len(lines[0]) for line in lines)
    assert lines[1].endswith(":|") and "| a " in lines[2]


def test_floor_is_the_queue_and_lambda_requests_alone() -> None:
    # One SendMessage per update plus a receive and a delete per batch of ten; one webhook
    # invocation per update and one consumer invocation per ten: 0.60 + 0.22 USD per million.
    floor = cost.floor_cost(1.2, (1.0, 0.1))
    assert floor.usd_per_million() == pytest.approx(1.2 * 0.50 + 1.1 * 0.20)
    assert floor.breakdown_per_million()["dynamodb"] == 0.0


def test_billed_time_stretches_cpu_to_the_functions_share_of_a_vcpu() -> None:
    # At 1,769 MB and above a function has a whole vCPU: what was measured is what is billed.
    assert cost.billed_ms(100.0, 20.0, 1769, waits_ms=5.0) == pytest.approx(105.0)
    assert cost.billed_ms(100.0, 20.0, 3538) == pytest.approx(100.0)
    # At 512 MB the 20 ms of CPU take 20 * 1769 / 512 ms: the wait part is not stretched.
    assert cost.billed_ms(100.0, 20.0, 512) == pytest.approx(80.0 + 20.0 * 1769 / 512)
