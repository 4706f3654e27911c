"""The webhook's wiring: SQS and the webhook secret. Imports no Telegram library."""

from __future__ import annotations

from functools import partial

import boto3

from topicdesk.adapters.aws import SqsUpdateQueue, read_secret
from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.runtime.webhook import WebhookService
from topicdesk.settings import WebhookSettings


def webhook_service(metrics: PowertoolsMetrics) -> WebhookService:
    settings = WebhookSettings.from_env()
    return WebhookService(
        queue=SqsUpdateQueue(boto3.client("sqs"), settings.updates_queue_url),
        secret=partial(read_secret, settings.webhook_secret_name),
        metrics=metrics,
        operator_chat_ids=frozenset(settings.operator_chat_ids),
    )
