"""The consumer's web widget wiring: the widget store, API Gateway's management API and the
visitor records' worker, present exactly when the stage has widget projects (its
``WIDGET_CONNECTIONS_URL`` is set)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from topicdesk.adapters.connections import ManagementApiPush
from topicdesk.adapters.dynamodb.widget import DynamoWidgetConversations
from topicdesk.domain.ports import StepLog
from topicdesk.domain.relay import Relay
from topicdesk.runtime.visitors import VisitorWork
from topicdesk.settings import ConsumerSettings


def widget_ports(
    settings: ConsumerSettings, table: Any
) -> tuple[DynamoWidgetConversations | None, ManagementApiPush | None]:
    """The relay's ``widget`` and ``push`` (both None without widget projects)."""
    if settings.widget_connections_url is None:
        return None, None
    client = boto3.client("apigatewaymanagementapi", endpoint_url=settings.widget_connections_url)
    return DynamoWidgetConversations(table), ManagementApiPush(client)


def visitor_work(
    settings: ConsumerSettings,
    *,
    loop: asyncio.AbstractEventLoop,
    relay: Relay,
    step_log: StepLog,
) -> VisitorWork | None:
    if settings.widget_connections_url is None:
        return None
    return VisitorWork(
        loop=loop,
        relay=relay,
        step_log=step_log,
        persistence=DynamoDBPersistenceLayer(table_name=settings.idempotency_table),
    )
