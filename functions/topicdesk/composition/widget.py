"""The widget edge's wiring: the data table, the limits table, the updates queue, the token
secret and the management API. Imports no Telegram library."""

from __future__ import annotations

import boto3

from topicdesk.adapters.aws import SqsUpdateQueue, read_secret
from topicdesk.adapters.dynamodb.sessions import DynamoSessionRepository
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.adapters.powertools import PowertoolsMetrics, SystemClock
from topicdesk.adapters.rate_limiter import DynamoTatStore
from topicdesk.adapters.widget_edge import ManagementApiControl
from topicdesk.domain.widget_edge import WidgetEdge
from topicdesk.domain.widget_tokens import TokenSigner, signing_keys
from topicdesk.runtime.widget import WidgetEdgeRuntime
from topicdesk.settings import WidgetEdgeSettings


def widget_edge_runtime(metrics: PowertoolsMetrics) -> WidgetEdgeRuntime:
    settings = WidgetEdgeSettings.from_env()
    dynamodb = boto3.resource("dynamodb")
    data = dynamodb.Table(settings.data_table)

    def signer() -> TokenSigner:
        # read_secret caches the value for a few minutes: a rotated key arrives by itself.
        return TokenSigner(signing_keys(read_secret(settings.token_secret_name)))

    edge = WidgetEdge(
        projects=settings.projects,
        store=DynamoWidgetConversations(data),
        queue=SqsUpdateQueue(boto3.client("sqs"), settings.updates_queue_url),
        limits=DynamoTatStore(dynamodb.Table(settings.limits_table)),
        signer=signer,
        metrics=metrics,
        clock=SystemClock(),
        pace=settings.pace,
        sessions=DynamoSessionRepository(data),  # the same table: no new grant
    )
    control = ManagementApiControl(
        boto3.client("apigatewaymanagementapi", endpoint_url=settings.connections_url)
    )
    return WidgetEdgeRuntime(edge=edge, control=control, metrics=metrics)
