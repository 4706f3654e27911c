"""The webhook's wiring: SQS and the webhook secret. Imports no Telegram library, and neither
boto3 nor Powertools parameters: botocore's own session makes the two clients. boto3 adds
nothing a client needs (its resources and s3transfer, which ``boto3.compat`` imports: about
110 ms and 10 MiB of a cold start), and Powertools parameters imports boto3."""

from __future__ import annotations

import botocore.session

from topicdesk.adapters.aws import CachedSecret, SqsUpdateQueue
from topicdesk.adapters.powertools import PowertoolsMetrics
from topicdesk.runtime.webhook import WebhookService
from topicdesk.settings_base import WebhookSettings


def webhook_service(metrics: PowertoolsMetrics) -> WebhookService:
    settings = WebhookSettings.from_env()
    session = botocore.session.get_session()  # region and credentials from the environment
    secret = CachedSecret(session.create_client("secretsmanager"), settings.webhook_secret_name)
    return WebhookService(
        queue=SqsUpdateQueue(session.create_client("sqs"), settings.updates_queue_url),
        secret=secret,
        metrics=metrics,
        operator_chat_ids=frozenset(settings.operator_chat_ids),
        recheck_secret=secret.recheck,
    )
