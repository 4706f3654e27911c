"""Webhook Lambda (Function URL): check, enqueue, answer. No Telegram library imported.

Not traced by Powertools' Tracer (``traced=False``): the X-Ray SDK would be about half of this
function's cold import; Lambda's active tracing still records every invocation, and the trace
id still reaches SQS and the consumer (see ``lambda_entry``)."""

from __future__ import annotations

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.webhook import webhook_service

service, handler = lambda_entry(
    webhook_service, lambda webhook, event, _: webhook.handle(event), traced=False
)
