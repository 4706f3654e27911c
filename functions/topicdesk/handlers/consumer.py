"""Consumer Lambda (SQS FIFO updates queue): partial batch responses, idempotent updates."""

from __future__ import annotations

from topicdesk.adapters.powertools import lambda_entry
from topicdesk.composition.consumer import consumer_runtime
from topicdesk.runtime.consumer import ConsumerRuntime

runtime, handler = lambda_entry(consumer_runtime, ConsumerRuntime.handle)
