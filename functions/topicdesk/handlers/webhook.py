"""Webhook Lambda (Function URL): check, enqueue, answer. No Telegram library imported."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.webhook import webhook_service

service, handler = lambda_entry(
    webhook_service, lambda webhook, event, _: webhook.handle(LambdaFunctionUrlEvent(event))
)
