"""``make bench``, the widget path: what a visitor's message costs, measured like the Telegram
path (``bench.webhook_bench``) on the same moto world and emulator.

1. The edge Lambda (``topicdesk.handlers.widget``) driven with API Gateway WebSocket events:
   per visitor ``$connect``, ``hello``, ``--widget-messages`` sends and ``$disconnect`` (a
   visitor's page stays on one connection for a short conversation); its wall time and CPU
   minus moto's work, its DynamoDB units and SQS requests.
2. The consumer on the records the edge queued (topic, card, message into the group), then
   one operator's answer per visitor through the webhook and the consumer, pushed back with
   ``post_to_connection`` (moto plays API Gateway's management API; its calls are counted).
3. Cost per million visitor messages with ``bench.cost``'s prices plus API Gateway's WebSocket
   prices below; one answer per visitor message is assumed (the measured answers' work is
   scaled to it).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from topicdesk.contract import Env

from bench import webhook_bench as wb
from bench.cost import LambdaUse, UpdateCost, billed_ms
from bench.meter import AwsMeter, Usage
from bench.world import Emulator, MotoWorld
from infra.definitions import WIDGET

# API Gateway WebSocket APIs, us-east-1 list prices, first billion messages a month
# (https://aws.amazon.com/api-gateway/pricing/, "WebSocket APIs"): $1.00 per million messages
# (each frame either way, counted in 32 KB units) and $0.25 per million connection-minutes.
APIGW_WEBSOCKET_MESSAGE_USD = 1.00 / 1_000_000
APIGW_CONNECTION_MINUTE_USD = 0.25 / 1_000_000
ASSUMED_CONNECTION_MINUTES_PER_MESSAGE = 3.0
"""An assumption, not a measurement: a visitor's page keeps its socket open while they write
and wait for an answer (a few minutes per message)."""
ANSWERS_PER_MESSAGE = 1.0
VISITORS = 50
MESSAGES_PER_VISITOR = 4
WIDGET_MEMORY_MB = WIDGET.memory_size
KEY = "bench-widget-key-0001"
ORIGIN = "https://shop.example"
TOKEN_SECRET = "topicdesk-bench-widget-token"  # noqa: S105 (a secret's name)


def api_gateway_usd_per_million(frames_per_message: float) -> float:
    """API Gateway's share of a million visitor messages: their frames and connection time."""
    return 1_000_000 * (
        frames_per_message * APIGW_WEBSOCKET_MESSAGE_USD
        + ASSUMED_CONNECTION_MINUTES_PER_MESSAGE * APIGW_CONNECTION_MINUTE_USD
    )


def widget_environment(world: MotoWorld, group_id: int) -> dict[str, str]:
    """The edge's and the consumer's widget settings on the bench's moto world."""
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=TOKEN_SECRET, SecretString="bench-signing-key"
    )
    project = {
        "name": "bench",
        "widgetKey": KEY,
        "allowedOrigins": [ORIGIN],
        "operatorChatIds": [group_id],
    }
    return {
        Env.WIDGET_PROJECTS: json.dumps([project]),
        Env.WIDGET_TOKEN_SECRET_NAME: TOKEN_SECRET,
        # Every visitor is a new person with a new topic: the cap on new topics an hour
        # (60 as shipped) would defer most of them; the benchmark measures the code.
        Env.LIMIT_NEW_TOPICS_PER_HOUR: "100000",
        # moto answers the management API in-process, whatever the host.
        Env.WIDGET_CONNECTIONS_URL: "https://bench.execute-api.us-east-1.amazonaws.com/bench",
    }


def _event(route: str, connection: str, **extra: Any) -> dict[str, Any]:
    kinds = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}
    context = {
        "routeKey": route,
        "eventType": kinds.get(route, "MESSAGE"),
        "connectionId": connection,
        "stage": "bench",
        "apiId": "bench",
    }
    return {"requestContext": context, "isBase64Encoded": False, **extra}


def edge_events(visitors: int, messages: int) -> list[dict[str, Any]]:
    events = []
    page = {"url": f"{ORIGIN}/pricing", "language": "en", "userAgent": "Firefox/121.0"}
    for v in range(visitors):
        connection = f"bench{v:05d}="
        events.append(
            _event(
                "$connect",
                connection,
                headers={"Origin": ORIGIN},
                queryStringParameters={"key": KEY},
            )
        )
        hello = {"action": "hello", "session": None, "page": page}
        events.append(_event("hello", connection, body=json.dumps(hello)))
        for m in range(messages):
            send = {"action": "send", "id": f"m{m}", "text": f"Visitor {v} here, question {m}."}
            events.append(_event("send", connection, body=json.dumps(send)))
    return events


def disconnect_events(visitors: int) -> list[dict[str, Any]]:
    """After the answers were pushed: the visitors leave."""
    return [_event("$disconnect", f"bench{v:05d}=", headers={}) for v in range(visitors)]


@dataclass(frozen=True)
class WidgetRun:
    messages: int
    edge_invocations: int
    edge_own_ms: float
    """Mean per invocation, moto's work removed."""
    edge_cpu_ms: float
    edge_usage: Usage
    consumer_in: wb.ConsumerRun
    """The visitors' messages."""
    consumer_out: wb.ConsumerRun
    """The operators' answers."""
    answers: int
    webhook_usage: Usage


def run(
    world: MotoWorld,
    meter: AwsMeter,
    emulator: Emulator,
    group_id: int,
    *,
    visitors: int = VISITORS,
    messages: int = MESSAGES_PER_VISITOR,
) -> WidgetRun:
    from devkit.lambda_runtime import FakeLambdaContext

    with wb.quiet():
        from topicdesk.handlers import widget
    context = FakeLambdaContext("widget", memory_limit_in_mb=WIDGET_MEMORY_MB)
    side = wb.Side(widget.handler, context, meter.usage)
    events = edge_events(visitors, messages)
    with wb.quiet():
        for event in events:
            side.call(event)
    latency = side.latency
    assert latency is not None
    bad = {k: v for k, v in latency.statuses.items() if k != 200}
    if bad:
        raise RuntimeError(f"widget edge answered {bad}")
    total = visitors * messages
    consumer_in = wb.run_consumer(world, meter, emulator, total)
    # One operator's answer in each visitor's topic, through the webhook like any update.
    client = emulator.client
    topics = [t for t in client.topics(group_id) if str(t["name"]).startswith("Anon_")]
    operator = _operator(emulator, group_id)
    for topic in topics:
        thread = int(topic["message_thread_id"])
        client.send_as_operator(group_id, thread, operator, "Thanks, we are on it.")
    updates: list[dict[str, Any]] = []
    while batch := client.bot_api("getUpdates", offset=0, limit=100, timeout=0):
        updates.extend(batch)
        client.bot_api("getUpdates", offset=batch[-1]["update_id"] + 1, limit=1, timeout=0)
    from topicdesk.handlers import webhook

    before = meter.usage.copy()
    with wb.quiet():
        for event in wb.webhook_events(updates):
            webhook.handler(event, FakeLambdaContext("webhook"))
    webhook_usage = meter.usage.minus(before)
    # Every update Telegram sent since: the answers and the service messages of the topics the
    # bot made (forum_topic_created), which the webhook queues as it would on AWS.
    consumer_out = wb.run_consumer(world, meter, emulator, len(updates))
    with wb.quiet():
        for event in disconnect_events(visitors):
            side.call(event)
            events.append(event)
    return WidgetRun(
        messages=total,
        edge_invocations=len(events),
        edge_own_ms=statistics.fmean(latency.own_ms),
        edge_cpu_ms=latency.cpu_seconds * 1000 / max(1, len(latency.own_ms)),
        edge_usage=side.spent,
        consumer_in=consumer_in,
        consumer_out=consumer_out,
        answers=len(topics),
        webhook_usage=webhook_usage,
    )


def _operator(emulator: Emulator, group_id: int) -> int:
    """The operators' group's first human administrator."""
    admins = emulator.client.bot_api("getChatAdministrators", chat_id=group_id)
    return next(int(a["user"]["id"]) for a in admins if not a["user"].get("is_bot"))


def report(widget_run: WidgetRun) -> str:
    n = widget_run.messages
    edge_per_message = widget_run.edge_invocations / n
    edge_ms = billed_ms(
        widget_run.edge_own_ms,
        widget_run.edge_cpu_ms,
        WIDGET_MEMORY_MB,
        wb.aws_rtt_ms(widget_run.edge_usage, widget_run.edge_invocations),
    )
    cin, cout = widget_run.consumer_in, widget_run.consumer_out
    answers = max(1, widget_run.answers)
    scale = ANSWERS_PER_MESSAGE / answers  # the answers' share, per visitor message

    usages = [(widget_run.edge_usage, 1 / n), (cin.usage, 1 / n), (cout.usage, scale)]
    usages.append((widget_run.webhook_usage, scale))
    cost = UpdateCost(
        functions=(
            LambdaUse(edge_per_message, edge_ms, WIDGET_MEMORY_MB),
            LambdaUse(cin.invocations / n, wb.consumer_billed_ms(cin), wb.CONSUMER_MEMORY_MB),
            LambdaUse(ANSWERS_PER_MESSAGE, 0.0, wb.WEBHOOK_MEMORY_MB),  # the answer's webhook
            LambdaUse(cout.invocations * scale, wb.consumer_billed_ms(cout), wb.CONSUMER_MEMORY_MB),
        ),
        sqs_requests=sum(u.sqs_billed_requests * f for u, f in usages),
        dynamodb_read_units=sum(u.dynamodb_read_units * f for u, f in usages),
        dynamodb_write_units=sum(u.dynamodb_write_units * f for u, f in usages),
        secrets_manager_calls=sum(u.count("secrets-manager") * f for u, f in usages),
    )
    pushes = cout.usage.count("apigatewaymanagementapi") * scale
    # Frames (model): the send and its ack, each answer pushed to one open page.
    frames = 2.0 + ANSWERS_PER_MESSAGE
    gateway = api_gateway_usd_per_million(frames)
    breakdown = {**cost.breakdown_per_million(), "api_gateway": gateway}
    total_usd = sum(breakdown.values())
    rows = [
        ("edge Lambda invocations per visitor message", f"{edge_per_message:.2f}"),
        ("edge Lambda billed ms per invocation (model)", f"{edge_ms:.2f}"),
        ("edge Lambda CPU per invocation, ms", f"{widget_run.edge_cpu_ms:.2f}"),
        (
            "edge DynamoDB RRU / WRU per message",
            f"{widget_run.edge_usage.dynamodb_read_units / n:.2f} / "
            f"{widget_run.edge_usage.dynamodb_write_units / n:.2f}",
        ),
        (
            "edge SQS FIFO requests per message",
            f"{widget_run.edge_usage.sqs_billed_requests / n:.2f}",
        ),
        (
            "consumer invocations / ms per message (visitor -> topic)",
            f"{cin.invocations / n:.2f} / {wb.consumer_billed_ms(cin) * cin.invocations / n:.2f}",
        ),
        (
            "consumer RRU / WRU per message (visitor -> topic)",
            f"{cin.usage.dynamodb_read_units / n:.2f} / {cin.usage.dynamodb_write_units / n:.2f}",
        ),
        (
            "Telegram calls per message (visitor -> topic)",
            f"{sum(cin.telegram_calls.values()) / n:.2f}",
        ),
        ("post_to_connection calls per answer (measured)", f"{pushes / ANSWERS_PER_MESSAGE:.2f}"),
        ("API Gateway WebSocket messages per visitor message (model)", f"{frames:.2f}"),
        ("cost per million visitor messages, USD (us-east-1, 1 answer each)", f"{total_usd:.2f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        "",
        f"widget path ({n} visitor messages, {widget_run.answers} answers; consumer: "
        f"{cin.updates} + {cout.updates} records, {cin.failed + cout.failed} failed):",
        "",
        f"| {'metric'.ljust(width)} | value |",
        f"|{'-' * (width + 2)}|------:|",
        *(f"| {name.ljust(width)} | {value} |" for name, value in rows),
        "",
        "widget cost breakdown per million visitor messages (USD): "
        + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()),
        f"API Gateway: ${APIGW_WEBSOCKET_MESSAGE_USD * 1e6:.2f}/M messages, "
        f"${APIGW_CONNECTION_MINUTE_USD * 1e6:.2f}/M connection-minutes, "
        f"{ASSUMED_CONNECTION_MINUTES_PER_MESSAGE:g} connection-minutes per message assumed",
        f"bench: widget_cost_per_million_usd={total_usd:.2f} "
        f"widget_edge_invocations_per_message={edge_per_message:.2f}",
    ]
    return "\n".join(lines)
